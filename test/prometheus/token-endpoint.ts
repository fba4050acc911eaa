/**
 * A GCE-metadata-shaped OAuth token endpoint on loopback for the monitoring
 * test, which can be switched to failing (HTTP 503) and back, and the
 * `oauth2_access_token_config.json` that points at it.
 */

import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface TokenEndpoint {
  readonly url: string;
  /** Requests answered so far, by outcome. */
  readonly served: { ok: number; failed: number };
  setFailing(failing: boolean): void;
  /** Writes the token config naming this endpoint to `path`. */
  writeConfig(path: string): void;
  close(): Promise<void>;
}

export async function startTokenEndpoint(lifetimeSeconds: number): Promise<TokenEndpoint> {
  let failing = false;
  const served = { ok: 0, failed: 0 };
  const server: Server = createServer((req, res) => {
    req.resume();
    if (failing) {
      served.failed += 1;
      res.writeHead(503, { "content-type": "text/plain" }).end("token service unavailable (test fault)\n");
      return;
    }
    served.ok += 1;
    const body = JSON.stringify({ access_token: "e2e-test-token", expires_in: lifetimeSeconds, token_type: "Bearer" });
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/computeMetadata/v1/instance/service-accounts/default/token`;
  return {
    url,
    served,
    setFailing(f) {
      failing = f;
    },
    writeConfig(path) {
      writeFileSync(path, JSON.stringify({ url, headers: { "Metadata-Flavor": "Google" } }));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
