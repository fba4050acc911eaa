"""start_bot: the session with the server, from server_ping to shutdown."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

from standin_bot import attributes as attributeslib
from standin_bot import botdir, hooks as hooklib, task as tasklib
from standin_bot.remote import Remote

log = logging.getLogger("standin")

API = "/swarming/api/v1/bot"


def _env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return float(default)


def host_reboot_commands():
    """Like the real bot: a clean shutdown first, then a forced reboot."""
    return (["sudo", "-n", "/sbin/shutdown", "-r", "now"], ["sudo", "-n", "/sbin/reboot", "-f"])


def ask_for_reboot(reason):
    """Runs the reboot commands; returns only when they did not take the host down."""
    log.warning("asking for a host reboot: %s", reason)
    for cmd in host_reboot_commands():
        try:
            rc = subprocess.call(cmd)
            log.error("%s returned %s; the host did not reboot", " ".join(cmd), rc)
        except OSError as e:
            log.error("%s failed: %s", " ".join(cmd), e)
        time.sleep(_env_float("SWARMING_STANDIN_REBOOT_WAIT_SECONDS", 5))


class Runner(object):
    def __init__(self, bot, hooks, zip_path, lock_fd):
        self.bot = bot
        self.hooks = hooks
        self.zip_path = zip_path
        self.lock_fd = lock_fd
        self.attrs = attributeslib.Attributes(bot, hooks)
        self.quit = threading.Event()
        self.quit_reason = None
        self.session = None
        self.session_id = uuid.uuid4().hex
        self.restart_message = None
        self.remote = Remote(bot.server, bot.id, bot.bot_version, self._auth_headers)
        bot.runner = self

    # -- hooks and server calls -------------------------------------------------

    def _auth_headers(self):
        found, value = self.hooks.call_getter("get_authentication_headers", self.bot)
        if not found:
            return None, None
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError("get_authentication_headers() must return (headers, expiry), got %r" % (value,))
        return value[0], value[1]

    def post_event(self, event_type, message):
        body = self.attrs.as_body()
        body.update({"event": event_type, "message": message, "session": self.session})
        try:
            self.remote.post_json(API + "/event", body)
        except Exception as e:  # noqa: BLE001 - events are best effort
            log.warning("posting event %s failed: %s", event_type, e)

    def host_reboot(self, message):
        self.post_event("bot_rebooting", message)
        self.hooks.call_on(self.bot, "on_bot_shutdown")
        ask_for_reboot(message)
        self.bot.post_error("host reboot failed: %s" % message)

    def request_restart(self, message):
        self.restart_message = message

    def _on_signal(self, signum, _frame):
        if not self.quit.is_set():
            log.info("signal %d received; finishing up", signum)
        self.quit_reason = "Signal was received"
        self.quit.set()

    def _backoff(self, attempt):
        return min(60.0, _env_float("SWARMING_STANDIN_RETRY_SECONDS", 2) * (2 ** min(attempt, 6)))

    # -- start-up ----------------------------------------------------------------

    def _ping(self):
        attempt = 0
        while not self.quit.is_set():
            try:
                text = self.remote.server_ping()
                if text.strip() == "Server up":
                    return True
                log.warning("server_ping answered %r", text[:100])
            except Exception as e:  # noqa: BLE001
                log.warning("server_ping failed: %s", e)
            self.quit.wait(self._backoff(attempt))
            attempt += 1
        return False

    def _handshake(self):
        attempt = 0
        while not self.quit.is_set():
            body = self.attrs.as_body()
            body["session_id"] = self.session_id
            try:
                reply = self.remote.post_json(API + "/handshake", body)
                if isinstance(reply, dict) and reply:
                    return reply
                log.warning("handshake reply is empty; retrying")
            except Exception as e:  # noqa: BLE001
                log.warning("handshake failed: %s", e)
            self.quit.wait(self._backoff(attempt))
            attempt += 1
        return None

    def _apply_handshake(self, reply):
        self.session = reply.get("session")
        self.bot.server_version = reply.get("server_version")
        cfg = reply.get("bot_group_cfg") or {}
        dims = cfg.get("dimensions") if isinstance(cfg, dict) else None
        if isinstance(dims, dict):
            try:
                self.attrs.server_dimensions = hooklib.validate_dimensions(dims)
            except ValueError as e:
                log.error("server dimensions ignored: %s", e)
        script = reply.get("bot_config")
        if isinstance(script, str) and script:
            name = reply.get("bot_config_name") or "bot_config.py"
            try:
                module = hooklib.load_module("bot_config_server", script, "<server>/" + name)
                self.hooks.inject(module, name, reply.get("bot_config_rev"))
                log.info("loaded the server's hook script %s rev %s", name, reply.get("bot_config_rev"))
            except Exception as e:  # noqa: BLE001
                self.bot.post_error("the server's bot_config %s does not load: %s" % (name, e))
        bv = reply.get("bot_version")
        if bv and bv != self.bot.bot_version:
            log.info("server expects bot version %s; running %s", bv, self.bot.bot_version)

    # -- main loop ---------------------------------------------------------------

    def run(self):
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        log.info("stand-in bot %s version %s starting in %s, server %s",
                 self.bot.id, self.bot.bot_version, self.bot.base_dir, self.bot.server)
        if not self._ping():
            return self._shutdown()
        self.attrs.refresh()
        self.attrs.refresh()
        self.remote.init_auth(int(_env_float("SWARMING_STANDIN_AUTH_TRIES", 30)),
                              _env_float("SWARMING_STANDIN_AUTH_RETRY_SECONDS", 2), self.quit)
        self.hooks.call_on(self.bot, "on_bot_startup")
        reply = self._handshake()
        if reply is None:
            return self._shutdown()
        self._apply_handshake(reply)
        self.hooks.call_on(self.bot, "on_handshake")
        botdir.clean_directory(self.bot.base_dir)
        last_action = time.time()
        poll_failures = 0
        while not self.quit.is_set():
            if self.restart_message:
                return self._restart(self.restart_message, self.zip_path)
            self.hooks.call_on(self.bot, "on_before_poll")
            self.attrs.refresh()
            body = self.attrs.as_body()
            body.update({"session": self.session, "request_uuid": uuid.uuid4().hex})
            try:
                reply = self.remote.post_json(API + "/poll", body)
                if not isinstance(reply, dict) or "cmd" not in reply:
                    raise ValueError("poll reply has no cmd: %r" % (reply,))
                poll_failures = 0
            except Exception as e:  # noqa: BLE001
                poll_failures += 1
                log.warning("poll failed (%d in a row): %s", poll_failures, e)
                self.quit.wait(self._backoff(poll_failures))
                continue
            cmd = reply["cmd"]
            self.hooks.call_on(self.bot, "on_after_poll", cmd)
            if cmd == "sleep":
                self.attrs.sleep_streak += 1
                self.hooks.call_on(self.bot, "on_bot_idle", max(0, int(time.time() - last_action)))
                self.quit.wait(float(reply.get("duration", 10)))
                continue
            self.attrs.sleep_streak = 0
            last_action = time.time()
            if cmd == "run":
                tasklib.run_task(self.bot, self.remote, self.hooks, reply["manifest"], self.bot.base_dir)
                last_action = time.time()
            elif cmd == "update":
                result = self._update(reply["version"])
                if result is not None:
                    return result
            elif cmd == "terminate":
                self._terminate(reply["task_id"])
            elif cmd == "bot_restart":
                return self._restart(reply.get("message", "restart requested by the server"), self.zip_path)
            elif cmd in ("host_reboot", "restart"):
                self.host_reboot(reply.get("message", "reboot requested by the server"))
            else:
                log.error("unknown command %r from the server", cmd)
                self.bot.post_error("unknown command %r" % (cmd,))
        return self._shutdown()

    def _terminate(self, task_id):
        """A termination task: acknowledge it, then stop like on a signal."""
        log.info("terminate task %s received", task_id)
        try:
            self.remote.post_json(API + "/task_update/" + task_id,
                                  {"id": self.bot.id, "task_id": task_id, "duration": 0, "exit_code": 0,
                                   "output": "", "output_chunk_start": 0})
        except Exception as e:  # noqa: BLE001
            log.warning("task_update for terminate task %s failed: %s", task_id, e)
        self.quit_reason = "Terminated by the server (task %s)" % task_id
        self.quit.set()

    def _update(self, version):
        current = os.path.basename(self.zip_path)
        new_name = "swarming_bot.2.zip" if current == "swarming_bot.1.zip" else "swarming_bot.1.zip"
        new_path = os.path.join(self.bot.base_dir, new_name)
        log.info("updating from %s to %s into %s", self.bot.bot_version, version, new_name)
        try:
            size = self.remote.download(API + "/bot_code/" + version, new_path)
            log.info("downloaded %d bytes of bot code %s", size, version)
            rc = subprocess.call([sys.executable, new_path, "is_fine"])
            if rc != 0:
                raise RuntimeError("is_fine of the new bot code exited %d" % rc)
        except Exception as e:  # noqa: BLE001 - keep the running code
            self.bot.post_error("update to %s failed: %s" % (version, e))
            try:
                os.remove(new_path)
            except OSError:
                pass
            self.quit.wait(self._backoff(1))
            return None
        return self._restart("Updating to %s" % version, new_path)

    def _restart(self, message, zip_path):
        if self.quit.is_set():
            # A signal arrived meanwhile: stop instead of starting a new process that would not know about it.
            log.info("not restarting (%s): a signal was received", message)
            return self._shutdown()
        self.post_event("bot_shutdown", "About to restart: %s" % message)
        self.hooks.call_on(self.bot, "on_bot_shutdown")
        log.info("re-executing %s: %s", zip_path, message)
        botdir.release_lock(self.lock_fd)
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, zip_path, "start_bot"])

    def _shutdown(self):
        reason = self.quit_reason or "Signal was received"
        self.post_event("bot_shutdown", reason)
        self.hooks.call_on(self.bot, "on_bot_shutdown")
        log.info("stand-in bot stopped: %s", reason)
        return 0
