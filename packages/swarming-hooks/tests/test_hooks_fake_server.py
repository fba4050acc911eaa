"""bot_config.py against a small local HTTP server that answers like (or unlike) the state server."""

import json
import logging
import sys
import time
import types

import pytest

DIMS = {"id": ["skia-rpi2-001"], "os": ["Android"], "device_type": ["sargo"], "android_devices": ["1"]}


def test_get_dimensions_forwards_base_dimensions_and_identity(load_hooks, fake_server, bot):
    fake_server.routes["/get_dimensions"] = (200, DIMS)
    hooks = load_hooks(fake_server.url)
    assert hooks.get_dimensions(bot) == DIMS
    rec = fake_server.last("/get_dimensions")
    assert rec.method == "POST"
    assert rec.headers["X-Swarming-Bot-Id"] == "skia-rpi2-001"
    assert rec.headers["X-Swarming-Bot-Version"] == bot.bot_version
    assert rec.headers["Content-Type"].startswith("application/json")
    sent = rec.json()
    assert sent["id"] == ["skia-rpi2-001"]
    assert sent["os"] and sent["python"]


def test_get_dimensions_without_server_returns_minimal_valid_set(load_hooks, dead_url, bot):
    hooks = load_hooks(dead_url)
    dims = hooks.get_dimensions(bot)
    assert dims["id"] == ["skia-rpi2-001"]
    assert hooks._dimension_problem(dims) is None


def test_get_dimensions_keeps_last_good_when_server_goes_away(load_hooks, fake_server, bot):
    fake_server.routes["/get_dimensions"] = (200, DIMS)
    hooks = load_hooks(fake_server.url)
    assert hooks.get_dimensions(bot) == DIMS
    fake_server.routes["/get_dimensions"] = (500, {"error": "Error", "message": "boom"})
    assert hooks.get_dimensions(bot) == DIMS
    fake_server.close()
    assert hooks.get_dimensions(bot) == DIMS


@pytest.mark.parametrize(
    "reply, reason",
    [
        (b"<html>not json</html>", "not JSON"),
        ([["id", "x"]], "non-empty object"),
        ({"id": ["skia-rpi2-001"], "os": "Android"}, "non-empty list"),
        ({"id": ["skia-rpi2-001"], "os": [""]}, "invalid value"),
        ({"id": ["skia-rpi2-001"], "bad key!": ["x"]}, "characters Swarming refuses"),
        ({"id": ["skia-rpi2-001", "two"]}, "exactly one value"),
        ({"id": ["skia-rpi2-999"], "os": ["Android"]}, "serves bot id 'skia-rpi2-999'"),
    ],
)
def test_nonsense_dimensions_are_refused_and_quarantine_the_bot(load_hooks, fake_server, bot, reply, reason):
    fake_server.routes["/get_dimensions"] = (200, reply)
    fake_server.routes["/get_state"] = (200, {"battery": {"ratio": 0.9}})
    hooks = load_hooks(fake_server.url)
    dims = hooks.get_dimensions(bot)
    assert dims["id"] == ["skia-rpi2-001"]
    assert hooks._dimension_problem(dims) is None
    state = hooks.get_state(bot)
    assert state["battery"] == {"ratio": 0.9}
    assert reason in state["quarantined"]


def test_good_dimensions_after_nonsense_lift_the_quarantine(load_hooks, fake_server, bot):
    fake_server.routes["/get_dimensions"] = (200, b"nonsense")
    fake_server.routes["/get_state"] = (200, {})
    hooks = load_hooks(fake_server.url)
    hooks.get_dimensions(bot)
    assert "quarantined" in hooks.get_state(bot)
    fake_server.routes["/get_dimensions"] = (200, DIMS)
    hooks.get_dimensions(bot)
    assert "quarantined" not in hooks.get_state(bot)


