"""Loading the hook script(s) and calling hooks the way the real bot does."""

import logging
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

    def __init__(self, zip_module):
        self.modules = [zip_module]

    def inject(self, module):
        self.modules = [self.modules[0], module]

    def getter(self, hook):
        """The injected script's hook if it has one, else the zip's."""
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

    def call_on(self, bot, hook, *args, **kwargs):
        """Runs a hook; an exception is logged and posted as bot_error, never raised.

        chained (the default): the zip's hook, then the injected script's (the
        real bot's on_bot_startup, on_handshake, on_bot_idle, on_before_task,
        on_after_task, on_bot_shutdown). chained=False: only the injected one if
        it has it, else the zip's (on_before_poll, on_after_poll, get_settings).
        Returns the last hook's value.
        """
        chained = kwargs.get("chained", True)
        fns = [getattr(m, hook, None) for m in self.modules] if chained else [self.getter(hook)]
        result = None
        for fn in fns:
            if not callable(fn):
                continue
            try:
                result = fn(bot, *args)
            except Exception as e:  # noqa: BLE001 - a hook must never stop the bot
                log.exception("%s() threw", hook)
                bot.post_error("Failed to call hook %s(): %s: %s" % (hook, type(e).__name__, e))
                return None
        return result


def dimensions_error(dims):
    """None when dims is {str: [str, ...]}, else what is wrong (the server checks the rest)."""
    if not isinstance(dims, dict):
        return "not a dict"
    for key, values in dims.items():
        if not isinstance(key, str):
            return "bad dimension key %r: not a string" % (key,)
        if not isinstance(values, (list, tuple)):
            return "bad value for key %r (not a list or a tuple): %r" % (key, values)
        for v in values:
            if not isinstance(v, str):
                return "bad value for key %r (not a string): %r" % (key, v)
    return None
