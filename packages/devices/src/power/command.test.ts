import { describe, expect, it } from "vitest";
import { fillTemplate } from "./command.js";

describe("fillTemplate", () => {
  it("replaces placeholders inside each argument, never splitting or joining arguments", () => {
    const serial = "8A2Y 0B3C; rm -rf /";
    expect(
      fillTemplate(["/usr/local/bin/relay", "--device={serial}", "{hub}:{port}", "{serial}"], {
        serial,
        hub: "1-1",
        port: "2",
      }),
    ).toEqual(["/usr/local/bin/relay", `--device=${serial}`, "1-1:2", serial]);
  });

  it("leaves unknown values empty and other braces alone", () => {
    expect(fillTemplate(["x", "{port}", "{other}", "{{serial}}"], { serial: "S" })).toEqual([
      "x",
      "",
      "{other}",
      "{S}",
    ]);
  });
});
