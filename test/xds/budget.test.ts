// The send budget (src/adapters/xds/budget.ts): bytes in flight across streams stay within the limit (one
// response larger than it still goes alone), waiting responses go first come first served, each stream sends in
// order and one at a time, and a closed stream gives back what it held.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SendBudget, StreamSender } from "../../src/adapters/xds/budget.js";

/** A stream whose writes complete only when the test says (as a socket that has not flushed yet). */
function stream(budget: SendBudget, log: string[]) {
  const pending: (() => void)[] = [];
  const sender = new StreamSender<string>(budget, (m, done) => {
    log.push(m);
    pending.push(done);
  });
  return { sender, flush: () => pending.shift()!() };
}

describe("send budget", () => {
  it("holds responses beyond the limit until earlier ones are flushed, in arrival order", () => {
    const budget = new SendBudget(100);
    const log: string[] = [];
    const a = stream(budget, log);
    const b = stream(budget, log);
    a.sender.send("a1", 60);
    b.sender.send("b1", 60);
    a.sender.send("a2", 10);
    assert.deepEqual(log, ["a1"], "b1 does not fit; a2 waits behind a1 on its stream");
    assert.equal(budget.used, 60);
    a.flush();
    assert.deepEqual(log, ["a1", "b1", "a2"]);
    assert.equal(budget.used, 70);
    b.flush();
    a.flush();
    assert.equal(budget.used, 0);
  });

  it("lets one response larger than the limit go when nothing else is in flight", () => {
    const budget = new SendBudget(100);
    const log: string[] = [];
    const a = stream(budget, log);
    a.sender.send("big", 500);
    assert.deepEqual(log, ["big"]);
    a.flush();
    assert.equal(budget.used, 0);
  });

  it("a closed stream gives back what it held and drops what it queued, so the others go on", () => {
    const budget = new SendBudget(100);
    const log: string[] = [];
    const a = stream(budget, log);
    const b = stream(budget, log);
    a.sender.send("a1", 90);
    a.sender.send("a2", 90);
    b.sender.send("b1", 90);
    a.sender.close();
    assert.deepEqual(log, ["a1", "b1"]);
    a.flush(); // a late flush of the closed stream's write changes nothing
    assert.equal(budget.used, 90);
    b.flush();
    assert.equal(budget.used, 0);
    a.sender.send("a3", 10);
    assert.deepEqual(log, ["a1", "b1"], "nothing is sent on a closed stream");
  });
});
