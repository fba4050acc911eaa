"""Runs the real `rpi-swarming state-server` (built CLI) for the hook script's tests."""

import json
import os
import signal
import subprocess
import time
import urllib.request

from conftest import REPO_ROOT

CLI = REPO_ROOT / "packages" / "cli" / "bin" / "rpi-swarming.js"
BUILT = REPO_ROOT / "packages" / "cli" / "dist" / "main.js"


class StateServer:
    """One state-server process with the simulated device, on free loopback ports.

    Ports are chosen by the server (port 0) and read from its log, so there is
    no race for them; restart() reuses the same ports.
    """

    def __init__(self, tmp_path, bot_id="skia-rpi2-001", extra_args=(), extra_env=None):
        if not BUILT.exists():
            raise RuntimeError("build the CLI first: npx tsc -b (missing %s)" % BUILT)
        self.tmp = tmp_path
        self.bot_id = bot_id
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})
        self.maintenance_dir = tmp_path / "maintenance"
        self.maintenance_dir.mkdir(exist_ok=True)
        self.log_path = tmp_path / "state-server.log"
        self.proc = None
        self.hook_port = 0
        self.metrics_port = 0
        self.control_port = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.hook_port

    @property
    def control_url(self):
        return "http://127.0.0.1:%d/control" % self.control_port

    def start(self, timeout=20):
        args = [
            "node",
            str(CLI),
            "state-server",
            "--device=simulated",
            "--bot-id=%s" % self.bot_id,
            "--hook-host=127.0.0.1",
            "--hook-port=%d" % self.hook_port,
            "--metrics-host=127.0.0.1",
            "--metrics-port=%d" % self.metrics_port,
            "--simulated-control-port=%d" % self.control_port,
            "--maintenance-dir=%s" % self.maintenance_dir,
            "--token-config=%s" % (self.tmp / "no-token-config.json"),
            "--probe-interval-seconds=0.2",
        ] + self.extra_args
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.pop("RPI_SWARMING_CONFIG", None)
        env.update(self.extra_env)
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("state server exited %s:\n%s" % (self.proc.returncode, self.log_tail()))
            self._read_ports(offset)
            if self.hook_port and self.metrics_port and self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("state server not ready within %ss:\n%s" % (timeout, self.log_tail()))

    def _read_ports(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if "hookUrl" in rec:
                    self.hook_port = int(rec["hookUrl"].rsplit(":", 1)[1])
                    self.metrics_port = int(rec["metricsUrl"].rsplit(":", 1)[1])
                if "controlUrl" in rec:
                    self.control_port = int(rec["controlUrl"].split(":")[2].split("/")[0])

    def _ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.metrics_port, timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def status(self):
        with urllib.request.urlopen(self.url + "/status", timeout=2) as r:
            return json.loads(r.read())

    def control(self, patch):
        req = urllib.request.Request(
            self.control_url, data=json.dumps(patch).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.loads(r.read())

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=15)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_for(check, timeout=10, what="a condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))
