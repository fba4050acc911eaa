import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the fake plug received. */
export interface PlugRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/**
 * A smart plug's HTTP API on 127.0.0.1 (a free port): records every request
 * and switches `on` with `/off` and `/on` paths. `failWith` makes it answer
 * that status; `hang` makes it never answer.
 */
export class FakePlug {
  readonly requests: PlugRequest[] = [];
  on = true;
  failWith: number | undefined;
  hang = false;
  readonly #server: Server;
  #url = "";

  private constructor() {
    this.#server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        this.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
        if (this.hang) return;
        if (this.failWith) {
          res.writeHead(this.failWith, { "content-type": "text/plain" }).end("relay busy\n");
          return;
        }
        const path = (req.url ?? "").split("?")[0] ?? "";
        if (path.endsWith("/off")) this.on = false;
        if (path.endsWith("/on")) this.on = true;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ison: this.on }));
      });
    });
  }

  static async start(): Promise<FakePlug> {
    const plug = new FakePlug();
    await new Promise<void>((resolve) => plug.#server.listen(0, "127.0.0.1", resolve));
    plug.#url = `http://127.0.0.1:${(plug.#server.address() as AddressInfo).port}`;
    return plug;
  }

  get url(): string {
    return this.#url;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
