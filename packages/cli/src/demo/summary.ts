/**
 * The demo's short human summary of the pod: gathered from the state
 * server's /status, the supervisor's /healthz and the double's /bots/<id>,
 * rendered as a few lines of text.
 */
import type { Pod } from "./pod.js";

type Json = Record<string, unknown>;

export interface PodSnapshot {
  readonly status: Json | undefined;
  readonly statusError: string | undefined;
  readonly supervisor: Json | undefined;
  readonly supervisorError: string | undefined;
  /** The double's record of the bot (undefined with a real server or before the first handshake). */
  readonly doubleBot: Json | undefined;
  readonly takenAt: number;
}

async function getJson(url: string): Promise<{ body?: Json; error?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
    const body = (await res.json()) as unknown;
    if (!res.ok) return { error: `HTTP ${res.status}` };
    if (body === null || typeof body !== "object" || Array.isArray(body)) return { error: "not a JSON object" };
    return { body: body as Json };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { error: cause ?? (err as Error).message };
  }
}

export async function snapshot(pod: Pod, botId: string): Promise<PodSnapshot> {
  const [status, supervisor, doubleBot] = await Promise.all([
    getJson(pod.urls.status),
    getJson(pod.urls.supervisorHealth),
    pod.urls.doubleBots
      ? getJson(`${pod.urls.doubleBots}/${encodeURIComponent(botId)}`)
      : Promise.resolve<{ body?: Json; error?: string }>({}),
  ]);
  return {
    status: status.body,
    statusError: status.error,
    supervisor: supervisor.body,
    supervisorError: supervisor.error,
    doubleBot: doubleBot.body,
    takenAt: Date.now(),
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const short = (v: unknown): string => (str(v) ? `${(v as string).slice(0, 12)}…` : "unknown");

function formatDimensions(dims: unknown): string {
  if (!dims || typeof dims !== "object") return "unknown";
  const shown = Object.entries(dims as Record<string, unknown>)
    .filter(([k]) => k !== "id")
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : String(v)}`);
  return shown.length > 0 ? shown.join("  ") : "none besides id";
}

function formatHealth(status: Json): string {
  const health = (status.health ?? {}) as Json;
  const reasons = [...((health.maintenance as Json[]) ?? []), ...((health.quarantined as Json[]) ?? [])]
    .map((r) => str(r.message) ?? str(r.reason))
    .filter((m): m is string => m !== undefined);
  return [str(health.status) ?? "unknown", ...reasons].join(": ");
}

function formatDevice(state: unknown, live: boolean): string {
  if (!state || typeof state !== "object") return "unknown";
  const s = state as Json;
  const parts: string[] = [];
  const battery = s.battery as Json | undefined;
  if (battery && typeof battery.ratio === "number") parts.push(`battery ${Math.round(battery.ratio * 100)}%`);
  const temps = s.temperatures_celsius as Record<string, number> | undefined;
  if (temps && typeof temps === "object") {
    const list = Object.entries(temps).map(([k, v]) => `${k} ${v}°C`);
    if (list.length) parts.push(list.join(", "));
  }
  if (live && typeof s.device_uptime_seconds === "number") parts.push(`up ${Math.round(s.device_uptime_seconds)} s`);
  return parts.join("; ") || "no reading";
}

/** The summary text. `live` adds the parts that change every second (ages). */
export function renderSummary(pod: Pod, botId: string, snap: PodSnapshot, live: boolean): string {
  const lines: string[] = [];
  const doubleNote = pod.double ? " (local Swarming double; the bot is its Python stand-in, not the real bot)" : "";
  lines.push(`rpi-swarming demo: bot ${botId}, pod work dir ${pod.workDir}`);
  lines.push(`  Swarming      ${pod.urls.swarming}${doubleNote}`);

  const sup = snap.supervisor;
  const bot = snap.doubleBot;
  const polls = bot && typeof bot.polls === "number" ? `, ${bot.polls} polls` : "";
  const age =
    live && bot && str(bot.lastSeen)
      ? `, last seen ${Math.max(0, Math.round((snap.takenAt - Date.parse(bot.lastSeen as string)) / 1000))} s ago`
      : "";
  const botState = sup
    ? sup.bot_running === true
      ? "running"
      : "not running (the supervisor restarts it)"
    : `supervisor not answering (${snap.supervisorError})`;
  // What the bot itself reports through its hooks, else the code the supervisor downloaded.
  const reported = snap.status?.bot_version === "unknown" ? undefined : snap.status?.bot_version;
  const version = short(reported ?? bot?.version ?? sup?.bot_code_version);
  lines.push(`  bot           ${botState}, version ${version}${polls}${age}`);

  const status = snap.status;
  if (!status) {
    lines.push(`  state server  not answering (${snap.statusError}): the bot quarantines itself`);
  } else {
    lines.push(`  health        ${formatHealth(status)}`);
    const task =
      status.task_running === "unknown"
        ? "unknown (the state server restarted; known at the bot's next hook call)"
        : status.task_running
          ? `running ${str(status.task_id) ?? ""}`.trim()
          : "none";
    lines.push(`  task          ${task}`);
    lines.push(`  device        ${status.device_kind ?? "?"}: ${formatDevice(status.state, live)}`);
    lines.push(`  dimensions    ${formatDimensions(status.dimensions)}`);
  }
  if (bot) {
    const seen = str(bot.quarantined)
      ? `quarantined: ${bot.quarantined}`
      : str(bot.maintenance)
        ? `maintenance: ${bot.maintenance}`
        : "available for tasks";
    lines.push(`  Swarming sees ${seen}`);
  }
  lines.push("  URLs");
  lines.push(`    state server /status   ${pod.urls.status}`);
  lines.push(`    state server /metrics  ${pod.urls.stateMetrics}`);
  lines.push(`    supervisor /metrics    ${pod.urls.supervisorMetrics}`);
  if (pod.urls.doubleBots) lines.push(`    double /bots           ${pod.urls.doubleBots}`);
  if (pod.urls.simulatedControl)
    lines.push(`    simulated device       ${pod.urls.simulatedControl}  (POST e.g. {"batteryRatio": 0.1})`);
  lines.push(`  logs in ${pod.logDir}; maintenance: echo msg > ${pod.maintenanceDir}/all`);
  lines.push("  Ctrl-C stops everything.");
  return lines.join("\n");
}
