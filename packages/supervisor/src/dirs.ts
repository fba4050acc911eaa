import { mkdir, realpath, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { ConfigError } from "@rpi-swarming/core";

const SHARED = "sharedDir (--shared-dir, RPI_SWARMING_SHARED_DIR)";
const BOT = "botDir (--bot-dir, RPI_SWARMING_BOT_DIR)";
const CODE = "botCodeDir (--bot-code-dir, RPI_SWARMING_BOT_CODE_DIR)";

/** Where partial downloads and the last verified bot code go: the setting, else `bot-code` beside the bot dir. */
export function botCodeDirOf(config: { botDir: string; botCodeDir?: string | undefined }): string {
  return config.botCodeDir ?? join(dirname(config.botDir), "bot-code");
}

/**
 * Creates the directories and refuses a layout that cannot work (ConfigError,
 * naming the settings). The bot deletes every entry of its directory that is
 * not on its keep-list after each handshake: the shared dir (lock, pid file,
 * reboot requests) and the bot code dir (partial downloads, the verified
 * copy) must lie outside it. Downloads are renamed from the bot code dir into
 * the bot dir, which is atomic only within one filesystem and one mount: a
 * trial rename proves it (st_dev alone misses two mounts of one filesystem,
 * e.g. two emptyDirs).
 */
export async function checkDirectories(botDir: string, sharedDir: string, botCodeDir: string): Promise<void> {
  await Promise.all([botDir, sharedDir, botCodeDir].map((d) => mkdir(d, { recursive: true })));
  const bot = await realpath(botDir);
  const inside = async (dir: string) => {
    const real = await realpath(dir);
    return real === bot || real.startsWith(bot.endsWith(sep) ? bot : bot + sep);
  };
  const besides = `use a directory beside the bot dir, e.g. ${dirname(bot)}${sep}`;
  if (await inside(sharedDir)) {
    throw new ConfigError(
      `${SHARED} ${sharedDir} is inside ${BOT} ${botDir}: the bot deletes every entry of its directory that is not on its keep-list, and would take the supervisor's lock, pid file and reboot requests with it; ${besides}shared`,
    );
  }
  if (await inside(botCodeDir)) {
    throw new ConfigError(
      `${CODE} ${botCodeDir} is inside ${BOT} ${botDir}: the bot deletes every entry of its directory that is not on its keep-list, and would take partial downloads and the verified bot code with it; ${besides}bot-code`,
    );
  }
  const [botStat, codeStat] = await Promise.all([stat(bot), stat(botCodeDir)]);
  const sameVolume =
    "bot code is downloaded into the bot code dir and renamed into the bot dir, which is atomic only within one filesystem and mount; put both on one volume (in the chart: /b)";
  if (botStat.dev !== codeStat.dev) {
    throw new ConfigError(
      `${CODE} ${botCodeDir} and ${BOT} ${botDir} are on different filesystems (device ${codeStat.dev} and ${botStat.dev}): ${sameVolume}`,
    );
  }
  // Not a name the bot keeps, but it lives only for this rename and unlink.
  const probe = `.rpi-swarming-rename-probe-${process.pid}`;
  await writeFile(join(botCodeDir, probe), "");
  try {
    await rename(join(botCodeDir, probe), join(botDir, probe));
  } catch (err) {
    await unlink(join(botCodeDir, probe)).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === "EXDEV"
        ? `${CODE} ${botCodeDir} and ${BOT} ${botDir} are on different mounts (EXDEV on a trial rename): ${sameVolume}`
        : `cannot rename a file from ${CODE} ${botCodeDir} into ${BOT} ${botDir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  await unlink(join(botDir, probe)).catch(() => undefined);
}
