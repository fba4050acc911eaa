import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { renamedErrorClasses } from "./error-names.js";

const work = mkdtempSync(join(tmpdir(), "error-names-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("renamedErrorClasses", () => {
  it("passes error classes that kept their names", () => {
    const code =
      "var RpiSwarmingError=class extends Error{},ConfigError=class extends RpiSwarmingError{};class BotCodeError extends RpiSwarmingError{}";
    expect(renamedErrorClasses(code)).toEqual([]);
  });

  it("finds subclasses and the base class esbuild renamed, in either form", () => {
    const code =
      "var ConfigError2=class extends RpiSwarmingError{};class LockedError3 extends RpiSwarmingError2{};var RpiSwarmingError2=class extends Error{}";
    expect(renamedErrorClasses(code)).toEqual(["ConfigError2", "LockedError3", "RpiSwarmingError2"]);
  });

  it("leaves other libraries' renamed classes alone", () => {
    expect(renamedErrorClasses("var CommanderError2=class extends Error{};var HttpError2=class{}")).toEqual([]);
  });

  it("catches the rename esbuild makes when two modules of one bundle declare the same error class", async () => {
    writeFileSync(
      join(work, "errors.js"),
      "export class RpiSwarmingError extends Error { constructor(m) { super(m); this.name = new.target.name; } }\n",
    );
    writeFileSync(
      join(work, "a.js"),
      'import { RpiSwarmingError } from "./errors.js";\nexport class ConfigError extends RpiSwarmingError {}\n',
    );
    writeFileSync(
      join(work, "b.js"),
      'import { RpiSwarmingError } from "./errors.js";\nexport class ConfigError extends RpiSwarmingError {}\n',
    );
    writeFileSync(
      join(work, "entry.js"),
      'export { ConfigError } from "./a.js";\nexport { ConfigError as Other } from "./b.js";\n',
    );
    const out = await build({
      entryPoints: [join(work, "entry.js")],
      bundle: true,
      write: false,
      format: "esm",
      minifyWhitespace: true,
      minifySyntax: true,
    });
    const code = out.outputFiles[0]?.text ?? "";
    expect(renamedErrorClasses(code)).toEqual(["ConfigError2"]);
  });
});
