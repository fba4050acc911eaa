"""Computes dimensions, state and settings from the hooks, with the real bot's validation and quarantine rules."""

import logging

from standin_bot import hooks as hooklib
from standin_bot import settings as settingslib

log = logging.getLogger("standin")


class Attributes(object):
    def __init__(self, bot, hooks):
        self.bot = bot
        self.hooks = hooks
        self.server_dimensions = {}
        self.sleep_streak = 0
        self.settings = settingslib.DEFAULT_SETTINGS
        self._last_good_dimensions = None

    def refresh(self):
        """Calls get_dimensions, get_state and get_settings; updates bot.dimensions/state."""
        bot = self.bot
        problems = []
        try:
            found, dims = self.hooks.call_getter("get_dimensions", bot)
            if not found:
                dims = hooklib.default_dimensions(bot.id)
            dims = hooklib.validate_dimensions(dims)
        except Exception as e:  # noqa: BLE001 - quarantine instead of crashing
            msg = "get_dimensions() failed: %s: %s" % (type(e).__name__, e)
            log.error("%s", msg)
            problems.append(msg)
            dims = self._last_good_dimensions or {"id": [bot.id]}
        else:
            self._last_good_dimensions = dims
        dims = dict(dims)
        if "id" in dims and dims["id"] != [bot.id]:
            problems.append("id dimension cannot be changed dynamically: %r != %r" % (dims["id"], [bot.id]))
        dims["id"] = [bot.id]
        dims["bot_config"] = [self.hooks.name]
        # Server-side dimensions (bots.cfg) override the hook's.
        dims.update(self.server_dimensions)

        try:
            found, state = self.hooks.call_getter("get_state", bot)
            if not found:
                state = {}
            if not isinstance(state, dict):
                raise ValueError("get_state() must return a dict, got %s" % type(state).__name__)
            state = dict(state)
        except Exception as e:  # noqa: BLE001
            msg = "get_state() failed: %s: %s" % (type(e).__name__, e)
            log.error("%s", msg)
            state = {"quarantined": msg}

        try:
            found, returned = self.hooks.call_getter("get_settings", bot)
        except Exception as e:  # noqa: BLE001
            log.error("get_settings() failed, using defaults: %s: %s", type(e).__name__, e)
            returned = None
        settings, setting_problems = settingslib.merge_settings(returned)
        if setting_problems:
            problems.extend(setting_problems)
            settings = settingslib.DEFAULT_SETTINGS
        self.settings = settings
        problems.extend(settingslib.disk_problems(state, settings, bot.base_dir))

        state["sleep_streak"] = self.sleep_streak
        state["bot_config"] = {"name": self.hooks.name, "revision": self.hooks.revision}
        if problems:
            previous = state.get("quarantined")
            messages = ([previous] if isinstance(previous, str) and previous else []) + problems
            state["quarantined"] = "\n".join(messages)
        bot._set(dims, state)
        return dims, state

    def as_body(self):
        return {"dimensions": self.bot.dimensions, "state": self.bot.state, "version": self.bot.bot_version}


