// Runs the chart's `helm test` script (chart/files/smoke-test.mjs) against a
// stand-in pod: two HTTP servers on free loopback ports that answer like the
// supervisor and the state server. Usage: node smoke-test-check.mjs healthy|not-ready
// Exits 0 when the script's verdict matches (passes a healthy pod, fails one that is not ready).
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const mode = process.argv[2];
const script = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "files", "smoke-test.mjs");

function serve(routes) {
  const server = createServer((req, res) => {
    const route = routes[req.url ?? ""];
    res.writeHead(route ? route[0] : 404, { "content-type": "text/plain" });
    res.end(route ? route[1] : "not found");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const supervisor = await serve({
  "/healthz": [200, "ok"],
  "/metrics": [200, 'rpi_swarming_bot_up{bot_id="pi1"} 1\n'],
});
const state = await serve({
  "/healthz": [200, "ok"],
  "/readyz": mode === "healthy" ? [200, "ok"] : [503, "no probe yet"],
  "/metrics": [200, 'rpi_swarming_device_up{bot_id="pi1"} 1\n'],
});
const env = {
  ...process.env,
  TARGET_SERVICE: "127.0.0.1",
  SUPERVISOR_PORT: String(supervisor.address().port),
  STATE_SERVER_PORT: String(state.address().port),
};
execFile(process.execPath, [script], { env, timeout: 30_000 }, (err, stdout) => {
  supervisor.close();
  state.close();
  process.stdout.write(stdout);
  const passed = !err;
  const want = mode === "healthy";
  if (passed !== want) {
    console.log(`smoke test ${passed ? "passed" : "failed"} on a ${mode} pod; expected the opposite`);
    process.exit(1);
  }
  if (!want && !stdout.includes("HTTP 503")) {
    console.log("the failure does not name the HTTP 503 of /readyz");
    process.exit(1);
  }
});
