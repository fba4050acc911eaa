import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import "./zod-messages.js";

// This file loads zod/mini only (vitest gives each file its own module graph): no classic to set English.
describe("zod/mini with core's messages", () => {
  it("says what was expected and what came, as zod classic does", () => {
    expect(z.number().safeParse("soon").error?.issues[0]?.message).toBe(
      "Invalid input: expected number, received string",
    );
    expect(z.strictObject({}).safeParse({ foo: 1 }).error?.issues[0]?.message).toBe('Unrecognized key: "foo"');
    expect(z.string().check(z.maxLength(2)).safeParse("abc").error?.issues[0]?.message).toBe(
      "Too big: expected string to have <=2 characters",
    );
  });
});
