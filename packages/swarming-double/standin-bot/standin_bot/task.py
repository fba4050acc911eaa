"""Runs one task of a `run` command and reports it with task_update / task_error."""

import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time

log = logging.getLogger("standin")


def _env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return float(default)


class _Output(object):
    """Collects the task's combined stdout/stderr from a reader thread."""

    def __init__(self, stream):
        self._lock = threading.Lock()
        self._data = b""
        self._sent = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._lock:
                self._data += chunk

    def join(self, timeout):
        self._thread.join(timeout)

    def take(self):
        """(offset, new bytes) since the last call."""
        with self._lock:
            start, new = self._sent, self._data[self._sent:]
            self._sent = len(self._data)
        return start, new


def run_task(bot, remote, hooks, manifest, base_dir):
    """Runs the manifest's command; returns after its final task_update."""
    task_id = manifest["task_id"]
    command = manifest.get("command") or []
    hard_timeout = float(manifest.get("hard_timeout") or 3600)
    grace = float(manifest.get("grace_period") or 30)
    update_every = _env_float("SWARMING_STANDIN_TASK_UPDATE_SECONDS", 2)
    path = "/swarming/api/v1/bot/task_update/" + task_id
    work = os.path.join(base_dir, "w")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    bot_file = os.path.join(work, "bot_file.json")
    with open(bot_file, "w") as f:
        json.dump({"dimensions": bot.dimensions, "state": bot.state, "bot_id": bot.id, "task_id": task_id}, f)
    env = dict(os.environ)
    env.update({k: str(v) for k, v in (manifest.get("env") or {}).items()})
    env["SWARMING_TASK_ID"] = task_id
    hooks.call_on(bot, "on_before_task", bot_file, list(command), dict(manifest.get("env") or {}))
    log.info("task %s: running %s", task_id, command)
    started = time.time()
    try:
        proc = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except (OSError, ValueError) as e:
        msg = "task %s could not start %r: %s" % (task_id, command, e)
        log.error("%s", msg)
        try:
            remote.post_json("/swarming/api/v1/bot/task_error/" + task_id,
                             {"id": bot.id, "task_id": task_id, "message": msg})
        except Exception as e2:  # noqa: BLE001
            log.error("task_error for %s failed: %s", task_id, e2)
        hooks.call_on(bot, "on_after_task", False, True, manifest.get("dimensions") or {}, {"error": msg})
        shutil.rmtree(work, ignore_errors=True)
        return
    bot.task_id = task_id
    output = _Output(proc.stdout)
    killed_by = None
    kill_sent_at = None

    def post(final):
        start, chunk = output.take()
        body = {"id": bot.id, "task_id": task_id, "output": base64.b64encode(chunk).decode("ascii"),
                "output_chunk_start": start}
        if final is not None:
            body.update(final)
        try:
            reply = remote.post_json(path, body) or {}
            return bool(reply.get("must_stop"))
        except Exception as e:  # noqa: BLE001 - keep running the task, report later
            log.warning("task_update for %s failed: %s", task_id, e)
            return False

    must_stop = post(None)
    last_update = time.time()
    while proc.poll() is None:
        now = time.time()
        if killed_by is None and (must_stop or now - started > hard_timeout):
            killed_by = "server asked to stop" if must_stop else "hard timeout"
            log.warning("task %s: %s, sending SIGTERM", task_id, killed_by)
            proc.send_signal(signal.SIGTERM)
            kill_sent_at = now
        if kill_sent_at is not None and now - kill_sent_at > grace:
            proc.kill()
        if now - last_update >= update_every:
            must_stop = post(None) or must_stop
            last_update = now
        time.sleep(0.1)
    output.join(5)
    duration = time.time() - started
    exit_code = proc.returncode
    post({"exit_code": exit_code, "duration": duration, "hard_timeout": killed_by == "hard timeout",
          "io_timeout": False, "cost_usd": 0.0})
    log.info("task %s: exit code %s after %.1fs", task_id, exit_code, duration)
    bot.task_id = None
    summary = {"exit_code": exit_code, "duration": duration, "killed": killed_by}
    hooks.call_on(bot, "on_after_task", exit_code != 0, False, manifest.get("dimensions") or {}, summary)
    shutil.rmtree(work, ignore_errors=True)
