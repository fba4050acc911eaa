import { setting } from "@rpi-swarming/core";
import { z } from "zod";

const httpRequestSchema = z
  .object({
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).default("POST"),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), "an http:// or https:// URL"),
    headers: z.record(z.string().min(1), z.string()).default({}),
    body: z.string().max(65_536).optional(),
  })
  .strict();

/** The powerHttp setting: the request that switches the power off, the one that switches it on. */
export const powerHttpSchema = z
  .object({ off: httpRequestSchema, on: httpRequestSchema, timeoutSeconds: z.number().positive().max(300).default(10) })
  .strict();

const argvTemplate = z.array(z.string()).min(1, "name the program and its arguments").max(64);

/** How a device that no longer answers is power-cycled (docs/power-cycling.md). */
export const powerSettings = {
  powerController: setting(
    "string",
    z.enum(["none", "uhubctl", "command", "http"]).default("none"),
    "how the recovery ladder cuts the device's power before quarantine: none, uhubctl (USB hub port), command (a program of yours), http (smart plug, PDU, PoE switch)",
  ),
  uhubctlPath: setting(
    "string",
    z.string().min(1).default("uhubctl"),
    "uhubctl binary (name on PATH or absolute path)",
  ),
  powerHubLocation: setting(
    "string",
    z
      .string()
      .regex(/^\d+(-\d+(\.\d+)*)?$/, "a uhubctl hub location such as 1-1 or 2-1.4")
      .optional(),
    "uhubctl hub location (as `uhubctl` lists it, e.g. 1-1) of the device's port; with powerHubPort. Default: from the device's USB path (adb devices -l), or for iOS found by uhubctl -s <UDID>",
  ),
  powerHubPort: setting(
    "number",
    z.number().int().min(1).max(14).optional(),
    "port number on powerHubLocation's hub (1-14); also {port} of the power commands",
  ),
  powerHubGanged: setting(
    "boolean",
    z.boolean().default(false),
    "the hub switches all its ports together (every Raspberry Pi's own ports): uhubctl runs with -f and every device on that hub loses power",
  ),
  powerOffCommand: setting(
    "list",
    argvTemplate.optional(),
    'powerController command: program and arguments (JSON list, no shell) that cut the power; {serial}, {hub}, {port} are replaced inside an argument, e.g. ["/usr/local/bin/relay","off","{port}"]',
  ),
  powerOnCommand: setting(
    "list",
    argvTemplate.optional(),
    "powerController command: program and arguments that restore the power (as powerOffCommand)",
  ),
  powerHttp: setting(
    "map",
    powerHttpSchema.optional(),
    'powerController http: {"off": {method, url, headers, body}, "on": {...}, "timeoutSeconds": 10} (JSON or YAML); never logged, since headers may carry a token',
    { secret: true },
  ),
  powerOffSeconds: setting(
    "number",
    z.number().min(0).max(600).default(5),
    "how long the power stays off during a power cycle",
  ),
  powerSettleSeconds: setting(
    "number",
    z.number().positive().max(3600).default(180),
    "a device not answering this long after its power returns is quarantined (reboot_timeout)",
  ),
  powerCyclesPerHour: setting(
    "number",
    z.number().int().min(0).max(60).default(2),
    "cap: at most this many power cycles of the device in any hour (the ladder quarantines instead; 0: the ladder never power-cycles)",
  ),
  powerCycleCooldownSeconds: setting(
    "number",
    z.number().min(0).max(86_400).default(900),
    "at least this long between two power cycles of the device; earlier, the ladder quarantines instead",
  ),
};
