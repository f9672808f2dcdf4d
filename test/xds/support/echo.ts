// Real gRPC echo servers for the xDS tests: each answers with its own id, and can be told to fail every other
// call or every call (UNAVAILABLE), or to answer late. Raw bytes in and out: no proto needed on either side.
import * as grpc from "@grpc/grpc-js";

/** The one method of the echo service. */
export const ECHO_METHOD = "/amphi.test.Echo/Call";

const identity = (b: Buffer) => b;
const definition: grpc.ServiceDefinition = {
  Call: { path: ECHO_METHOD, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};

/** How an echo server answers. */
export type EchoMode = { kind: "ok" } | { kind: "fail-every-other" } | { kind: "fail-all" } | { kind: "slow"; delayMs: number };

/** A running echo server. */
export interface Echo {
  id: string;
  address: string;
  port: number;
  /** Calls received (failed ones included). */
  calls: number;
  mode: EchoMode;
  close(): Promise<void>;
}

/** Starts an echo server on `address` (a 127.0.0.x), port 0. */
export async function startEcho(id: string, address: string, mode: EchoMode = { kind: "ok" }): Promise<Echo> {
  const server = new grpc.Server();
  const echo: Echo = { id, address, port: 0, calls: 0, mode, close: () => new Promise((r) => server.tryShutdown(() => r())) };
  server.addService(definition, {
    Call: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      echo.calls++;
      const m = echo.mode;
      if (m.kind === "fail-every-other" && echo.calls % 2 === 1) return cb({ code: grpc.status.UNAVAILABLE, details: `${id} fails this one` });
      if (m.kind === "fail-all") return cb({ code: grpc.status.UNAVAILABLE, details: `${id} fails every call` });
      if (m.kind === "slow") return void setTimeout(() => cb(null, Buffer.from(id)), m.delayMs);
      cb(null, Buffer.from(id));
    },
  });
  echo.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${address}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  return echo;
}
