import { readFileSync } from "node:fs";

/** The project version, from the repository's top-level package.json (kept in step by the release process). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
