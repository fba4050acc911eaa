"""Dimensions, state and settings from the hooks, with the real bot's validation and quarantine rules."""

import json
import logging

from standin_bot import hooks as hooklib
from standin_bot import settings as settingslib

log = logging.getLogger("standin")


def _jsonish_dict(d):
    if not isinstance(d, dict):
        return False
    try:
        json.dumps(d)
    except Exception:  # noqa: BLE001
        return False
    return True


class Attributes(object):
    def __init__(self, bot, hooks):
        self.bot = bot
        self.hooks = hooks
        self.sleep_streak = 0

    def _dimensions(self):
        """(dimensions, error): the hook's, or the current ones and why not."""
        bot = self.bot
        try:
            found, dims = self.hooks.call_getter("get_dimensions", bot)
            err = hooklib.dimensions_error(dims)
            if err:
                log.error("Bad dimensions: %s: %r", err, dims)
                return bot.dimensions, err
            proposed = dims.get("id", ["unknown"])
            if list(proposed) != [bot.id]:
                err = '"id" dimension cannot be changed dynamically from %s to %s' % ([bot.id], proposed)
                log.error("Bad dimensions: %s", err)
                return bot.dimensions, err
            return {k: list(v) for k, v in dims.items()}, None
        except Exception as e:  # noqa: BLE001 - quarantine instead of crashing
            log.exception("get_dimensions() hook exception")
            return bot.dimensions, "got exception: %s: %s" % (type(e).__name__, e)

    def settings(self):
        """get_settings deep-merged over the defaults; raises on a value of the wrong type."""
        returned = self.hooks.call_on(self.bot, "get_settings", chained=False)
        settings, problems = settingslib.merge_settings(returned)
        if problems:
            raise ValueError("; ".join(problems))
        return settings

    def _state(self, dims_error):
        bot = self.bot
        try:
            found, state = self.hooks.call_getter("get_state", bot)
            if not _jsonish_dict(state):
                state = {"quarantined": "get_state(): expected a dict, got %r" % (state,)}
            state = dict(state)
        except Exception as e:  # noqa: BLE001
            log.exception("get_state() exception")
            state = {"quarantined": "get_state() exception: %s: %s" % (type(e).__name__, e)}
        # First reason wins; get_settings and the disk check only when not quarantined yet.
        if not state.get("quarantined") and bot.sticky_quarantine:
            state["quarantined"] = bot.sticky_quarantine
        if not state.get("quarantined") and dims_error:
            state["quarantined"] = "get_dimensions() error: %s" % dims_error
        if not state.get("quarantined"):
            try:
                problems = settingslib.disk_problems(state, self.settings(), bot.base_dir)
                if problems:
                    state["quarantined"] = "\n".join(problems)
            except Exception as e:  # noqa: BLE001
                log.exception("checking free space failed")
                state["quarantined"] = "%s: %s" % (type(e).__name__, e)
        state["sleep_streak"] = self.sleep_streak
        return state

    def refresh(self):
        """get_dimensions, get_state, then get_settings unless quarantined; updates bot.dimensions/state."""
        dims, dims_error = self._dimensions()
        state = self._state(dims_error)
        return self.apply(dims, state)

    def apply(self, dims, state):
        """Adds what the bot sets itself: server dimensions, id, bot_config, rbe_instance."""
        bot = self.bot
        dims = dict(dims)
        # Server-side dimensions (bots.cfg) override the hook's; then id and bot_config.
        dims.update(bot.server_dimensions)
        dims["id"] = [bot.id]
        if bot.bot_config.get("name"):
            dims["bot_config"] = [bot.bot_config["name"]]
        state = dict(state)
        state["rbe_instance"] = None
        if bot.bot_config:
            state["bot_config"] = dict(bot.bot_config)
        bot._set(dims, state)
        return dims, state

    def as_body(self):
        return {"dimensions": self.bot.dimensions, "state": self.bot.state, "version": self.bot.bot_version}
