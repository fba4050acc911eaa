"""Fixtures for the hook script's tests: a fresh copy of bot_config.py per test,
a fake Swarming `bot` object, small local HTTP servers, and a port nothing listens on."""

import importlib.util
import json
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HOOKS_DIR = Path(__file__).resolve().parent.parent
SCRIPT = HOOKS_DIR / "bot_config.py"
REPO_ROOT = HOOKS_DIR.parent.parent


class FakeBot:
    """The attributes and methods the real bot's `bot` object offers hooks (docs/swarming-bot.md)."""

    def __init__(self, bot_id="skia-rpi2-001", base_dir="/b/s", config_dir="/etc/swarming_config"):
        self.id = bot_id
        self.dimensions = {}
        self.state = {}
        self.server = "http://127.0.0.1:1"
        self.base_dir = base_dir
        self.config_dir = config_dir
        self.swarming_bot_zip = base_dir + "/swarming_bot.1.zip"
        self.bot_version = "0123abcd" * 8
        self.events = []

    def post_event(self, event_type, message):
        self.events.append((event_type, message))

    def post_error(self, message):
        self.events.append(("bot_error", message))

    def host_reboot(self, message):
        self.events.append(("host_reboot", message))

    def bot_restart(self, message):
        self.events.append(("bot_restart", message))


@pytest.fixture
def bot():
    return FakeBot()


@pytest.fixture
def load_hooks(monkeypatch, tmp_path):
    """Returns a loader that imports a fresh bot_config module for a state server url."""
    monkeypatch.setenv("RPI_SWARMING_TOKEN_CONFIG", str(tmp_path / "no-token-config.json"))
    monkeypatch.setenv("RPI_SWARMING_HOOK_TIMEOUT_SECONDS", "1")
    loaded = []

    def load(url):
        monkeypatch.setenv("RPI_SWARMING_STATE_SERVER_URL", url)
        name = "bot_config_under_test_%s" % uuid.uuid4().hex
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(name)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


@pytest.fixture
def dead_url():
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return "http://127.0.0.1:%d" % port


class Recorded:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None


class FakeServer:
    """A loopback HTTP server answering from a route table and recording every request.

    A route value is (status, body) where body is bytes, or a JSON-serialisable
    value, or a callable(Recorded) returning (status, body); `delay` seconds
    are slept before answering.
    """

    def __init__(self):
        self.routes = {}
        self.requests = []
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(self.command, self.path, dict(self.headers.items()), body)
                outer.requests.append(rec)
                if outer.delay:
                    time.sleep(outer.delay)
                route = outer.routes.get((self.command, self.path)) or outer.routes.get(self.path)
                if route is None:
                    status, payload = 404, {"error": "NotFoundError", "message": "no route"}
                elif callable(route):
                    status, payload = route(rec)
                else:
                    status, payload = route
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # The client gave up (timeout tests).

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def last(self, path):
        for rec in reversed(self.requests):
            if rec.path == path:
                return rec
        raise AssertionError("no request to %s; got %s" % (path, [r.path for r in self.requests]))

    def close(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.close()