def test_get_state_passes_server_reply_through(load_hooks, fake_server, bot):
    reply = {"device": {"serial": "SIM1"}, "maintenance": "Battery low: 12% < 30%", "hostname": "pi"}
    fake_server.routes["/get_state"] = (200, reply)
    hooks = load_hooks(fake_server.url)
    assert hooks.get_state(bot) == reply
    sent = fake_server.last("/get_state").json()
    assert isinstance(sent, dict) and "hostname" in sent


def test_get_state_without_server_is_quarantined_with_the_reason(load_hooks, dead_url, bot):
    hooks = load_hooks(dead_url)
    state = hooks.get_state(bot)
    assert "state server" in state["quarantined"]
    assert dead_url in state["quarantined"]
    assert "hostname" in state
    json.dumps(state)


@pytest.mark.parametrize(
    "status, body, reason",
    [(500, {"error": "Error", "message": "db"}, "HTTP 500"), (200, b"[1, 2]", "not an object"), (200, b"{", "not JSON")],
)
def test_get_state_quarantines_on_errors_and_nonsense(load_hooks, fake_server, bot, status, body, reason):
    fake_server.routes["/get_state"] = (status, body)
    hooks = load_hooks(fake_server.url)
    assert reason in hooks.get_state(bot)["quarantined"]


def test_slow_server_hits_the_short_timeout(load_hooks, fake_server, bot, monkeypatch):
    fake_server.routes["/get_state"] = (200, {})
    fake_server.delay = 3
    hooks = load_hooks(fake_server.url)
    monkeypatch.setenv("RPI_SWARMING_HOOK_TIMEOUT_SECONDS", "0.3")
    start = time.monotonic()
    state = hooks.get_state(bot)
    assert time.monotonic() - start < 2
    assert "timed out" in state["quarantined"]


def test_get_settings(load_hooks, fake_server, dead_url, bot):
    settings = {"free_partition": {"bot": {"size": 1024, "min_percent": 2}}}
    fake_server.routes["/get_settings"] = (200, settings)
    hooks = load_hooks(fake_server.url)
    assert hooks.get_settings(bot) == settings
    assert fake_server.last("/get_settings").method == "GET"
    fake_server.routes["/get_settings"] = (200, {"free_partition": {"bot": {"size": "big"}}})
    assert hooks.get_settings(bot) == {}
    fake_server.routes["/get_settings"] = (200, {"caches": 5})
    assert hooks.get_settings(bot) == {}
    fake_server.routes["/get_settings"] = (200, b"[]")
    assert hooks.get_settings(bot) == {}
    assert load_hooks(dead_url).get_settings(bot) == {}


def test_auth_headers_from_state_server(load_hooks, fake_server, bot):
    fake_server.routes["/get_authentication_headers"] = (
        200,
        {"headers": {"Authorization": "Bearer abc"}, "expiry": 1900000000},
    )
    hooks = load_hooks(fake_server.url)
    assert hooks.get_authentication_headers(bot) == ({"Authorization": "Bearer abc"}, 1900000000)
    fake_server.routes["/get_authentication_headers"] = (200, {"headers": None, "expiry": None})
    assert hooks.get_authentication_headers(bot) == (None, None)


def _token_config(tmp_path, monkeypatch, url):
    path = tmp_path / "oauth2_access_token_config.json"
    path.write_text(json.dumps({"url": url, "headers": {"Metadata-Flavor": "Google"}}))
    monkeypatch.setenv("RPI_SWARMING_TOKEN_CONFIG", str(path))


@pytest.mark.parametrize("state_server_reply", [None, (503, {"error": "NotReadyError", "message": "x"}), (200, {})])
def test_auth_falls_back_to_token_config(load_hooks, fake_server, dead_url, bot, tmp_path, monkeypatch, state_server_reply):
    # One server plays both the failing state server and the metadata server.
    fake_server.routes["/token"] = (200, {"access_token": "tok123", "expires_in": 3599, "token_type": "Bearer"})
    if state_server_reply is None:
        hooks = load_hooks(dead_url)
    else:
        fake_server.routes["/get_authentication_headers"] = state_server_reply
        hooks = load_hooks(fake_server.url)
    _token_config(tmp_path, monkeypatch, fake_server.url + "/token")
    before = time.time()
    headers, expiry = hooks.get_authentication_headers(bot)
    assert headers == {"Authorization": "Bearer tok123"}
    assert before + 3500 < expiry < time.time() + 3600
    assert fake_server.last("/token").headers["Metadata-Flavor"] == "Google"


