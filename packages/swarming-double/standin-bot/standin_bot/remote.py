"""HTTP client for the Swarming bot API, with the headers every bot request carries."""

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.request

from standin_bot import LABEL

log = logging.getLogger("standin")

# The real bot refreshes headers when the expiry is closer than this.
AUTH_REFRESH_MARGIN_S = 570


class HttpError(Exception):
    def __init__(self, status, body, url):
        Exception.__init__(self, "HTTP %s from %s: %s" % (status, url, body[:200]))
        self.status = status


class Remote(object):
    def __init__(self, server, bot_id, version, auth_callback):
        self.server = server
        self.bot_id = bot_id
        self.version = version
        # auth_callback() -> (headers or None, expiry or None); may raise.
        self._auth_callback = auth_callback
        self._auth_headers = {}
        self._auth_expiry = None
        self._auth_disabled = False
        self._auth_needed = True
        self.last_auth_error = None
        self._auth_lock = threading.RLock()

    @property
    def user_agent(self):
        return "swarming_bot/%s-%s" % (LABEL, self.version)

    def init_auth(self, tries, delay_s, quit_event):
        """Called at start: up to `tries` calls of the hook, `delay_s` apart. Returns the last error or None."""
        for attempt in range(1, tries + 1):
            if self._refresh_auth():
                return None
            if attempt < tries and quit_event.wait(delay_s):
                return None
        log.error("get_authentication_headers failed %d times; continuing without auth headers", tries)
        return self.last_auth_error

    def _refresh_auth(self):
        try:
            result = self._auth_callback()
            headers, expiry = result
            if headers is not None and not isinstance(headers, dict):
                raise ValueError("headers must be a dict or None, got %r" % (type(headers).__name__,))
        except Exception as e:  # noqa: BLE001 - a broken hook must not stop the bot
            log.warning("get_authentication_headers failed: %s", e)
            self.last_auth_error = "%s: %s" % (type(e).__name__, e)
            return False
        self._auth_needed = False
        if expiry is None:
            # Like the real bot: no expiry means auth is off for good.
            log.info("get_authentication_headers returned no expiry: authentication is off")
            self._auth_disabled = True
            self._auth_headers = {}
        else:
            self._auth_headers = dict(headers or {})
            self._auth_expiry = float(expiry)
            log.info("authentication headers refreshed (keys %s), expiry in %ds",
                     sorted(self._auth_headers), int(self._auth_expiry - time.time()))
        return True

    def headers(self, json_body):
        # The task's auth-file writer thread asks too: one hook call at a time.
        with self._auth_lock:
            if not self._auth_disabled and (
                self._auth_needed
                or (self._auth_expiry is not None and self._auth_expiry - time.time() < AUTH_REFRESH_MARGIN_S)
            ):
                self._refresh_auth()
        h = {"X-Luci-Swarming-Bot-ID": self.bot_id, "User-Agent": self.user_agent}
        if json_body:
            h["Content-Type"] = "application/json; charset=UTF-8"
        h.update(self._auth_headers)
        return h

    def _open(self, req, timeout):
        try:
            return urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            raise HttpError(e.code, body, req.full_url)

    def auth_snapshot(self):
        """(headers, expiry) as now in use, for task_runner's bot_auth_params.json."""
        self.headers(False)
        return dict(self._auth_headers), (None if self._auth_disabled else self._auth_expiry)

    def server_ping(self, timeout=10):
        """GET server_ping: no bot id, no auth headers (the endpoint needs none)."""
        req = urllib.request.Request(self.server + "/swarming/api/v1/bot/server_ping",
                                     headers={"User-Agent": self.user_agent})
        with self._open(req, timeout) as resp:
            return resp.read().decode("utf-8", "replace")

    def post_task_update(self, task_id, params, output=None, output_start=0, exit_code=None):
        """task_update; False when the server says must_stop. An empty reply is an error (like the real bot)."""
        body = {"id": self.bot_id, "task_id": task_id}
        body.update(params)
        if output is not None:
            body["output"] = base64.b64encode(output).decode("ascii")
            body["output_chunk_start"] = output_start
        if exit_code is not None:
            body["exit_code"] = exit_code
        reply = self.post_json("/swarming/api/v1/bot/task_update/" + task_id, body)
        if not isinstance(reply, dict) or not reply or reply.get("error"):
            raise IOError("task_update for %s failed: %r" % (task_id, reply))
        return not reply.get("must_stop")

    def post_task_error(self, task_id, message):
        self.post_json("/swarming/api/v1/bot/task_error/" + task_id,
                       {"id": self.bot_id, "task_id": task_id, "message": message})

    def post_json(self, path, body, timeout=60):
        data = json.dumps(body, sort_keys=True).encode("utf-8")
        req = urllib.request.Request(self.server + path, data=data, headers=self.headers(True), method="POST")
        with self._open(req, timeout) as resp:
            raw = resp.read()
        if not raw.strip():
            return None
        return json.loads(raw.decode("utf-8"))

    def download(self, path, out_path, timeout=120):
        req = urllib.request.Request(self.server + path, headers=self.headers(False))
        size = 0
        with self._open(req, timeout) as resp, open(out_path, "wb") as out:
            expected = resp.headers.get("Content-Length")
            while True:
                chunk = resp.read(65536)
                if not chunk:
                    break
                out.write(chunk)
                size += len(chunk)
        if expected is not None and int(expected) != size:
            raise IOError("download of %s cut short: %d of %s bytes" % (path, size, expected))
        return size
