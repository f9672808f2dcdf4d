// A node:test reporter that prints, once every test has run, each failed test with its file, suite path and first
// error line, so nobody scrolls TAP to find them. test/run.mjs runs it beside the TAP reporter.
import { relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;

export default async function* failures(source) {
  const stacks = new Map(); // file → names of the tests open at each nesting level
  const failed = [];
  for await (const ev of source) {
    const { name, nesting, file } = ev.data ?? {};
    if (ev.type === "test:start") {
      const stack = stacks.get(file) ?? [];
      stack.length = nesting;
      stack.push(name);
      stacks.set(file, stack);
    } else if (ev.type === "test:fail") {
      // a suite fails when one of its tests does: that test is listed already
      if (ev.data.details?.type === "suite" && /subtests? failed$/.test(String(ev.data.details?.error?.message ?? ""))) continue;
      const path = [...(stacks.get(file) ?? []).slice(0, nesting), name].join(" > ");
      // no line number: under tsx it is the transpiled file's, not the source's
      const where = file ? relative(root, file) : "(no file)";
      failed.push(`  ${where}  ${path}\n      ${firstLine(ev.data.details?.error)}`);
    }
  }
  yield failed.length === 0 ? "\nno test failed\n" : `\n${failed.length} failed test${failed.length === 1 ? "" : "s"}:\n${failed.join("\n")}\n`;
}

function firstLine(error) {
  const e = error?.cause ?? error;
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return text.split("\n").find((l) => l.trim() !== "")?.slice(0, 300) ?? "";
}
