// Started as a session leader (detached), so its session id is its own pid
// even where the test runner's session leader lies outside the PID namespace
// (session id 0). Asks killSession to kill its own session and init's, and
// prints what came back: it must be alive to print.
import { killSession, ownSessionId } from "../bot-session.js";

const own = ownSessionId();
const result = {
  pid: process.pid,
  own,
  ownKill: own === null ? null : await killSession(own),
  initKill: await killSession(1),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
