import { mkdir, realpath, stat } from "node:fs/promises";
import { dirname, sep } from "node:path";
import { ConfigError } from "@rpi-swarming/core";

const SHARED = "sharedDir (--shared-dir, RPI_SWARMING_SHARED_DIR)";
const BOT = "botDir (--bot-dir, RPI_SWARMING_BOT_DIR)";

/**
 * Creates the bot and shared directories and refuses a layout that cannot
 * work. The shared dir holds partial downloads, the last verified bot code
 * and the lock: inside the bot dir the bot's clean-up after each handshake
 * deletes them (it keeps only its own names). Downloads are renamed from the
 * shared dir into the bot dir, which is atomic only within one filesystem.
 * Throws ConfigError naming the settings.
 */
export async function checkDirectories(botDir: string, sharedDir: string): Promise<void> {
  await mkdir(sharedDir, { recursive: true });
  await mkdir(botDir, { recursive: true });
  const [bot, shared] = await Promise.all([realpath(botDir), realpath(sharedDir)]);
  if (shared === bot || shared.startsWith(bot.endsWith(sep) ? bot : bot + sep)) {
    throw new ConfigError(
      `${SHARED} ${sharedDir} is inside ${BOT} ${botDir}: the bot deletes every entry of its directory that is not on its keep-list, and would take the supervisor's downloads, verified bot code and lock with it; use a directory beside the bot dir on the same filesystem, e.g. ${dirname(bot)}${sep}shared`,
    );
  }
  const [botStat, sharedStat] = await Promise.all([stat(bot), stat(shared)]);
  if (botStat.dev !== sharedStat.dev) {
    throw new ConfigError(
      `${SHARED} ${sharedDir} and ${BOT} ${botDir} are on different filesystems (device ${sharedStat.dev} and ${botStat.dev}): bot code is downloaded into the shared dir and renamed into the bot dir, which is atomic only within one filesystem; put both on one volume (in the chart: the same emptyDir)`,
    );
  }
}
