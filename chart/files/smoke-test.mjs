// `helm test`: checks both processes of every pod behind the headless Service.
// Runs with the project image's Node.js; no dependencies.
import { lookup } from "node:dns/promises";

const host = process.env.TARGET_SERVICE;
const supervisorPort = Number(process.env.SUPERVISOR_PORT);
const statePort = Number(process.env.STATE_SERVER_PORT);
const failures = [];

async function get(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

async function check(label, url, expect) {
  try {
    const { status, body } = await get(url);
    const problem = status !== 200 ? `HTTP ${status}` : expect && !body.includes(expect) ? `no ${expect} in reply` : "";
    if (problem) failures.push(`${label} ${url}: ${problem}`);
    console.log(`${problem ? "FAIL" : "ok  "} ${label} ${url}${problem ? `: ${problem}` : ""}`);
  } catch (err) {
    failures.push(`${label} ${url}: ${err.message}`);
    console.log(`FAIL ${label} ${url}: ${err.message}`);
  }
}

let addresses = [];
try {
  addresses = (await lookup(host, { all: true })).map((a) => (a.family === 6 ? `[${a.address}]` : a.address));
} catch (err) {
  console.log(`FAIL no pod behind ${host}: ${err.message}`);
  process.exit(1);
}
console.log(`${addresses.length} pod(s) behind ${host}`);
for (const ip of addresses) {
  await check("supervisor health", `http://${ip}:${supervisorPort}/healthz`);
  await check("supervisor metrics", `http://${ip}:${supervisorPort}/metrics`, "rpi_swarming_bot_up");
  await check("state server ready (first device probe done)", `http://${ip}:${statePort}/readyz`);
  await check("state server metrics", `http://${ip}:${statePort}/metrics`, "rpi_swarming_device_up");
}
if (failures.length > 0) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
