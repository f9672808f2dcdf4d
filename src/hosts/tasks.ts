// Host tasks: deploy, start, stop, restart, undeploy, probe — each through one HostSession, idempotent,
// failing with a TaskError that names the app and the cause. The host-side logic is POSIX sh in ./scripts.
export { deploy, type DeployOptions } from "./deploy.js";
export { start, stop, restart } from "./lifecycle.js";
export { undeploy } from "./undeploy.js";
export { probe, type HostProbe } from "./probe.js";
export { systemdUnit, unitName, unitPath } from "./systemd.js";
export { envFileText, shellQuote } from "./env-file.js";
export {
  DEFAULT_STOP_GRACE_MS,
  releaseName,
  subjectOf,
  type ProcessOptions,
  type TaskContext,
  type TaskOutcome,
} from "./task.js";
export { TaskError } from "./errors.js";
