"""The bot's side of a `run` command: start task_runner, wait for it, report what it could not."""

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from standin_bot import procs

log = logging.getLogger("standin")


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


class _AuthParamsWriter(object):
    """Keeps w/bot_auth_params.json current: task_runner reads the bot's auth headers from it."""

    def __init__(self, path, remote, interval_s=15.0):
        self.path = path
        self.remote = remote
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def write(self):
        headers, expiry = self.remote.auth_snapshot()
        _write_json(self.path, {"swarming_http_headers": headers, "swarming_http_headers_exp": expiry})

    def start(self):
        self.write()
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval_s):
            try:
                self.write()
            except Exception as e:  # noqa: BLE001
                log.warning("could not refresh %s: %s", self.path, e)

    def stop(self):
        self._stop.set()


def run_manifest(runner, manifest):
    """Runs one task through `task_runner`; returns True when it succeeded."""
    bot, remote, hooks = runner.bot, runner.remote, runner.hooks
    task_id = manifest["task_id"]
    hard_timeout = manifest.get("hard_timeout") or None
    grace = max(manifest.get("grace_period") or 0, 30)
    last_ditch = None
    if hard_timeout:
        # One grace for the command, one for run_isolated, one for task_runner; plus I/O time.
        last_ditch = hard_timeout + 3 * grace + max(manifest.get("io_timeout") or 0, 1200)
    task_dimensions = manifest.get("dimensions") or {}
    task_result = {}
    failure = internal_failure = internal_error_reported = False
    msg = None
    auth_writer = None
    work = os.path.join(bot.base_dir, "w")
    try:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        env = os.environ.copy()
        env["SWARMING_TASK_ID"] = task_id
        env["SWARMING_SERVER"] = bot.server
        in_file = os.path.join(work, "task_runner_in.json")
        _write_json(in_file, manifest)
        handle, bot_file = tempfile.mkstemp(prefix="bot_file", suffix=".json", dir=work)
        os.close(handle)
        out_file = os.path.join(work, "task_runner_out.json")
        session_file = os.path.join(work, "session.json")
        _write_json(session_file, {"session_id": runner.session_id, "session_token": runner.session})
        auth_file = os.path.join(work, "bot_auth_params.json")
        auth_writer = _AuthParamsWriter(auth_file, remote)
        auth_writer.start()
        command = [
            sys.executable, runner.zip_path, "task_runner",
            "--swarming-server", bot.server,
            "--in-file", in_file,
            "--out-file", out_file,
            "--cost-usd-hour", str(bot.state.get("cost_usd_hour") or 0.0),
            "--start", str(time.time()),
            "--bot-file", bot_file,
            "--session-state-file", session_file,
            "--auth-params-file", auth_file,
            "--",
        ] + runner.run_isolated_flags()
        hooks.call_on(bot, "on_before_task", bot_file, command, env)
        logs = os.path.join(bot.base_dir, "logs")
        os.makedirs(logs, exist_ok=True)
        bot.task_id = task_id
        with open(os.path.join(logs, "task_runner_stdout.log"), "ab") as f:
            proc = procs.popen_detached(command, stdin=subprocess.PIPE, stdout=f, stderr=subprocess.STDOUT,
                                        cwd=bot.base_dir, env=env)
            log.info("task %s: task_runner pid %d started", task_id, proc.pid)
            try:
                proc.wait(last_ditch)
            except subprocess.TimeoutExpired:
                log.error("task %s: task_runner hung; sending SIGTERM", task_id)
                procs.terminate(proc)
                internal_failure = True
                msg = "task_runner hung"
                try:
                    proc.wait(2 * grace)
                except subprocess.TimeoutExpired:
                    procs.kill_group(proc)
                proc.wait()
                return False
        log.info("task %s: task_runner exit: %d", task_id, proc.returncode)
        if os.path.isfile(out_file):
            with open(out_file) as fd:
                task_result = json.load(fd) or {}
            internal_error_reported = bool(task_result.get("internal_error_reported"))
        if proc.returncode:
            msg = "Execution failed: internal error (%d)." % proc.returncode
            internal_failure = True
        elif not task_result:
            msg = "Execution failed: internal error (no metadata)."
            internal_failure = True
        elif task_result.get("internal_error"):
            msg = "Execution failed: %s" % task_result["internal_error"]
            internal_failure = True
        failure = bool(task_result.get("exit_code")) if task_result else False
        return not internal_failure and not failure
    except Exception as e:  # noqa: BLE001 - disk full, zip gone, ...
        log.exception("run_manifest failed")
        msg = "Internal exception occurred: %s: %s" % (type(e).__name__, e)
        internal_failure = True
        return False
    finally:
        bot.task_id = None
        if auth_writer is not None:
            auth_writer.stop()
        if internal_failure and not internal_error_reported:
            log.error("task %s: %s", task_id, msg)
            try:
                remote.post_task_error(task_id, msg)
            except Exception as e:  # noqa: BLE001
                log.error("task_error for %s failed: %s", task_id, e)
        hooks.call_on(bot, "on_after_task", failure, internal_failure, task_dimensions, task_result)
        shutil.rmtree(work, ignore_errors=True)