def test_auth_default_token_config_is_in_bot_config_dir(load_hooks, fake_server, dead_url, tmp_path, monkeypatch):
    fake_server.routes["/token"] = (200, {"access_token": "t", "expires_in": 60})
    hooks = load_hooks(dead_url)
    monkeypatch.delenv("RPI_SWARMING_TOKEN_CONFIG")
    (tmp_path / "oauth2_access_token_config.json").write_text(json.dumps({"url": fake_server.url + "/token"}))
    headers, _ = hooks.get_authentication_headers(types.SimpleNamespace(id="b", bot_version="v", config_dir=str(tmp_path)))
    assert headers == {"Authorization": "Bearer t"}


def test_auth_without_state_server_or_token_config_answers_no_headers_yet_and_never_raises(
    load_hooks, dead_url, bot, caplog, monkeypatch
):
    monkeypatch.setenv("RPI_SWARMING_AUTH_RETRY_SECONDS", "30")
    hooks = load_hooks(dead_url)
    caplog.set_level(logging.DEBUG, logger="rpi_swarming.bot_config")
    started = time.time()
    headers, expiry = hooks.get_authentication_headers(bot)
    assert time.time() - started < 1
    assert headers == {}
    # The bot asks again when less than 570 s are left: here after the 30 s retry time.
    assert started + 30 + 570 - 1 <= expiry <= time.time() + 30 + 570
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "authentication" in r.getMessage()]
    assert len(warnings) == 1
    assert "cannot be read" in warnings[0].getMessage()


def test_auth_failure_is_answered_from_memory_until_the_retry_time(load_hooks, fake_server, bot, caplog, monkeypatch):
    monkeypatch.setenv("RPI_SWARMING_AUTH_RETRY_SECONDS", "0.5")
    fake_server.routes["/get_authentication_headers"] = (503, {"error": "NotReadyError", "message": "no token"})
    hooks = load_hooks(fake_server.url)
    caplog.set_level(logging.DEBUG, logger="rpi_swarming.bot_config")
    first = hooks.get_authentication_headers(bot)
    for _ in range(50):
        assert hooks.get_authentication_headers(bot) == first
    asked = [r for r in fake_server.requests if r.path == "/get_authentication_headers"]
    assert len(asked) == 1
    # After the retry time it asks again; still failing: logged at debug only.
    deadline = time.time() + 5
    while len([r for r in fake_server.requests if r.path == "/get_authentication_headers"]) < 2:
        assert time.time() < deadline
        hooks.get_authentication_headers(bot)
        time.sleep(0.05)
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING and "authentication" in r.getMessage()]) == 1
    # Once the state server answers, the token is used and the recovery is logged.
    fake_server.routes["/get_authentication_headers"] = (200, {"headers": {"Authorization": "Bearer ok"}, "expiry": 1900000000})
    deadline = time.time() + 5
    while hooks.get_authentication_headers(bot) != ({"Authorization": "Bearer ok"}, 1900000000):
        assert time.time() < deadline
        time.sleep(0.05)
    assert any("available again" in r.getMessage() for r in caplog.records)


def test_auth_with_a_failing_token_endpoint_also_answers_no_headers_yet(
    load_hooks, fake_server, dead_url, bot, tmp_path, monkeypatch
):
    hooks = load_hooks(dead_url)
    fake_server.routes["/token"] = (200, {"error": "no"})
    _token_config(tmp_path, monkeypatch, fake_server.url + "/token")
    headers, expiry = hooks.get_authentication_headers(bot)
    assert headers == {}
    assert expiry > time.time() + 570
    assert hooks._auth_problem and "without access_token" in hooks._auth_problem


