// Loaded (--import) into every test file of `npm run test:quick`: the quick suites start no process (no git, sshd,
// kubectl, iptables, chromium, shell), so starting one fails at once, naming the command, instead of the quick list
// slowly filling with slow files. A file that needs a process belongs out of QUICK in test/suites.mjs.
import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";

// The driver (test/drive.mjs) starts the test files: only the test files' processes (run() marks them with
// NODE_TEST_CONTEXT) are guarded.
if (process.env.NODE_TEST_CONTEXT !== undefined) {
  // amphi's own spawns go through src/adapters/process/spawn.ts, which uses a native addon (posix_spawn) when it
  // loads: off here, so they reach child_process and the guard below.
  process.env.AMPHI_SPAWN = "fork";
  for (const name of ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"]) {
    childProcess[name] = (command, args) => {
      const argv = Array.isArray(args) ? ` ${args.join(" ")}` : "";
      throw new Error(`test:quick runs no process, but this test started \`${String(command)}${argv}\`: move its file out of QUICK in test/suites.mjs`);
    };
  }
  syncBuiltinESMExports();
}
