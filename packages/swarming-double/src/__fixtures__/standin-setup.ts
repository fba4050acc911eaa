import { fileURLToPath } from "node:url";
import { type SwarmingDouble, startSwarmingDouble } from "../index.js";
import { type BotHarness, botHarness, HOOK_FIXTURE, killAllBots } from "./bots.js";

export const BOT = "standin-test-1";
/** The project's hook script (packages/swarming-hooks/bot_config.py). */
export const PROJECT_HOOK_SCRIPT = fileURLToPath(new URL("../../../swarming-hooks/bot_config.py", import.meta.url));

/** One double and one bot directory per test; cleanup() stops and removes everything. */
export class StandInTest {
  double: SwarmingDouble | undefined;
  harness: BotHarness | undefined;

  async setup(
    options: {
      token?: string;
      control?: Record<string, unknown>;
      botConfigScript?: { name: string; content: string };
      /** Hook script of the zip; default the fixture. */
      hookScript?: string;
    } = {},
  ): Promise<{ double: SwarmingDouble; harness: BotHarness; version: string }> {
    this.double = await startSwarmingDouble({
      defaultSleepSeconds: 0.2,
      botCode: { standIn: { hookScript: options.hookScript ?? HOOK_FIXTURE } },
      ...(options.token ? { token: options.token } : {}),
      ...(options.botConfigScript ? { botConfigScript: options.botConfigScript } : {}),
    });
    const code = this.double.state().botCode[0];
    if (!code) throw new Error("no bot code");
    this.harness = await botHarness(code.path, BOT);
    await this.harness.setControl(options.control ?? {});
    return { double: this.double, harness: this.harness, version: code.digest };
  }

  async cleanup(): Promise<void> {
    await killAllBots();
    await this.double?.close();
    await this.harness?.cleanup();
    this.double = undefined;
    this.harness = undefined;
  }
}

export const polls = (d: SwarmingDouble, n: number): boolean => (d.bot(BOT)?.polls ?? 0) >= n;

/** Hook names of the calls file between two indexes. */
export const hookNames = async (h: BotHarness): Promise<string[]> => (await h.calls()).map((c) => c[0] ?? "");
