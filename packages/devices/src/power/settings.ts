import { setting } from "@rpi-swarming/core";
import * as z from "zod/mini";

const httpRequestSchema = z.strictObject({
  method: z._default(z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]), "POST"),
  url: z.url().check(z.refine((u) => /^https?:\/\//i.test(u), "an http:// or https:// URL")),
  headers: z._default(z.record(z.string().check(z.minLength(1)), z.string()), {}),
  body: z.optional(z.string().check(z.maxLength(65_536))),
});

/** The powerHttp setting: the request that switches the power off, the one that switches it on. */
export const powerHttpSchema = z.strictObject({
  off: httpRequestSchema,
  on: httpRequestSchema,
  timeoutSeconds: z._default(z.number().check(z.positive(), z.lte(300)), 10),
});

const argvTemplate = z.array(z.string()).check(z.minLength(1, "name the program and its arguments"), z.maxLength(64));

/** How a device that no longer answers is power-cycled (docs/power-cycling.md). */
export const powerSettings = {
  powerController: setting(
    "string",
    z._default(z.enum(["none", "uhubctl", "command", "http"]), "none"),
    "how the recovery ladder cuts the device's power before quarantine: none, uhubctl (USB hub port), command (a program of yours), http (smart plug, PDU, PoE switch)",
  ),
  uhubctlPath: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "uhubctl"),
    "uhubctl binary (name on PATH or absolute path)",
  ),
  powerHubLocation: setting(
    "string",
    z.optional(z.string().check(z.regex(/^\d+(-\d+(\.\d+)*)?$/, "a uhubctl hub location such as 1-1 or 2-1.4"))),
    "uhubctl hub location (as `uhubctl` lists it, e.g. 1-1) of the device's port; with powerHubPort. Default: from the device's USB path (adb devices -l), or for iOS found by uhubctl -s <UDID>",
  ),
  powerHubPort: setting(
    "number",
    z.optional(z.int().check(z.gte(1), z.lte(14))),
    "port number on powerHubLocation's hub (1-14); also {port} of the power commands",
  ),
  powerHubGanged: setting(
    "boolean",
    z._default(z.boolean(), false),
    "the hub switches all its ports together (every Raspberry Pi's own ports): uhubctl runs with -f and every device on that hub loses power",
  ),
  powerOffCommand: setting(
    "list",
    z.optional(argvTemplate),
    'powerController command: program and arguments (JSON list, no shell) that cut the power; {serial}, {hub}, {port} are replaced inside an argument, e.g. ["/usr/local/bin/relay","off","{port}"]',
  ),
  powerOnCommand: setting(
    "list",
    z.optional(argvTemplate),
    "powerController command: program and arguments that restore the power (as powerOffCommand)",
  ),
  powerHttp: setting(
    "map",
    z.optional(powerHttpSchema),
    'powerController http: {"off": {method, url, headers, body}, "on": {...}, "timeoutSeconds": 10} (JSON or YAML); never logged, since headers may carry a token',
    { secret: true },
  ),
  powerOffSeconds: setting(
    "number",
    z._default(z.number().check(z.gte(0), z.lte(600)), 5),
    "how long the power stays off during a power cycle",
  ),
  powerSettleSeconds: setting(
    "number",
    z._default(z.number().check(z.positive(), z.lte(3600)), 180),
    "a device not answering this long after its power returns is quarantined (reboot_timeout)",
  ),
  powerCyclesPerHour: setting(
    "number",
    z._default(z.int().check(z.gte(0), z.lte(60)), 2),
    "cap: at most this many power cycles of the device in any hour (the ladder quarantines instead; 0: the ladder never power-cycles)",
  ),
  powerCycleCooldownSeconds: setting(
    "number",
    z._default(z.number().check(z.gte(0), z.lte(86_400)), 900),
    "at least this long between two power cycles of the device; earlier, the ladder quarantines instead",
  ),
};
