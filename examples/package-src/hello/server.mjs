// A tiny HTTP service used by amphi's examples: answers GET /health and echoes its identity.
// Usage: node server.mjs <port> [<name>]   (PORT and APP_NAME are read from the environment too)
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const name = process.argv[3] ?? process.env.APP_NAME ?? "hello";
const version = process.env.APP_VERSION ?? "dev";
const healthy = process.env.HEALTHY !== "false";

createServer((req, res) => {
  if (req.url === "/health" || req.url === "/healthz") {
    res.writeHead(healthy ? 200 : 503, { "content-type": "text/plain" });
    res.end(healthy ? "ok\n" : "unhealthy\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ name, version, path: req.url }) + "\n");
}).listen(port, process.env.BIND ?? "0.0.0.0", () => {
  process.stdout.write(`${name} ${version} listening on ${port}\n`);
});
