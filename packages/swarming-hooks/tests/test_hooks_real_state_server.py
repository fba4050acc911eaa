"""bot_config.py against the real state server (`rpi-swarming state-server --device simulated`)."""

import json
import signal

import pytest
from state_server import StateServer, wait_for


@pytest.fixture
def server(tmp_path):
    s = StateServer(tmp_path).start()
    yield s
    s.stop()


def test_dimensions_and_state_come_from_the_device(load_hooks, server, bot):
    hooks = load_hooks(server.url)
    dims = hooks.get_dimensions(bot)
    assert dims["id"] == ["skia-rpi2-001"]
    assert dims["os"] == ["Android"]
    assert dims["device_type"] == ["sargo"]
    assert dims["android_devices"] == ["1"]
    assert "Q" in dims["device_os"]
    # The bot's own dimensions are kept where the device has nothing to say.
    assert dims["python"]
    state = hooks.get_state(bot)
    assert "quarantined" not in state and "maintenance" not in state
    assert 0 < state["battery"]["ratio"] <= 1
    assert state["task_running"] is False
    assert "hostname" in state
    json.dumps(state)


def test_settings_and_auth(load_hooks, tmp_path, bot):
    settings = {"free_partition": {"bot": {"size": 1073741824}}}
    server = StateServer(tmp_path, extra_env={"RPI_SWARMING_BOT_SETTINGS": json.dumps(settings)}).start()
    try:
        hooks = load_hooks(server.url)
        assert hooks.get_settings(bot) == settings
        # No token config: auth is off.
        assert hooks.get_authentication_headers(bot) == (None, None)
    finally:
        server.stop()


def test_lifecycle_hooks_reach_the_state_server(load_hooks, server, bot):
    hooks = load_hooks(server.url)
    hooks.on_bot_startup(bot)
    hooks.on_handshake(bot)
    hooks.on_bot_idle(bot, 3)
    status = server.status()
    assert status["bot_version"] == bot.bot_version
    assert status["bot_last_seen"]
    hooks.on_before_task(bot, None, ["python3"], {"SWARMING_TASK_ID": "5a1b2c"})
    status = server.status()
    assert status["task_running"] is True
    assert status["task_id"] == "5a1b2c"
    assert hooks.get_state(bot)["task_running"] is True
    hooks.on_after_task(bot, False, False, {"pool": ["Skia"]}, {"exit_code": 0})
    assert server.status()["task_running"] is False
    hooks.on_before_task(bot, None, [], {"SWARMING_TASK_ID": "6"})
    hooks.on_bot_shutdown(bot)
    assert server.status()["task_running"] is False


def test_missing_device_quarantines_and_recovers(load_hooks, server, bot):
    hooks = load_hooks(server.url)
    assert "quarantined" not in hooks.get_state(bot)
    server.control({"unplugged": True})
    state = wait_for(lambda: hooks.get_state(bot).get("quarantined"), what="quarantine of a missing device")
    assert "SIMULATED0001" in state or "missing" in state.lower()
    server.control({"unplugged": False})
    wait_for(lambda: "quarantined" not in hooks.get_state(bot), what="recovery of the device")


def test_low_battery_and_operator_maintenance(load_hooks, server, bot):
    hooks = load_hooks(server.url)
    server.control({"batteryRatio": 0.1})
    message = wait_for(lambda: hooks.get_state(bot).get("maintenance"), what="battery maintenance")
    assert "attery" in message
    server.control({"batteryRatio": 0.9})
    wait_for(lambda: "maintenance" not in hooks.get_state(bot), what="battery recovery")
    (server.maintenance_dir / "all").write_text("replacing the USB hub")
    message = wait_for(lambda: hooks.get_state(bot).get("maintenance"), what="operator maintenance")
    assert "replacing the USB hub" in message


def test_state_server_killed_and_restarted(load_hooks, server, bot):
    hooks = load_hooks(server.url)
    good = hooks.get_dimensions(bot)
    assert "quarantined" not in hooks.get_state(bot)
    server.kill(signal.SIGKILL)
    assert hooks.get_dimensions(bot) == good
    state = hooks.get_state(bot)
    assert "state server" in state["quarantined"] and server.url in state["quarantined"]
    assert hooks.get_settings(bot) == {}
    hooks.on_bot_idle(bot, 1)  # Logs and returns.
    server.start()

    def poll_like_the_bot():
        # The bot asks for dimensions before the state in each poll; stale dimensions keep the quarantine.
        return hooks.get_dimensions(bot) == good and "quarantined" not in hooks.get_state(bot)

    wait_for(poll_like_the_bot, what="recovery after restart")


def test_bot_id_mismatch_quarantines(load_hooks, tmp_path, bot):
    server = StateServer(tmp_path, bot_id="skia-rpi2-999").start()
    try:
        hooks = load_hooks(server.url)
        dims = hooks.get_dimensions(bot)
        assert dims["id"] == ["skia-rpi2-001"]
        assert "skia-rpi2-999" in hooks.get_state(bot)["quarantined"]
    finally:
        server.stop()
