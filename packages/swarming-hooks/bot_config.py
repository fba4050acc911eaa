# Copyright 2026 The rpi-swarming Authors. Apache-2.0.
"""rpi-swarming hook script (``bot_config.py``) for the LUCI Swarming bot.

The Swarming server hands this file to every bot of a bot group (``bots.cfg``:
``bot_config_script``). Each hook forwards to the rpi-swarming state server
that runs beside the bot in the same pod (default ``http://127.0.0.1:11000``,
environment ``RPI_SWARMING_STATE_SERVER_URL``), which knows the attached
phone: its dimensions, its health and whether it may take tasks.

Python 3.8+ standard library only: the bot ships no third-party packages for
hooks. Every hook is written never to raise where raising would hurt the bot:
when the state server is down or answers nonsense, ``get_state`` quarantines
the bot with the reason, ``get_dimensions`` keeps the last good dimensions,
``get_settings`` returns no overrides (the bot's defaults) and the ``on_*``
hooks log and return.
"""

import http.client
import json
import logging
import os
import platform
import socket
import sys
import time
import urllib.error
import urllib.request

HOOK_SCRIPT_VERSION = "1"

STATE_SERVER_ENV = "RPI_SWARMING_STATE_SERVER_URL"
DEFAULT_STATE_SERVER = "http://127.0.0.1:11000"
TIMEOUT_ENV = "RPI_SWARMING_HOOK_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 3.0
TOKEN_CONFIG_ENV = "RPI_SWARMING_TOKEN_CONFIG"
AUTH_RETRY_ENV = "RPI_SWARMING_AUTH_RETRY_SECONDS"
DEFAULT_AUTH_RETRY_SECONDS = 30.0
# The bot asks for headers again once their expiry is less than this far away (swarming-bot.md).
BOT_AUTH_REFRESH_MARGIN_S = 570
TOKEN_CONFIG_NAME = "oauth2_access_token_config.json"
DEFAULT_CONFIG_DIR = "/etc/swarming_config"

# Replies over this size are nonsense for a hook API that answers in bytes.
MAX_REPLY_BYTES = 1024 * 1024

# Swarming server rules for dimensions (docs/swarming-bot.md).
_DIMENSION_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

_log = logging.getLogger("rpi_swarming.bot_config")

# No proxy: the state server is on loopback, and the token endpoint is reached
# directly as the supervisor and state server do (a lab's HTTP_PROXY must not
# swallow these calls).
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Module state lives as long as the bot process (the bot imports this file once).
_last_good_dimensions = None
_dimensions_problem = None
_failing = {}
# get_authentication_headers: why no token could be had (None while it works), and until when that answer stands.
_auth_problem = None
_auth_retry_at = 0.0


class StateServerError(Exception):
    """The state server could not be reached or answered something unusable."""


class TokenError(Exception):
    """No access token could be fetched from the token config's endpoint."""


def _state_server_url():
    return os.environ.get(STATE_SERVER_ENV, "").strip().rstrip("/") or DEFAULT_STATE_SERVER


