"""`task_runner`: runs one task through `run_isolated` and streams it to the server (task_update/task_error).

Started by the bot in a process group of its own; SIGTERM makes it kill
run_isolated and report "task_runner received signal 15" as an internal error,
as the real task runner does.
"""

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from standin_bot import botdir, procs, zipcode
from standin_bot.remote import Remote

log = logging.getLogger("standin")


# Keys the real task runner requires in the manifest.
REQUIRED_KEYS = ("bot_dimensions", "bot_id", "grace_period", "hard_timeout", "io_timeout", "task_id")


class ExitSignal(Exception):
    def __init__(self, sig):
        Exception.__init__(self, "task_runner received signal %s" % sig)


def _env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return float(default)


def _auth_from_file(path):
    def read():
        if not path:
            return None, None
        with open(path) as f:
            data = json.load(f)
        headers = data.get("swarming_http_headers") or {}
        expiry = data.get("swarming_http_headers_exp")
        if not headers:
            return None, None
        return headers, expiry

    return read


class _Output(object):
    """Collects run_isolated's combined output from a reader thread."""

    def __init__(self, stream):
        self._lock = threading.Lock()
        self._data = b""
        self._sent = 0
        self.last_io = time.monotonic()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._lock:
                self._data += chunk
                self.last_io = time.monotonic()

    def join(self, timeout):
        self._thread.join(timeout)

    def unpop(self, offset, chunk):
        """Puts back a chunk whose upload failed."""
        with self._lock:
            if self._sent == offset + len(chunk):
                self._sent = offset

    def pop(self):
        """(offset, new bytes) since the last call."""
        with self._lock:
            start, new = self._sent, self._data[self._sent:]
            self._sent = len(self._data)
        return start, new


def _isolated_args(work_dir, manifest, isolated_result, bot_file, run_isolated_flags, grace):
    bot_dir = os.path.dirname(work_dir)
    args = ["--named-cache-root", os.path.join(bot_dir, "c"), "--cipd-cache", os.path.join(bot_dir, "cipd_cache"),
            "--json", isolated_result, "--log-file", os.path.join(bot_dir, "logs", "run_isolated.log"),
            "--root-dir", work_dir]
    if bot_file:
        args += ["--bot-file", bot_file]
    if manifest.get("hard_timeout"):
        args += ["--hard-timeout", str(manifest["hard_timeout"])]
    if grace:
        args += ["--grace-period", str(grace)]
    for key, value in (manifest.get("env") or {}).items():
        args += ["--env", "%s=%s" % (key, value)]
    return args + list(run_isolated_flags) + ["--"] + list(manifest.get("command") or [])


def _result(exit_code, internal_error=None, reported=False, hard_timeout=False, io_timeout=False):
    return {"exit_code": exit_code, "hard_timeout": hard_timeout, "io_timeout": io_timeout,
            "internal_error": internal_error, "internal_error_reported": reported, "version": 3}


