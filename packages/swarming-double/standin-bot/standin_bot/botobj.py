"""The `bot` object every hook receives."""

import copy
import logging

log = logging.getLogger("standin")


class Bot(object):
    def __init__(self, bot_id, server, base_dir, zip_path, version):
        self.id = bot_id
        self.server = server
        self.base_dir = base_dir
        self.config_dir = "/etc/swarming_config"
        self.swarming_bot_zip = zip_path
        self.bot_version = version
        self.server_version = None
        self.task_id = None
        self._dimensions = {}
        self._state = {}
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

    def post_event(self, event_type, message):
        if self.runner is None:
            log.info("event %s (not sent, no server): %s", event_type, message)
            return
        self.runner.post_event(event_type, message)

    def post_error(self, message):
        log.error("bot_error: %s", message)
        self.post_event("bot_error", message)

    def host_reboot(self, message=None):
        if self.runner is not None:
            self.runner.host_reboot(message or "requested by a hook")

    def bot_restart(self, message=None):
        if self.runner is not None:
            self.runner.request_restart(message or "requested by a hook")
