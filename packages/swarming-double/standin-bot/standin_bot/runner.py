"""start_bot: the session with the server, from server_ping to shutdown, in the real bot's order."""

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

from standin_bot import attributes as attributeslib
from standin_bot import botdir, hooks as hooklib, procs, settings as settingslib, task as tasklib
from standin_bot.remote import Remote

log = logging.getLogger("standin")

API = "/swarming/api/v1/bot"
# How long the real bot waits for a host reboot before it reports being stuck.
HOST_REBOOT_TIMEOUT_S = 15 * 60


def _env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return float(default)


def host_reboot_commands():
    """Like the real bot on Linux: a clean shutdown first, then a forced reboot."""
    return (["sudo", "-n", "/sbin/shutdown", "-r", "now"], ["sudo", "-n", "/sbin/reboot", "-f"])


def reboot_host(reason, timeout=None):
    """Resets SIGTERM (a shutdown must be able to stop us), runs both commands, waits; False if still alive."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    log.warning("rebooting the host: %s", reason)
    deadline = time.time() + timeout if timeout else None
    while True:
        for cmd in host_reboot_commands():
            try:
                subprocess.check_call(cmd)
                log.info("%s exited successfully", " ".join(cmd))
            except (OSError, subprocess.CalledProcessError) as e:
                log.error("failed to run %s: %s", " ".join(cmd), e)
        # The real bot sleeps 300 s between rounds; tests shorten it.
        wait = _env_float("SWARMING_STANDIN_REBOOT_WAIT_SECONDS", 300)
        if deadline is not None:
            wait = min(wait, deadline - time.time())
        if wait > 0:
            time.sleep(wait)
        if deadline is not None and time.time() >= deadline:
            log.warning("waited %ss for the host to reboot; giving up", timeout)
            return False


class Runner(object):
    def __init__(self, bot, hooks, zip_path, lock):
        self.bot = bot
        self.hooks = hooks
        self.zip_path = zip_path
        self.lock = lock
        self.attrs = attributeslib.Attributes(bot, hooks)
        self.quit = threading.Event()
        self.session = None
        self.session_id = uuid.uuid4().hex
        self.remote = Remote(bot.server, bot.id, bot.bot_version, self._auth_headers)
        # The bot_shutdown event of an exit is posted only once the poll loop runs (as the real bot does).
        self._loop_started = False
        self._consecutive_idle = 0
        self._poll_errors = 0
        self._last_task_time = time.time()
        bot.runner = self

    # -- hooks and server calls -------------------------------------------------

    def _auth_headers(self):
        found, value = self.hooks.call_getter("get_authentication_headers", self.bot)
        if not found or value is None:
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

    def _on_signal(self, signum, _frame):
        # Only a flag: a running task finishes, then the bot exits.
        log.info("got signal %d", signum)
        self.quit.set()

    def _backoff(self, attempt):
        return min(60.0, _env_float("SWARMING_STANDIN_RETRY_SECONDS", 2) * (2 ** min(attempt, 6)))

    def _lifecycle(self, event):
        """What the real bot's lifecycle callbacks do on exit or reboot, in their order."""
        if self._loop_started:
            self.bot.post_event("bot_shutdown", "Signal was received")
        if event == "reboot" and os.environ.get("SWARMING_EXTERNAL_BOT_SETUP") != "1":
            fn = getattr(self.hooks.modules[0], "setup_bot", None)
            if callable(fn):
                try:
                    fn(self.bot)
                except Exception as e:  # noqa: BLE001
                    self.bot.post_error("bot_config.setup_bot() threw: %s" % e)
        self.hooks.call_on(self.bot, "on_bot_shutdown")

    def host_reboot(self, message):
        """Posts only bot_rebooting, runs the shutdown hooks, asks sudo to reboot; returns if the host did not."""
        self.bot.post_event("bot_rebooting", message)
        self._lifecycle("reboot")
        reboot_host(message, timeout=_env_float("SWARMING_STANDIN_REBOOT_TIMEOUT_SECONDS", HOST_REBOOT_TIMEOUT_S))
        self.bot.post_error("Host is stuck rebooting for: %s" % message)

    def run_isolated_flags(self):
        """Flags for run_isolated, from the settings (a get_settings call, as in the real bot)."""
        try:
            settings = self.attrs.settings()
        except Exception as e:  # noqa: BLE001
            log.error("settings unusable, using the defaults: %s", e)
            settings = settingslib.DEFAULT_SETTINGS
        part = settings["free_partition"]["bot"]
        base = self.bot.base_dir
        return ["--min-free-space", str(int(part["size"] + part["wiggle"])),
                "--max-cache-size", str(int(settings["caches"]["isolated"]["size"])),
                "--cas-cache", os.path.join(base, "cas_cache"),
                "--named-cache-root", os.path.join(base, "c")]

    def _clean_cache(self):
        """`run_isolated --clean`, after the handshake and after every task."""
        cmd = [sys.executable, self.zip_path, "run_isolated", "--clean", "--log-file",
               os.path.join(self.bot.base_dir, "logs", "run_isolated.log")] + self.run_isolated_flags()
        try:
            proc = procs.popen_detached(cmd, cwd=self.bot.base_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
            output, _ = proc.communicate(None)
            if proc.returncode:
                self.bot.post_error("swarming_bot.zip failure during run_isolated --clean:\n%s"
                                    % output.decode("utf-8", "replace"))
        except OSError:
            self.bot.post_error("swarming_bot.zip internal failure during run_isolated --clean")

    # -- start-up ----------------------------------------------------------------

    def _ping(self):
        """Wakes the network; failures are only logged (the handshake retries)."""
        for attempt in range(3):
            try:
                if self.remote.server_ping().strip() == "Server up":
                    return
            except Exception as e:  # noqa: BLE001
                log.warning("server_ping failed: %s", e)
            if self.quit.wait(self._backoff(attempt)):
                return
        log.error("error pinging the server (is network up?)")

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
        bv = reply.get("bot_version")
        if bv != self.bot.bot_version:
            log.warning("found out we'll need to update: server said %s; we're %s", bv, self.bot.bot_version)
        script = reply.get("bot_config")
        name = reply.get("bot_config_name")
        rev = reply.get("bot_config_rev")
        if script:
            try:
                module = hooklib.load_module("injected", script, "<server>/" + (name or "injected.py"))
                self.hooks.inject(module)
                log.info("loaded the server's hook script %s rev %s", name, rev)
            except Exception as e:  # noqa: BLE001
                self.bot.quarantine_until_restart("handshake returned invalid injected bot_config.py: %s" % e)
        # Named or not, the handshake sets bot_config (the state then shows it; the dimension needs a name).
        self.bot.bot_config = {"name": name, "revision": rev}
        cfg = reply.get("bot_group_cfg")
        if isinstance(cfg, dict) and isinstance(cfg.get("dimensions"), dict):
            self.bot.server_dimensions = cfg["dimensions"]
        self.attrs.apply(self.bot.dimensions, self.bot.state)

    # -- main loop ---------------------------------------------------------------

    def run(self):
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        log.info("stand-in bot %s version %s starting in %s, server %s",
                 self.bot.id, self.bot.bot_version, self.bot.base_dir, self.bot.server)
        self._ping()
        # The real bot computes attributes once with a temporary bot object, before auth and on_bot_startup.
        self.attrs.refresh()
        home = botdir.is_home(self.bot.base_dir)
        if home:
            self.bot.quarantine_until_restart("Can't run from the home directory")
        error = self.remote.init_auth(int(_env_float("SWARMING_STANDIN_AUTH_TRIES", 30)),
                                      _env_float("SWARMING_STANDIN_AUTH_RETRY_SECONDS", 2), self.quit)
        if error:
            self.bot.post_error("failed to grab auth headers: %s" % error)
        try:
            self.hooks.call_on(self.bot, "on_bot_startup")
            # get_dimensions/get_state may depend on on_bot_startup: the handshake carries fresh ones.
            self.attrs.refresh()
            reply = self._handshake()
            if reply is None:
                return 0
            self._apply_handshake(reply)
            self.hooks.call_on(self.bot, "on_handshake")
            if home:
                log.error("not cleaning the home directory")
            else:
                botdir.clean_directory(self.bot.base_dir, self.bot.post_error)
            self._clean_cache()
            self._loop_started = True
            self._loop()
        finally:
            self._lifecycle("exit")
            log.info("stand-in bot stopped: %s", "Signal was received" if self.quit.is_set() else "loop ended")
        return 0

    def _loop(self):
        while not self.quit.is_set():
            self.hooks.call_on(self.bot, "on_before_poll", chained=False)
            self.attrs.sleep_streak = self._consecutive_idle
            self.attrs.refresh()
            body = self.attrs.as_body()
            body.update({"session": self.session, "request_uuid": uuid.uuid4().hex})
            cmd, reply, wait = None, None, 0.0
            try:
                reply = self.remote.post_json(API + "/poll", body)
                if not isinstance(reply, dict) or "cmd" not in reply:
                    raise ValueError("poll reply has no cmd: %r" % (reply,))
                cmd = reply["cmd"]
                self._poll_errors = 0
            except Exception as e:  # noqa: BLE001
                self._poll_errors += 1
                log.error("Swarming poll error (%d in a row): %s", self._poll_errors, e)
                wait = self._backoff(self._poll_errors)
            self.hooks.call_on(self.bot, "on_after_poll", cmd, chained=False)
            if cmd == "sleep":
                wait = float(reply.get("duration", 10))
            elif cmd is not None:
                self._handle(cmd, reply)
            if self.quit.is_set():
                break
            msg = self.bot.bot_restart_msg()
            if msg:
                self._bot_restart(msg)
                self.bot.quarantine_until_restart("Failed to restart the bot process")
            if cmd == "sleep":
                self._consecutive_idle += 1
                # A whole idle cycle worked: this code is good enough to be the bootstrap copy.
                self._update_lkgbc()
            if self._consecutive_idle or self._poll_errors:
                self.hooks.call_on(self.bot, "on_bot_idle", int(time.time() - self._last_task_time))
            self.quit.wait(wait)

    def _handle(self, cmd, reply):
        if cmd == "run":
            tasklib.run_manifest(self, reply["manifest"])
            self._consecutive_idle = 0
            self._last_task_time = time.time()
            self._clean_cache()
            self._update_lkgbc()
        elif cmd == "terminate":
            self.quit.set()
            try:
                self.remote.post_task_update(reply["task_id"], {"duration": 0}, exit_code=0)
            except Exception as e:  # noqa: BLE001
                log.warning("task_update for terminate task %s failed: %s", reply["task_id"], e)
        elif cmd == "update":
            self._update(reply["version"])
            self.bot.quarantine_until_restart("Failed to self-update the bot")
        elif cmd in ("host_reboot", "restart"):
            self.host_reboot(reply.get("message"))
            self.bot.quarantine_until_restart("Failed to reboot the host")
        elif cmd == "bot_restart":
            self._bot_restart(reply.get("message"))
            self.bot.quarantine_until_restart("Failed to restart the bot process")
        else:
            self.bot.post_error("Unexpected Swarming command %s" % cmd)

    def _update(self, version):
        """Downloads into .1.zip (or .2.zip when running from .1.zip) and restarts into it; returns on failure."""
        new_name = "swarming_bot.2.zip" if os.path.basename(self.zip_path) == "swarming_bot.1.zip" else "swarming_bot.1.zip"
        new_path = os.path.join(self.bot.base_dir, new_name)
        log.info("updating from %s to %s into %s", self.bot.bot_version, version, new_name)
        try:
            size = self.remote.download(API + "/bot_code/" + version, new_path)
            log.info("downloaded %d bytes of bot code %s", size, version)
        except Exception as e:  # noqa: BLE001 - keep the running code
            self.bot.post_error("update to %s failed: %s" % (version, e))
            try:
                os.remove(new_path)
            except OSError:
                pass
            return
        self._bot_restart("Updating to %s" % version, new_path)

    def _bot_restart(self, message, zip_path=None):
        """is_fine, bot_shutdown "About to restart", shutdown hooks, 2 s, release the lock, exec in this pid."""
        zip_path = zip_path or self.zip_path
        proc = procs.popen_detached([sys.executable, zip_path, "is_fine"], cwd=self.bot.base_dir,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = proc.communicate()
        if proc.returncode:
            self.bot.post_error("New bot code is bad: proc exit = %s. stdout:\n%s"
                                % (proc.returncode, output.decode("utf-8", "replace")))
            return
        self.bot.post_event("bot_shutdown", "About to restart: %s" % message)
        self._lifecycle("exit")
        # A signal received from here on is lost: the new process starts with default handlers.
        time.sleep(2)
        self.lock.release()
        log.info("restarting to %s: %s", zip_path, message)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, zip_path, "start_slave", "--survive"])

    def _update_lkgbc(self):
        """Copies the running zip over swarming_bot.zip when that is older (plain copy, not atomic)."""
        try:
            if not os.path.isfile(self.zip_path):
                self.bot.post_error("Missing file %s for LKGBC" % self.zip_path)
                return False
            golden = os.path.join(self.bot.base_dir, "swarming_bot.zip")
            if os.path.isfile(golden) and os.stat(golden).st_mtime >= os.stat(self.zip_path).st_mtime:
                return False
            log.info("updating LKGBC: %s over %s", self.zip_path, golden)
            shutil.copy(self.zip_path, golden)
            return True
        except Exception as e:  # noqa: BLE001
            self.bot.post_error("Failed to update LKGBC: %s" % e)
            return False
