// A proxyless gRPC client in its own process (the xds resolver keeps global state per process): @grpc/grpc-js with
// @grpc/grpc-js-xds registered, bootstrapped from GRPC_XDS_BOOTSTRAP_CONFIG. Reads one JSON command per line on
// stdin, answers one JSON line per command on stdout:
//   {"id":1,"op":"calls","target":"xds:///echo:50051","n":100,"deadlineMs":5000}
//     → {"id":1,"by":{"<server id>":n},"errors":{"<grpc code>":n},"ms":[…per call…]}
//   {"id":3,"op":"parallel",…,"spacingMs":20} → like "calls", the n calls started spacingMs apart, not waiting
//   {"id":2,"op":"watch","target":…,"durationMs":3000,"spacingMs":20} → {"id":2,"log":[[epochMs,"<server id>"|"!<code>"],…]}
//     (calls one after the other, each starting at least spacingMs after the one before: back to back, a watch kept
//     a core busy with ~1,000 calls a second, and the echo servers with it, for what is judged in seconds)
import * as readline from "node:readline";
import * as grpc from "@grpc/grpc-js";
import * as xds from "@grpc/grpc-js-xds";

const ECHO_METHOD = "/amphi.test.Echo/Call";
xds.register();
const clients = new Map<string, grpc.Client>();

function clientFor(target: string): grpc.Client {
  let c = clients.get(target);
  if (!c) {
    c = new grpc.Client(target, grpc.credentials.createInsecure());
    clients.set(target, c);
  }
  return c;
}

function call(target: string, deadlineMs: number): Promise<{ server: string | null; code: number; ms: number; details: string }> {
  const start = Date.now();
  return new Promise((resolve) => {
    clientFor(target).makeUnaryRequest(ECHO_METHOD, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), { deadline: Date.now() + deadlineMs }, (err, res) => {
      resolve({ server: err ? null : res!.toString(), code: err ? (err.code ?? -1) : 0, ms: Date.now() - start, details: err?.details ?? "" });
    });
  });
}

async function run(cmd: any): Promise<object> {
  const deadlineMs = cmd.deadlineMs ?? 10_000;
  if (cmd.op === "calls") {
    const by: Record<string, number> = {};
    const errors: Record<string, number> = {};
    const ms: number[] = [];
    for (let i = 0; i < cmd.n; i++) {
      const r = await call(cmd.target, deadlineMs);
      if (r.server) by[r.server] = (by[r.server] ?? 0) + 1;
      else errors[r.code] = (errors[r.code] ?? 0) + 1;
      ms.push(r.ms);
    }
    return { by, errors, ms };
  }
  if (cmd.op === "parallel") {
    const spacing = cmd.spacingMs ?? 0;
    const results = await Promise.all(Array.from({ length: cmd.n }, (_, i) => new Promise((r) => setTimeout(r, i * spacing)).then(() => call(cmd.target, deadlineMs))));
    const by: Record<string, number> = {};
    const errors: Record<string, number> = {};
    for (const r of results) {
      if (r.server) by[r.server] = (by[r.server] ?? 0) + 1;
      else errors[r.code] = (errors[r.code] ?? 0) + 1;
    }
    return { by, errors, ms: results.map((r) => r.ms) };
  }
  if (cmd.op === "watch") {
    const log: [number, string][] = [];
    const end = Date.now() + cmd.durationMs;
    const spacing = cmd.spacingMs ?? 0;
    while (Date.now() < end) {
      const r = await call(cmd.target, deadlineMs);
      log.push([Date.now(), r.server ?? `!${r.code} ${r.details}`]);
      if (r.ms < spacing) await new Promise((res) => setTimeout(res, spacing - r.ms));
    }
    return { log };
  }
  return { error: `unknown op ${cmd.op}` };
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const cmd = JSON.parse(line);
  void run(cmd).then((out) => process.stdout.write(JSON.stringify({ id: cmd.id, ...out }) + "\n"));
});
rl.on("close", () => {
  for (const c of clients.values()) c.close();
  process.exit(0);
});
