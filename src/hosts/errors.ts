// Errors of host tasks: the subject (host) first, then the cause.

/** A host task failed. `rolledBack` says whether the host was returned to its previous release. */
export class TaskError extends Error {
  constructor(
    readonly host: string,
    readonly causeText: string,
    readonly rolledBack = false,
  ) {
    super(`${host}: ${causeText}`);
    this.name = "TaskError";
  }
}
