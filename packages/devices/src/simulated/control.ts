import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@rpi-swarming/core";
import { conditionPatchSchema } from "./options.js";
import type { SimulatedPhone } from "./phone.js";

const MAX_BODY = 64 * 1024;

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * Fault injection for the simulated phone, on loopback only:
 * `GET /control` shows its condition, `POST /control` with a JSON patch
 * (batteryRatio, charging, batteryTemperatureCelsius, cpuTemperatureCelsius,
 * unplugged, unauthorized, offline, hung, reboot) changes it.
 */
export function startControlServer(
  phone: SimulatedPhone,
  host: string,
  port: number,
  log: Logger,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.error({ err }, "control request failed");
      if (!res.headersSent) reply(res, 500, { error: "InternalError", message: String(err) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/control") {
      reply(res, 404, { error: "NotFoundError", message: `no route for ${req.method} ${path}; use /control` });
      return;
    }
    if (req.method === "GET") {
      reply(res, 200, phone.condition());
      return;
    }
    if (req.method !== "POST") {
      reply(res, 405, { error: "MethodNotAllowedError", message: "use GET or POST /control" });
      return;
    }
    const text = await readBody(req);
    if (text === null) {
      reply(res, 413, { error: "PayloadTooLargeError", message: `body over ${MAX_BODY} bytes` });
      return;
    }
    let json: unknown;
    try {
      json = text.trim() === "" ? {} : JSON.parse(text);
    } catch (err) {
      reply(res, 400, { error: "InvalidInputError", message: `body is not valid JSON: ${(err as Error).message}` });
      return;
    }
    const parsed = conditionPatchSchema.safeParse(json);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
      reply(res, 400, { error: "InvalidInputError", message });
      return;
    }
    const condition = phone.apply(parsed.data);
    log.info({ patch: parsed.data, condition }, "simulated device condition changed");
    reply(res, 200, condition);
  }

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const bound = (server.address() as AddressInfo).port;
      resolve({ server, url: `http://${host}:${bound}/control` });
    });
  });
}
