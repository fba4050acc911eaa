"""Loading the hook script(s) and calling hooks the way the real bot does."""

import logging
import platform
import types

log = logging.getLogger("standin")


def load_module(name, source, filename):
    module = types.ModuleType(name)
    module.__file__ = filename
    code = compile(source, filename, "exec")
    exec(code, module.__dict__)  # noqa: S102 - the hook script is the bot's own configuration
    return module


class Hooks(object):
    """The zip's config/bot_config.py plus, after the handshake, the server's injected script."""

    def __init__(self, zip_module, name="bot_config.py"):
        self.modules = [zip_module]
        self.name = name
        self.revision = None

    def inject(self, module, name, revision):
        self.modules = [self.modules[0], module]
        self.name = name
        self.revision = revision

    def getter(self, hook):
        """get_* hooks: the injected script's wins; on_* hooks (call_on) run in both."""
        for module in reversed(self.modules):
            fn = getattr(module, hook, None)
            if callable(fn):
                return fn
        return None

    def call_getter(self, hook, *args):
        """(found, value); exceptions propagate."""
        fn = self.getter(hook)
        if fn is None:
            return False, None
        return True, fn(*args)

    def call_on(self, bot, hook, *args):
        """Runs on_* hooks of every loaded script; an exception is logged and posted as bot_error."""
        for module in self.modules:
            fn = getattr(module, hook, None)
            if not callable(fn):
                continue
            try:
                fn(bot, *args)
            except Exception as e:  # noqa: BLE001 - a hook must never stop the bot
                msg = "%s() raised %s: %s" % (hook, type(e).__name__, e)
                log.exception("hook failed: %s", msg)
                bot.post_error(msg)


def default_dimensions(bot_id):
    return {
        "id": [bot_id],
        "os": [platform.system() or "Linux"],
        "cpu": [platform.machine() or "unknown"],
        "python": [platform.python_version()],
    }


def validate_dimensions(dims):
    if not isinstance(dims, dict):
        raise ValueError("get_dimensions() must return a dict, got %s" % type(dims).__name__)
    for key, values in dims.items():
        if not isinstance(key, str):
            raise ValueError("dimension key %r must be a string" % (key,))
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            raise ValueError("dimension %r must be a list of strings, got %r" % (key, values))
    return {k: list(v) for k, v in dims.items()}