def test_on_hooks_forward_their_arguments(load_hooks, fake_server, bot):
    for path in ("on_bot_startup", "on_handshake", "on_bot_idle", "on_before_task", "on_bot_shutdown"):
        fake_server.routes["/" + path] = (200, {"ok": True})
    fake_server.routes["/on_after_task"] = (200, {"ok": True, "reboot": True})
    hooks = load_hooks(fake_server.url)
    assert hooks.on_bot_startup(bot) is None
    hooks.on_handshake(bot)
    hooks.on_bot_idle(bot, 12.5)
    hooks.on_before_task(bot, "/nonexistent/bot_file.json", ["python3", "x"], {"SWARMING_TASK_ID": "4f1a0"})
    hooks.on_after_task(bot, True, False, {"pool": ["Skia"]}, {"exit_code": 1})
    hooks.on_bot_shutdown(bot)
    assert [r.path for r in fake_server.requests] == [
        "/on_bot_startup",
        "/on_handshake",
        "/on_bot_idle",
        "/on_before_task",
        "/on_after_task",
        "/on_bot_shutdown",
    ]
    assert all(r.method == "POST" for r in fake_server.requests)
    assert fake_server.last("/on_bot_idle").json() == {"since_last_action_s": 12.5}
    assert fake_server.last("/on_before_task").json() == {"task_id": "4f1a0"}
    assert fake_server.last("/on_after_task").json() == {
        "failure": True,
        "internal_failure": False,
        "task_dimensions": {"pool": ["Skia"]},
        "summary": {"exit_code": 1},
    }


def test_on_before_task_reads_task_id_from_bot_file(load_hooks, fake_server, bot, tmp_path):
    fake_server.routes["/on_before_task"] = (200, {"ok": True})
    bot_file = tmp_path / "bot_file.json"
    bot_file.write_text(json.dumps({"task_id": "77aa"}))
    hooks = load_hooks(fake_server.url)
    hooks.on_before_task(bot, str(bot_file), [], {})
    assert fake_server.last("/on_before_task").json() == {"task_id": "77aa"}


def test_on_hooks_without_server_log_and_return(load_hooks, dead_url, bot, caplog):
    hooks = load_hooks(dead_url)
    with caplog.at_level("DEBUG"):
        hooks.on_bot_startup(bot)
        hooks.on_handshake(bot)
        hooks.on_bot_idle(bot, 1)
        hooks.on_bot_idle(bot, 2)
        hooks.on_before_task(bot, None, None, None)
        hooks.on_after_task(bot, False, False, None, None)
        hooks.on_bot_shutdown(bot)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    # One warning per hook when it starts failing, not one per call.
    assert len([r for r in warnings if "on_bot_idle" in r.getMessage()]) == 1
    assert any("on_after_task" in r.getMessage() for r in warnings)


def test_os_utilities_that_raise_are_survived(load_hooks, dead_url, bot, monkeypatch):
    utilities = types.ModuleType("api.os_utilities")

    def boom():
        raise ValueError("no microcode line in /proc/cpuinfo")

    utilities.get_dimensions = boom
    utilities.get_state = boom
    api = types.ModuleType("api")
    api.os_utilities = utilities
    monkeypatch.setitem(sys.modules, "api", api)
    monkeypatch.setitem(sys.modules, "api.os_utilities", utilities)
    hooks = load_hooks(dead_url)
    assert hooks.get_dimensions(bot)["id"] == ["skia-rpi2-001"]
    assert "quarantined" in hooks.get_state(bot)


