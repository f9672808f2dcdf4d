// Looking up an environment of a loaded model by name.
import { compareStrings } from "./order.js";
import { InputError } from "./problem.js";
import type { EnvironmentModel, Model } from "./spec.js";

/** The environment named `name`; an unknown name throws an InputError naming it and the known ones
 * (`unknown environment "prdo" (known: prod, staging)`). `where` (`in main@3f1a2b`) says which config was read. */
export function findEnvironment(model: Model, name: string, where?: string): EnvironmentModel {
  const env = model.environments.find((e) => e.name === name);
  if (env) return env;
  const known = model.environments.map((e) => e.name).sort(compareStrings);
  const list = known.length === 0 ? "none are defined" : `known: ${known.join(", ")}`;
  throw new InputError(`unknown environment "${name}"${where ? ` ${where}` : ""} (${list})`);
}