def run_command(remote, manifest, zip_path, work_dir, bot_file, run_isolated_flags):
    task_id = manifest["task_id"]
    start = time.monotonic()
    params = {"cost_usd": 0.0}
    # Tell the server the task started before any user code runs.
    if not remote.post_task_update(task_id, params):
        params["canceled"] = True
        remote.post_task_update(task_id, params)
        return _result(-1)
    isolated_result = os.path.join(work_dir, "isolated_result.json")
    grace = float(manifest.get("grace_period") or 0)
    args = _isolated_args(work_dir, manifest, isolated_result, bot_file, run_isolated_flags, grace)
    # Hard timeout is run_isolated's job; task_runner doubles the grace (one for the command, one to report).
    grace *= 2
    io_timeout = float(manifest.get("io_timeout") or 0)
    args_path = os.path.join(work_dir, "run_isolated_args.json")
    try:
        with open(args_path, "w") as f:
            json.dump(args, f)
        proc = procs.popen_detached([sys.executable, "-u", zip_path, "run_isolated", "-a", args_path],
                                    cwd=work_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
    except (IOError, OSError) as e:
        params.update({"duration": time.monotonic() - start, "io_timeout": False, "hard_timeout": False})
        remote.post_task_update(task_id, params, ("run_isolated did not start: %s" % e).encode(), 0, 1)
        return _result(getattr(e, "errno", None) or -1)
    log.info("run_isolated pid %d started", proc.pid)
    out = _Output(proc.stdout)
    update_every = _env_float("SWARMING_STANDIN_TASK_UPDATE_SECONDS", 4)
    last_update = time.monotonic()
    exit_code = None
    internal_error = None
    had_io_timeout = term_sent = kill_sent = False
    timed_out = None
    try:
        while proc.poll() is None:
            time.sleep(0.05)
            now = time.monotonic()
            if now - last_update >= update_every:
                last_update = now
                offset, chunk = out.pop()
                try:
                    go_on = remote.post_task_update(task_id, params, chunk, offset)
                except ExitSignal:
                    raise
                except Exception as e:  # noqa: BLE001 - keep the task running; later updates resend nothing lost
                    log.warning("task_update failed: %s", e)
                    out.unpop(offset, chunk)
                    go_on = True
                if not go_on and not (kill_sent or term_sent):
                    log.warning("server induced stop; sending SIGTERM to run_isolated")
                    term_sent = True
                    procs.terminate(proc)
                    timed_out = now
            if timed_out is None:
                if io_timeout and now - out.last_io > io_timeout:
                    had_io_timeout = True
                    if not term_sent:
                        log.warning("I/O timeout of %ss; sending SIGTERM", io_timeout)
                        procs.terminate(proc)
                        timed_out = now
            elif not kill_sent and now - timed_out >= grace:
                log.warning("grace of %ss exhausted; sending SIGKILL", grace)
                procs.kill_group(proc)
                kill_sent = True
        exit_code = proc.wait()
        if not kill_sent:
            # Whatever the task left in run_isolated's group goes too.
            procs.kill_group(proc)
    except (ExitSignal, IOError, OSError) as e:
        # One signal is enough: a second one must not cut the clean-up and the report.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.exception("killing run_isolated")
        internal_error = str(e) or "unknown error"
        procs.terminate(proc)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            procs.kill_group(proc)
        exit_code = proc.wait()
    out.join(5)
    params["duration"] = time.monotonic() - start
    params["io_timeout"] = had_io_timeout
    had_hard_timeout = False
    try:
        with open(isolated_result) as f:
            iso = json.load(f)
        had_hard_timeout = bool(iso.get("had_hard_timeout"))
        if not had_io_timeout and not had_hard_timeout and not internal_error:
            if iso.get("internal_failure"):
                internal_error = iso["internal_failure"]
            elif exit_code:
                internal_error = "run_isolated internal failure %d" % exit_code
        exit_code = iso.get("exit_code")
        if iso.get("duration") is not None:
            params["duration"] = iso["duration"]
    except (IOError, OSError, ValueError) as e:
        log.warning("no usable run_isolated result: %s", e)
    if exit_code is None:
        exit_code = -1
    params["hard_timeout"] = had_hard_timeout
    reported = False
    if internal_error:
        # Like the real task runner: no exit code (it would mark the task COMPLETED), then task_error.
        exit_code = None
        params.pop("duration", None)
    offset, chunk = out.pop()
    remote.post_task_update(task_id, params, chunk, offset, exit_code)
    if internal_error:
        remote.post_task_error(task_id, internal_error)
        reported = True
    return _result(exit_code, internal_error, reported, had_hard_timeout, had_io_timeout)


def main(zip_path, args):
    parser = argparse.ArgumentParser(prog="task_runner")
    for flag in ("--in-file", "--out-file", "--swarming-server", "--bot-file", "--auth-params-file",
                 "--session-state-file", "--cost-usd-hour", "--start"):
        parser.add_argument(flag)
    if "--" in args:
        i = args.index("--")
        args, run_isolated_flags = args[:i], args[i + 1:]
    else:
        run_isolated_flags = []
    options = parser.parse_args(args)
    if not options.in_file or not options.out_file:
        parser.error("task_runner is meant to be used by swarming_bot.")
    base_dir = os.path.dirname(zip_path)
    botdir.setup_logging(base_dir, "task_runner.log")
    work_dir = os.path.dirname(options.out_file)
    task_result = None

    def handler(sig, _frame):
        log.info("got signal %s", sig)
        raise ExitSignal(sig)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with open(options.in_file) as f:
            manifest = json.load(f)
        for key in REQUIRED_KEYS:
            if key not in manifest:
                raise ValueError("Task manifest missing required key %s:\n%r" % (key, manifest))
        remote = Remote(options.swarming_server.rstrip("/"), manifest["bot_id"], zipcode.digest(zip_path),
                        _auth_from_file(options.auth_params_file))
        task_result = run_command(remote, manifest, zip_path, work_dir, options.bot_file, run_isolated_flags)
    except Exception as e:  # noqa: BLE001 - the bot reports what task_runner could not
        log.exception("task_runner failed")
        if not task_result:
            task_result = _result(-1, str(e) or "unknown error")
    finally:
        signal.signal(signal.SIGTERM, previous)
        os.makedirs(work_dir, exist_ok=True)
        with open(options.out_file, "w") as f:
            json.dump(task_result, f)
    return 0
