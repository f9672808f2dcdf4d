// findEnvironment: the one lookup of an environment by name (render, the CLI).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findEnvironment, InputError } from "../../src/model/index.js";
import { modelFixture } from "../support/model-fixture.js";

describe("findEnvironment", () => {
  const model = modelFixture();

  it("returns the environment of that name", () => {
    assert.equal(findEnvironment(model, "prod").name, "prod");
  });

  it("throws an InputError naming the name and the known ones, sorted", () => {
    const two = { ...model, environments: [{ ...model.environments[0]!, name: "staging" }, ...model.environments] };
    assert.throws(() => findEnvironment(two, "prdo"), (e: unknown) => e instanceof InputError && e.message === 'unknown environment "prdo" (known: prod, staging)');
    assert.throws(() => findEnvironment({ ...model, environments: [] }, "prod"), { message: 'unknown environment "prod" (none are defined)' });
  });

  it("says which config was read when told", () => {
    assert.throws(() => findEnvironment(model, "qa", "in main@3f1a2b"), { message: 'unknown environment "qa" in main@3f1a2b (known: prod)' });
  });
});