def _positive_env(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        _log.warning("%s=%r is not a number; using %ss", name, raw, default)
        return default
    return value if value > 0 else default


def _timeout():
    return _positive_env(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS)


def _bot_attr(bot, name, default=None):
    try:
        value = getattr(bot, name)
    except Exception:  # The real bot's properties can raise early in start-up.
        return default
    return default if value is None else value


def _bot_id(bot):
    bot_id = _bot_attr(bot, "id")
    if isinstance(bot_id, str) and bot_id:
        return bot_id
    return os.environ.get("SWARMING_BOT_ID") or socket.gethostname().split(".")[0].lower()


def _identity_headers(bot):
    return {
        "X-Swarming-Bot-Id": _bot_id(bot),
        "X-Swarming-Bot-Version": str(_bot_attr(bot, "bot_version", "")),
        "User-Agent": "rpi-swarming-bot-config/%s" % HOOK_SCRIPT_VERSION,
    }


def _request_json(url, method="GET", body=None, headers=None, timeout=None):
    """One HTTP exchange whose reply must be JSON. Raises StateServerError."""
    data = None
    all_headers = {"Accept": "application/json"}
    all_headers.update(headers or {})
    if body is not None:
        data = json.dumps(body, default=str).encode("utf-8")
        all_headers["Content-Type"] = "application/json; charset=utf-8"
    req = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with _opener.open(req, timeout=timeout or _timeout()) as resp:
            raw = resp.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as e:
        detail = ""
        try:
            detail = e.read(2048).decode("utf-8", "replace").strip()
        except Exception:
            pass
        raise StateServerError("%s %s answered HTTP %d %s" % (method, url, e.code, detail[:300]))
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise StateServerError("%s %s failed: %s" % (method, url, reason))
    if len(raw) > MAX_REPLY_BYTES:
        raise StateServerError("%s %s answered more than %d bytes" % (method, url, MAX_REPLY_BYTES))
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError as e:
        raise StateServerError("%s %s answered something that is not JSON: %s" % (method, url, e))


def _call(bot, hook, method="POST", body=None, quiet=False):
    """Calls the state server's endpoint for a hook; logs only changes between working and failing.

    quiet: the caller logs the failure itself.
    """
    url = "%s/%s" % (_state_server_url(), hook)
    try:
        reply = _request_json(url, method, body, _identity_headers(bot))
    except StateServerError as e:
        if hook not in _failing and not quiet:
            _log.warning("state server call %s failed: %s", hook, e)
        else:
            _log.debug("state server call %s still failing: %s", hook, e)
        _failing[hook] = str(e)
        raise
    if _failing.pop(hook, None) is not None:
        _log.info("state server call %s works again", hook)
    return reply


# --- The bot's own view of the machine -----------------------------------------


_NOT_LOADED = object()
_os_utilities_module = _NOT_LOADED


def _os_utilities():
    """The stock helpers; importable only inside the real Swarming bot. Looked up once."""
    global _os_utilities_module
    if _os_utilities_module is _NOT_LOADED:
        try:
            from api import os_utilities  # type: ignore[import-not-found]

            _os_utilities_module = os_utilities
        except Exception:
            _os_utilities_module = None
    return _os_utilities_module


def _minimal_dimensions(bot):
    machine = platform.machine().lower() or "unknown"
    cpu = "arm" if machine.startswith(("arm", "aarch")) else ("x86" if machine in ("x86_64", "amd64", "i686") else machine)
    return {
        "id": [_bot_id(bot)],
        "os": [platform.system() or "unknown"],
        "cpu": [cpu],
        "python": ["%d.%d" % sys.version_info[:2]],
    }


def _base_dimensions(bot):
    utilities = _os_utilities()
    if utilities is not None:
        try:
            dims = utilities.get_dimensions()
            if _valid_dimensions(dims):
                dims = dict(dims)
                dims["id"] = [_bot_id(bot)]
                return dims
        except Exception as e:  # Known to raise on some Linux machines (missing cpuinfo lines).
            _log.warning("os_utilities.get_dimensions failed, using minimal dimensions: %s", e)
    return _minimal_dimensions(bot)


def _base_state(bot):
    utilities = _os_utilities()
    if utilities is not None:
        try:
            state = utilities.get_state()
            if isinstance(state, dict):
                return dict(state)
        except Exception as e:
            _log.warning("os_utilities.get_state failed, using minimal state: %s", e)
    return {
        "hostname": socket.gethostname(),
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "rpi_swarming_hook_script": HOOK_SCRIPT_VERSION,
    }


# --- Validation of replies --------------------------------------------------------


def _dimension_problem(dims):
    """None when dims obey the Swarming server's rules, else what is wrong."""
    if not isinstance(dims, dict) or not dims:
        return "dimensions must be a non-empty object"
    for key, values in dims.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            return "dimension key %r must be 1 to 64 characters" % (key,)
        if key[0].isdigit() or any(c not in _DIMENSION_KEY_CHARS for c in key):
            return "dimension key %r has characters Swarming refuses" % key
        if not isinstance(values, list) or not values:
            return "dimension %r must be a non-empty list of strings" % key
        for v in values:
            if not isinstance(v, str) or not v or len(v) > 256 or v != v.strip():
                return "dimension %r has an invalid value %r" % (key, v)
    ids = dims.get("id")
    if ids is not None and len(ids) != 1:
        return "dimension 'id' must have exactly one value"
    return None


def _valid_dimensions(dims):
    return _dimension_problem(dims) is None


def _settings_problem(settings):
    if not isinstance(settings, dict):
        return "settings must be an object"
    for section in ("free_partition", "caches"):
        if section not in settings:
            continue
        groups = settings[section]
        if not isinstance(groups, dict):
            return "settings.%s must be an object" % section
        for name, limits in groups.items():
            if not isinstance(limits, dict):
                return "settings.%s.%s must be an object" % (section, name)
            for k, v in limits.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return "settings.%s.%s.%s must be a number" % (section, name, k)
    return None


def _join_reasons(*reasons):
    parts = []
    for r in reasons:
        if r is True:
            r = "quarantined"
        if isinstance(r, str) and r and r not in parts:
            parts.append(r)
    return "; ".join(parts)


# --- Hooks --------------------------------------------------------------------------


def get_dimensions(bot):
    """Dimensions from the state server; the last good ones (or a minimal set) when it fails."""
    global _last_good_dimensions, _dimensions_problem
    bot_id = _bot_id(bot)
    try:
        reply = _call(bot, "get_dimensions", "POST", _base_dimensions(bot))
        problem = _dimension_problem(reply)
        if problem:
            raise StateServerError("state server sent invalid dimensions: %s" % problem)
        if reply.get("id") != [bot_id]:
            # The pod is configured for another bot: serving it would route tasks to the wrong phone.
            raise StateServerError(
                "state server serves bot id %r but this bot is %r; fix SWARMING_BOT_ID of the pod"
                % ((reply.get("id") or [None])[0], bot_id)
            )
    except StateServerError as e:
        _dimensions_problem = str(e)
        if _last_good_dimensions is not None:
            return dict(_last_good_dimensions)
        dims = _base_dimensions(bot)
        dims["id"] = [bot_id]
        return dims
    _dimensions_problem = None
    _last_good_dimensions = dict(reply)
    return dict(reply)


def get_state(bot):
    """State from the state server; quarantined with the reason when it fails."""
    base = _base_state(bot)
    try:
        reply = _call(bot, "get_state", "POST", base)
        if not isinstance(reply, dict):
            raise StateServerError("state server sent a state that is not an object")
    except StateServerError as e:
        base["quarantined"] = _join_reasons(base.get("quarantined"), "rpi-swarming state server: %s" % e)
        return base
    if _dimensions_problem:
        reply["quarantined"] = _join_reasons(reply.get("quarantined"), "rpi-swarming: %s" % _dimensions_problem)
    return reply


def get_settings(bot):
    """Settings overrides from the state server; none (the bot's defaults) when it fails."""
    try:
        reply = _call(bot, "get_settings", "GET")
        problem = _settings_problem(reply)
        if problem:
            raise StateServerError("state server sent invalid settings: %s" % problem)
    except StateServerError:
        return {}
    return reply


def _token_config_path(bot):
    override = os.environ.get(TOKEN_CONFIG_ENV, "").strip()
    if override:
        return override
    return os.path.join(_bot_attr(bot, "config_dir", DEFAULT_CONFIG_DIR), TOKEN_CONFIG_NAME)


def _token_from_config(bot):
    """Fetches a token itself, as the state server would, from the token config's url."""
    path = _token_config_path(bot)
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise TokenError("token config %s cannot be read: %s" % (path, e))
    url = config.get("url") if isinstance(config, dict) else None
    headers = (config.get("headers") or {}) if isinstance(config, dict) else {}
    if not isinstance(url, str) or not url or not isinstance(headers, dict):
        raise TokenError("token config %s needs a string 'url' and an object 'headers'" % path)
    try:
        reply = _request_json(url, "GET", None, {str(k): str(v) for k, v in headers.items()})
    except StateServerError as e:
        raise TokenError("token endpoint from %s: %s" % (path, e))
    token = reply.get("access_token") if isinstance(reply, dict) else None
    expires_in = reply.get("expires_in") if isinstance(reply, dict) else None
    if not isinstance(token, str) or not token or isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
        raise TokenError("token endpoint from %s answered without access_token and expires_in" % path)
    token_type = reply.get("token_type") or "Bearer"
    return {"Authorization": "%s %s" % (token_type, token)}, int(time.time() + expires_in)


def _headers_from_sources(bot):
    """(headers, expiry) from the state server, else from the token config directly; raises TokenError."""
    try:
        reply = _call(bot, "get_authentication_headers", "GET", quiet=True)
        if not isinstance(reply, dict) or "headers" not in reply or "expiry" not in reply:
            raise StateServerError("state server sent authentication headers without 'headers' and 'expiry'")
        headers, expiry = reply["headers"], reply["expiry"]
        if headers is None and expiry is None:
            return None, None
        if not isinstance(headers, dict) or isinstance(expiry, bool) or not isinstance(expiry, (int, float)):
            raise StateServerError("state server sent malformed authentication headers")
        return {str(k): str(v) for k, v in headers.items()}, int(expiry)
    except StateServerError as server_error:
        try:
            headers, expiry = _token_from_config(bot)
        except TokenError as token_error:
            raise TokenError("no access token: %s; and %s" % (server_error, token_error))
        _log.info("using a token fetched directly (state server unavailable)")
        return headers, expiry


def get_authentication_headers(bot):
    """(headers, expiry) from the state server, else from the token config directly.

    When neither works it never raises (a raise costs the bot 30 tries 2 s
    apart before its handshake, and a traceback per request): it answers "no
    headers yet" with an expiry that makes the bot ask again after
    RPI_SWARMING_AUTH_RETRY_SECONDS (default 30), answers the same from memory
    until then, and logs the problem once until it is solved. Only the state
    server saying so ({headers: null, expiry: null}) turns auth off for good.
    """
    global _auth_problem, _auth_retry_at
    now = time.time()
    if _auth_problem is not None and now < _auth_retry_at:
        return {}, int(_auth_retry_at) + BOT_AUTH_REFRESH_MARGIN_S
    try:
        result = _headers_from_sources(bot)
    except TokenError as e:
        if _auth_problem is None:
            _log.warning("no authentication headers for now, asking again in %ds: %s", _auth_retry_seconds(), e)
        else:
            _log.debug("still no authentication headers: %s", e)
        _auth_problem = str(e)
        _auth_retry_at = now + _auth_retry_seconds()
        return {}, int(_auth_retry_at) + BOT_AUTH_REFRESH_MARGIN_S
    if _auth_problem is not None:
        _log.info("authentication headers available again")
        _auth_problem = None
    return result


def _auth_retry_seconds():
    return _positive_env(AUTH_RETRY_ENV, DEFAULT_AUTH_RETRY_SECONDS)


def _notify(bot, hook, body=None):
    try:
        return _call(bot, hook, "POST", body if body is not None else {})
    except StateServerError:
        return None


def on_bot_startup(bot):
    _notify(bot, "on_bot_startup")


def on_handshake(bot):
    _notify(bot, "on_handshake")


def on_bot_idle(bot, since_last_action_s):
    body = {}
    if isinstance(since_last_action_s, (int, float)) and not isinstance(since_last_action_s, bool):
        body["since_last_action_s"] = since_last_action_s
    _notify(bot, "on_bot_idle", body)


def _task_id(bot_file, runner_env):
    if isinstance(runner_env, dict):
        task_id = runner_env.get("SWARMING_TASK_ID")
        if isinstance(task_id, bytes):
            task_id = task_id.decode("ascii", "replace")
        if isinstance(task_id, str) and task_id:
            return task_id
    if isinstance(bot_file, str) and bot_file:
        try:
            with open(bot_file) as f:
                data = json.load(f)
            if isinstance(data, dict) and isinstance(data.get("task_id"), str):
                return data["task_id"]
        except (OSError, ValueError):
            pass
    return None


def on_before_task(bot, bot_file=None, runner_cmd=None, runner_env=None):
    task_id = _task_id(bot_file, runner_env)
    _notify(bot, "on_before_task", {"task_id": task_id} if task_id else {})


def on_after_task(bot, failure=False, internal_failure=False, task_dimensions=None, summary=None):
    body = {
        "failure": bool(failure),
        "internal_failure": bool(internal_failure),
        "task_dimensions": task_dimensions if isinstance(task_dimensions, dict) else {},
        "summary": summary if isinstance(summary, dict) else {},
    }
    reply = _notify(bot, "on_after_task", body)
    if isinstance(reply, dict) and reply.get("reboot"):
        _log.info("state server reboots the device after the task")


def on_bot_shutdown(bot):
    _notify(bot, "on_bot_shutdown")