def test_os_utilities_are_used_when_they_work(load_hooks, fake_server, bot, monkeypatch):
    utilities = types.ModuleType("api.os_utilities")
    utilities.get_dimensions = lambda: {"id": ["hostname"], "os": ["Linux", "Debian"], "cpu": ["arm"]}
    utilities.get_state = lambda: {"ram": 4096}
    api = types.ModuleType("api")
    api.os_utilities = utilities
    monkeypatch.setitem(sys.modules, "api", api)
    monkeypatch.setitem(sys.modules, "api.os_utilities", utilities)
    fake_server.routes["/get_dimensions"] = (200, DIMS)
    fake_server.routes["/get_state"] = (200, {"ok": 1})
    hooks = load_hooks(fake_server.url)
    hooks.get_dimensions(bot)
    hooks.get_state(bot)
    assert fake_server.last("/get_dimensions").json() == {"id": ["skia-rpi2-001"], "os": ["Linux", "Debian"], "cpu": ["arm"]}
    assert fake_server.last("/get_state").json() == {"ram": 4096}


def test_bad_timeout_setting_falls_back_to_default(load_hooks, dead_url, monkeypatch):
    hooks = load_hooks(dead_url)
    monkeypatch.setenv("RPI_SWARMING_HOOK_TIMEOUT_SECONDS", "soon")
    assert hooks._timeout() == hooks.DEFAULT_TIMEOUT_SECONDS
    monkeypatch.setenv("RPI_SWARMING_HOOK_TIMEOUT_SECONDS", "0.5")
    assert hooks._timeout() == 0.5


def test_default_state_server_url(load_hooks, monkeypatch):
    hooks = load_hooks("")
    assert hooks._state_server_url() == "http://127.0.0.1:11000"
    monkeypatch.setenv("RPI_SWARMING_STATE_SERVER_URL", "http://127.0.0.1:12345/")
    assert hooks._state_server_url() == "http://127.0.0.1:12345"


def test_script_is_python_38_syntax_and_standard_library_only():
    import ast

    from conftest import SCRIPT

    tree = ast.parse(SCRIPT.read_text(), feature_version=(3, 8))
    # sys.stdlib_module_names exists from Python 3.10; before, the modules the script is known to use.
    stdlib = set(getattr(sys, "stdlib_module_names", ())) or {
        "http", "json", "logging", "os", "platform", "socket", "sys", "time", "urllib"
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in stdlib or top == "api", "non-stdlib import %s" % name


def test_bot_may_be_none_early_in_start_up(load_hooks, fake_server, dead_url, monkeypatch):
    # The real bot can call get_dimensions/get_state before its bot object exists.
    monkeypatch.setenv("SWARMING_BOT_ID", "skia-rpi2-001")
    fake_server.routes["/get_dimensions"] = (200, DIMS)
    fake_server.routes["/get_state"] = (200, {"ok": True})
    hooks = load_hooks(fake_server.url)
    assert hooks.get_dimensions(None) == DIMS
    assert hooks.get_state(None) == {"ok": True}
    assert fake_server.last("/get_state").headers["X-Swarming-Bot-Id"] == "skia-rpi2-001"
    down = load_hooks(dead_url)
    assert down.get_dimensions(None)["id"] == ["skia-rpi2-001"]
    assert "quarantined" in down.get_state(None)


def test_proxy_settings_are_ignored(load_hooks, fake_server, dead_url, bot, monkeypatch):
    # A lab-wide HTTP proxy must not carry loopback calls (nothing listens at dead_url).
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, dead_url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    fake_server.routes["/get_dimensions"] = (200, DIMS)
    assert load_hooks(fake_server.url).get_dimensions(bot) == DIMS


def test_a_server_that_is_not_http_quarantines(load_hooks, bot):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)

    def garbage():
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.close()

    threading.Thread(target=garbage, daemon=True).start()
    try:
        hooks = load_hooks("http://127.0.0.1:%d" % listener.getsockname()[1])
        assert "state server" in hooks.get_state(bot)["quarantined"]
        assert hooks.get_dimensions(bot)["id"] == ["skia-rpi2-001"]
    finally:
        listener.close()
