"""The `bot` object every hook receives."""

import copy
import logging
import os

log = logging.getLogger("standin")


class Bot(object):
    def __init__(self, bot_id, server, base_dir, zip_path, version):
        self.id = bot_id
        self.server = server
        self.base_dir = base_dir
        self.config_dir = "/etc/swarming_config"
        # Like the real bot: always the bootstrap copy, whichever zip runs.
        self.swarming_bot_zip = os.path.join(base_dir, "swarming_bot.zip")
        self.bot_version = version
        self.server_version = None
        self.task_id = None
        self._dimensions = {"id": [bot_id]}
        self._state = {}
        # bots.cfg dimensions from the handshake; they override the hook's.
        self.server_dimensions = {}
        # {"name", "revision"} once the handshake named (or did not name) a hook script; {} before.
        self.bot_config = {}
        # Sticky quarantine until the process restarts (like the real bot's _QUARANTINED).
        self.sticky_quarantine = None
        self._restart_message = None
        self._shutdown_event_posted = False
        # Set by the runner once the network is up; None for `attributes`.
        self.runner = None

    @property
    def dimensions(self):
        return copy.deepcopy(self._dimensions)

    @property
    def state(self):
        return copy.deepcopy(self._state)

    def _set(self, dimensions, state):
        self._dimensions = copy.deepcopy(dimensions)
        self._state = copy.deepcopy(state)

    def quarantine_until_restart(self, reason):
        log.error("quarantined until restart: %s", reason)
        self.sticky_quarantine = self.sticky_quarantine or reason

    def post_event(self, event_type, message):
        # Like the real bot: one bot_shutdown/bot_rebooting per process, whichever comes first.
        shutdown = event_type in ("bot_shutdown", "bot_rebooting")
        if shutdown and self._shutdown_event_posted:
            return
        if self.runner is None:
            log.info("event %s (not sent, no server): %s", event_type, message)
        else:
            self.runner.post_event(event_type, message)
        if shutdown:
            self._shutdown_event_posted = True

    def post_error(self, message):
        log.error("bot_error: %s", message)
        self.post_event("bot_error", message)

    def host_reboot(self, message=None):
        if self.runner is not None:
            self.runner.host_reboot(message or "requested by a hook")

    def bot_restart(self, message=None):
        message = message or "requested by a hook"
        self._restart_message = message if not self._restart_message else self._restart_message + "\n" + message

    def bot_restart_msg(self):
        return self._restart_message
