"""Commands of the stand-in bot zip: start_bot, start_slave, version, attributes, config, is_fine."""

import json
import logging
import os
import shutil
import socket
import sys
import time

from standin_bot import LABEL, botdir, zipcode
from standin_bot import hooks as hooklib
from standin_bot.attributes import Attributes
from standin_bot.botobj import Bot
from standin_bot.runner import Runner, ask_for_reboot

log = logging.getLogger("standin")

COMMANDS = ("start_bot", "start_slave", "version", "attributes", "config", "is_fine")


def bot_id():
    return os.environ.get("SWARMING_BOT_ID") or socket.gethostname().split(".")[0].lower()


def load_hooks(zip_path):
    source = zipcode.read_entry(zip_path, "config/bot_config.py")
    module = hooklib.load_module("bot_config", source, zip_path + "/config/bot_config.py")
    return hooklib.Hooks(module)


def make_bot(zip_path):
    config = zipcode.read_config(zip_path)
    return Bot(bot_id(), config["server"], os.path.dirname(zip_path), zip_path, zipcode.digest(zip_path))


def _reexec(zip_path, args):
    os.execv(sys.executable, [sys.executable, zip_path] + list(args))


def _copy_to_primary(zip_path, args):
    """Running as swarming_bot.zip: copy to swarming_bot.1.zip and run the copy (as the real bot does)."""
    target = os.path.join(os.path.dirname(zip_path), "swarming_bot.1.zip")
    tmp = target + ".tmp"
    shutil.copyfile(zip_path, tmp)
    os.replace(tmp, target)
    _reexec(target, args)


def cmd_start_bot(zip_path):
    base_dir = os.path.dirname(zip_path)
    if botdir.is_home(base_dir):
        sys.stderr.write("stand-in bot: refusing to run from $HOME (%s); use a directory of its own\n" % base_dir)
        return 1
    os.chdir(base_dir)
    botdir.setup_logging(base_dir)
    lock_fd = botdir.take_lock(base_dir)
    if lock_fd is None:
        wait = float(os.environ.get("SWARMING_STANDIN_LOCK_WAIT_SECONDS", "300"))
        log.error("another bot holds %s/swarming.lck; sleeping %ss, then asking for a host reboot", base_dir, wait)
        time.sleep(wait)
        ask_for_reboot("another bot is running in %s" % base_dir)
        log.error("the host did not reboot; exiting")
        return 1
    bot = make_bot(zip_path)
    hooks = load_hooks(zip_path)
    return Runner(bot, hooks, zip_path, lock_fd).run()


def cmd_start_slave(zip_path):
    if os.environ.get("SWARMING_EXTERNAL_BOT_SETUP") != "1":
        bot = make_bot(zip_path)
        hooks = load_hooks(zip_path)
        found, ok = hooks.call_getter("setup_bot", bot)
        if found and not ok:
            sys.stderr.write("stand-in bot: setup_bot returned %r\n" % (ok,))
    _reexec(zip_path, ["start_bot"])
    return 1


def cmd_attributes(zip_path):
    bot = make_bot(zip_path)
    hooks = load_hooks(zip_path)
    attrs = Attributes(bot, hooks)
    attrs.refresh()
    print(json.dumps(attrs.as_body(), indent=2, sort_keys=True))
    return 0


def cmd_is_fine(zip_path):
    try:
        make_bot(zip_path)
        load_hooks(zip_path)
    except Exception as e:  # noqa: BLE001
        sys.stderr.write("stand-in bot is not fine: %s: %s\n" % (type(e).__name__, e))
        return 1
    return 0


def main(zip_path, args):
    command = args[0] if args else "start_slave"
    if command not in COMMANDS:
        sys.stderr.write("stand-in bot (%s): unknown command %r; commands: %s\n" % (LABEL, command, ", ".join(COMMANDS)))
        return 2
    if command in ("start_bot", "start_slave"):
        botdir.note_start(command, zip_path)
    if command in ("start_bot", "start_slave") and os.path.basename(zip_path) == "swarming_bot.zip":
        _copy_to_primary(zip_path, [command] + list(args[1:]))
    if command == "version":
        print(zipcode.digest(zip_path))
        return 0
    if command == "config":
        print(json.dumps(zipcode.read_config(zip_path), indent=2, sort_keys=True))
        return 0
    if command == "is_fine":
        return cmd_is_fine(zip_path)
    if command == "attributes":
        return cmd_attributes(zip_path)
    if command == "start_slave":
        return cmd_start_slave(zip_path)
    return cmd_start_bot(zip_path)
