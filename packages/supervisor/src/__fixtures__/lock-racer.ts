// One of many processes racing for the supervisor lock (lock.test.ts). For
// each round r it waits for <root>/go-<r>, tries the lock of <root>/bot-<r>,
// writes <root>/result-<r>-<pid> ("held" or "refused"), and a holder keeps
// the lock until <root>/end-<r> appears.
import { existsSync, renameSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acquireLock } from "../lock.js";

const [root, roundsArg] = process.argv.slice(2);
if (!root || !roundsArg) throw new Error("usage: lock-racer <root> <rounds>");

function appears(path: string): Promise<void> {
  return new Promise((resolve) => {
    const w = watch(root as string, () => {
      if (existsSync(path)) {
        w.close();
        resolve();
      }
    });
    if (existsSync(path)) {
      w.close();
      resolve();
    }
  });
}

writeFileSync(join(root, `ready-${process.pid}`), "");
for (let r = 0; r < Number(roundsArg); r++) {
  await appears(join(root, `go-${r}`));
  let result: string;
  let release: (() => void) | null = null;
  try {
    const lock = await acquireLock(join(root, `bot-${r}`), "race", { staleMs: 60_000 });
    result = "held";
    release = () => lock.release();
  } catch (err) {
    result = (err as Error).name === "LockedError" ? "refused" : `error ${(err as Error).message}`;
  }
  // Whole or absent: the test reads results while others are still written.
  writeFileSync(join(root, `.partial-${process.pid}`), result);
  renameSync(join(root, `.partial-${process.pid}`), join(root, `result-${r}-${process.pid}`));
  await appears(join(root, `end-${r}`));
  release?.();
}
