import { type ConfigOf, type commonSettings, setting } from "@rpi-swarming/core";
import cron from "node-cron";
import * as z from "zod/mini";

const seconds = (def: number, min = 0) => z._default(z.number().check(z.gte(min)), def);

/** Settings of `rpi-swarming supervisor` (plus the common ones). */
export const supervisorSettings = {
  swarmingServer: setting(
    "string",
    z.pipe(
      z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://chromium-swarm.appspot.com" }),
      z.transform((u) => u.replace(/\/+$/, "")),
    ),
    "Swarming server URL the bot code comes from (required)",
    { env: "SWARMING_SERVER" },
  ),
  botDir: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "/b/s"),
    "the bot's own directory (the bot deletes unknown files there)",
  ),
  sharedDir: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "/b/shared"),
    "directory outside the bot dir for the bot's pid record and reboot requests (the supervisor lock is <botDir>.lock)",
  ),
  botCodeDir: setting(
    "string",
    z.optional(z.string().check(z.minLength(1))),
    "directory for partial downloads and the last verified bot code: outside the bot dir, on its filesystem and mount so the rename into it is atomic (default: bot-code beside the bot dir)",
  ),
  python: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "python3"),
    "Python 3 interpreter that runs the bot",
  ),
  tokenConfig: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "/etc/swarming_config/oauth2_access_token_config.json"),
    'OAuth token config {"url", "headers"}; missing file = no auth',
  ),
  updateSchedule: setting(
    "string",
    z
      ._default(z.string(), "*/30 * * * *")
      .check(z.refine((s) => cron.validate(s), "must be a cron expression node-cron accepts, e.g. '*/30 * * * *'")),
    "cron expression of bot code update checks",
  ),
  updateJitterSeconds: setting(
    "number",
    seconds(300),
    "random delay of up to this many seconds before each update check",
  ),
  updateGraceSeconds: setting(
    "number",
    seconds(600),
    "after new bot code arrives, time the bot gets to update itself before the supervisor restarts it",
  ),
  idleWaitMaxSeconds: setting(
    "number",
    seconds(3600),
    "how long an update restart waits for the running task to end before it gives up until the next check",
  ),
  metricsHost: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "0.0.0.0"),
    "address of /metrics and /healthz",
  ),
  metricsPort: setting(
    "number",
    z._default(z.int().check(z.gte(0), z.lte(65535)), 20000),
    "port of /metrics and /healthz",
  ),
  stateServerUrl: setting(
    "string",
    z.pipe(
      z._default(z.url({ protocol: /^https?$/ }), "http://127.0.0.1:11000"),
      z.transform((u) => u.replace(/\/+$/, "")),
    ),
    "state server hook API (GET /status tells task_running and bot_version)",
  ),
  shutdownGraceSeconds: setting(
    "number",
    seconds(600),
    "on SIGTERM, time the bot gets to finish its running task before every process of its session is SIGKILLed (the task is cut); must cover the longest task",
  ),
  sudoDir: setting(
    "string",
    z._default(z.string().check(z.minLength(1)), "/opt/rpi-swarming/sudo-bin"),
    "directory holding the image's sudo; put first on the bot's PATH",
  ),
  onRebootRequest: setting(
    "string",
    z._default(z.enum(["restart", "reboot-device", "both"]), "restart"),
    "when the bot asks for a host reboot: restart the bot, ask the state server to reboot the device, or both",
  ),
  restartBackoffMinSeconds: setting("number", seconds(1, 0.01), "first delay before restarting a bot that exited"),
  restartBackoffMaxSeconds: setting("number", seconds(300, 0.01), "longest delay between bot restarts"),
  stableRunSeconds: setting(
    "number",
    seconds(600),
    "a bot that ran this long resets the restart backoff to its minimum",
  ),
  downloadTimeoutSeconds: setting(
    "number",
    seconds(30, 1),
    "a bot code download that receives nothing for this long is abandoned (and retried)",
  ),
  downloadBackoffMaxSeconds: setting("number", seconds(300, 0.01), "longest delay between bot code download retries"),
};

export type SupervisorConfig = ConfigOf<typeof supervisorSettings & typeof commonSettings>;
