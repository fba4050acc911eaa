"""Hook script fixture for the stand-in bot tests.

Behaviour is driven by a JSON file named by $STANDIN_FIXTURE_CONTROL, read at
every call (keys: dimensions_raise, dimensions_bad, dimensions_extra, state_raise,
settings, id, quarantine, auth_token, auth_expiry_in). Every hook call is appended
as one line to $STANDIN_FIXTURE_CALLS.
"""

import json
import logging
import os
import time

# Set by on_bot_startup: get_state reports it, so a test sees which attributes were computed after it.
_started = False


def _control():
    path = os.environ.get("STANDIN_FIXTURE_CONTROL")
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _called(name, *extra):
    path = os.environ.get("STANDIN_FIXTURE_CALLS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps([name] + [str(x) for x in extra]) + "\n")


def get_dimensions(bot):
    _called("get_dimensions")
    c = _control()
    if c.get("dimensions_raise"):
        raise RuntimeError("fixture: get_dimensions is broken")
    if c.get("dimensions_bad"):
        return {"device_type": "not-a-list"}
    dims = {"id": [c.get("id", bot.id)], "pool": ["fixture-pool"], "device_type": ["fixture-phone"]}
    dims.update(c.get("dimensions_extra", {}))
    return dims


def get_state(bot):
    _called("get_state")
    c = _control()
    if c.get("state_raise"):
        raise RuntimeError("fixture: get_state is broken")
    state = {"fixture": True, "battery": 0.9, "started": _started}
    if c.get("quarantine"):
        state["quarantined"] = c["quarantine"]
    if "disks" in c:
        state["disks"] = c["disks"]
    return state


def get_settings(bot):
    _called("get_settings")
    return _control().get("settings", {})


def get_authentication_headers(bot):
    _called("get_authentication_headers")
    c = _control()
    token = c.get("auth_token")
    if not token:
        return None, None
    return {"Authorization": "Bearer " + token}, time.time() + c.get("auth_expiry_in", 3600)


def on_bot_startup(bot):
    global _started
    _started = True
    env = os.environ
    _called("on_bot_startup", env.get("SWARMING_BOT_ID"), env.get("SWARMING_HEADLESS"), env.get("SWARMING_SERVER", "-"))


def on_handshake(bot):
    _called("on_handshake")
    logging.getLogger(__name__).info("fixture hook: handshake done for %s", bot.id)


def on_before_poll(bot):
    _called("on_before_poll")


def on_after_poll(bot, cmd):
    _called("on_after_poll", cmd)


def on_bot_idle(bot, since_last_action_s):
    _called("on_bot_idle")


def on_before_task(bot, bot_file, runner_cmd, runner_env):
    _called("on_before_task", os.path.exists(bot_file))


def on_after_task(bot, failure, internal_failure, task_dimensions, summary):
    _called("on_after_task", failure, internal_failure, json.dumps(summary, sort_keys=True))


def on_bot_shutdown(bot):
    _called("on_bot_shutdown")


def setup_bot(bot):
    _called("setup_bot")
    return True
