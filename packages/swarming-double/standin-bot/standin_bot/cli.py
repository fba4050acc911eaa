"""Commands of the stand-in bot zip, as the real bot's __main__ dispatches them."""

import argparse
import json
import logging
import os
import socket
import shutil
import sys
import time

from standin_bot import LABEL, botdir, zipcode
from standin_bot import hooks as hooklib
from standin_bot.attributes import Attributes
from standin_bot.botobj import Bot
from standin_bot.remote import Remote
from standin_bot.runner import Runner, reboot_host

log = logging.getLogger("standin")

COMMANDS = ("start_bot", "start_slave", "version", "attributes", "config", "is_fine", "task_runner", "run_isolated")

# The real bot sleeps this long when another bot holds swarming.lck, then reboots the host.
LOCK_HELD_SLEEP_S = 300


def bot_id():
    return os.environ.get("SWARMING_BOT_ID") or socket.gethostname().split(".")[0].lower()


def load_hooks(zip_path):
    source = zipcode.read_entry(zip_path, "config/bot_config.py")
    module = hooklib.load_module("bot_config", source, zip_path + "/config/bot_config.py")
    return hooklib.Hooks(module)


def make_bot(zip_path):
    config = zipcode.read_config(zip_path)
    the_id = bot_id()
    # Tasks and hooks see the id in the environment, as with the real bot.
    os.environ["SWARMING_BOT_ID"] = the_id
    return Bot(the_id, config["server"], os.path.dirname(zip_path), zip_path, zipcode.digest(zip_path))


def _exec_python(zip_path, args):
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, zip_path] + list(args))


def _replicate(zip_path, args):
    """Running as swarming_bot.zip: copy to swarming_bot.1.zip and exec the copy, for every command."""
    target = os.path.join(os.path.dirname(zip_path), "swarming_bot.1.zip")
    try:
        # A plain copy like the real bot's (not atomic; a new mtime, so the LKGBC copy-back follows).
        if os.path.isfile(target):
            os.remove(target)
        shutil.copyfile(zip_path, target)
    except OSError as e:
        sys.stderr.write("stand-in bot: failed to replicate %s to %s: %s\n" % (zip_path, target, e))
    _exec_python(target, args)


def cmd_start_bot(zip_path, args):
    base_dir = os.path.dirname(zip_path)
    botdir.setup_logging(base_dir)
    os.environ["SWARMING_HEADLESS"] = "1"
    os.environ.pop("SWARMING_SERVER", None)
    os.environ.pop("SWARMING_TASK_ID", None)
    lock = botdir.Lock(base_dir)
    if not lock.acquire():
        msg = "Found a previous bot, %d rebooting: another bot holds %s (pid %s)" % (
            os.getpid(), lock.path, getattr(lock, "holder", "?"))
        wait = float(os.environ.get("SWARMING_STANDIN_LOCK_WAIT_SECONDS", LOCK_HELD_SLEEP_S))
        sys.stderr.write("%s\nSleeping for %s secs\n" % (msg, wait))
        sys.stderr.flush()
        time.sleep(wait)
        reboot_host(msg)
        return 1
    if args:
        log.error("Unexpected arguments: %s", args)
    bot = make_bot(zip_path)
    hooks = load_hooks(zip_path)
    return Runner(bot, hooks, zip_path, lock).run()


def cmd_start_slave(zip_path, args):
    botdir.setup_logging(os.path.dirname(zip_path), "bot_config.log")
    parser = argparse.ArgumentParser(prog="start_slave")
    parser.add_argument("--survive", action="store_true")
    options, rest = parser.parse_known_args(args)
    if os.environ.get("SWARMING_EXTERNAL_BOT_SETUP") == "1":
        log.info("Skipping setup_bot, SWARMING_EXTERNAL_BOT_SETUP is set")
    else:
        try:
            bot = make_bot(zip_path)
            hooks = load_hooks(zip_path)
            found, should_continue = hooks.call_getter("setup_bot", bot)
            if found and not should_continue and not options.survive:
                reboot_host("Starting new swarming bot: %s" % zip_path, timeout=15 * 60)
        except Exception:  # noqa: BLE001 - like the real bot: log and start the bot anyway
            log.exception("setup_bot failed")
    _exec_python(zip_path, ["start_bot"] + rest)
    return 1


def cmd_attributes(zip_path):
    bot = make_bot(zip_path)
    attrs = Attributes(bot, load_hooks(zip_path))
    # Twice, like the real command (a temporary bot object, then the real one).
    attrs.refresh()
    attrs.refresh()
    json.dump(attrs.as_body(), sys.stdout, indent=2, sort_keys=True, separators=(",", ": "))
    print("")
    return 0


def cmd_is_fine(zip_path):
    """The code loads and server_ping answers (no token: server_ping needs none)."""
    try:
        config = zipcode.read_config(zip_path)
        load_hooks(zip_path)
        Remote(config["server"], bot_id(), "is_fine", lambda: (None, None)).server_ping()
    except Exception as e:  # noqa: BLE001
        sys.stderr.write("stand-in bot is not fine: %s: %s\n" % (type(e).__name__, e))
        return 1
    return 0


def main(zip_path, args):
    command = args[0] if args else "start_slave"
    rest = list(args[1:])
    base_dir = os.path.dirname(zip_path)
    botdir.note_start(command, zip_path)
    try:
        os.chdir(base_dir)
        os.makedirs("logs", exist_ok=True)
    except OSError as e:
        sys.stderr.write("stand-in bot: cannot use %s: %s\n" % (base_dir, e))
    if os.path.basename(zip_path) == "swarming_bot.zip":
        _replicate(zip_path, args)
    if command not in COMMANDS:
        sys.stderr.write("stand-in bot (%s): Unknown command %s; commands: %s\n" % (LABEL, command, ", ".join(COMMANDS)))
        return 1
    if command == "version":
        print(zipcode.digest(zip_path))
        return 0
    if command == "config":
        json.dump(zipcode.read_config(zip_path), sys.stdout, indent=2, sort_keys=True)
        print("")
        return 0
    if command == "is_fine":
        return cmd_is_fine(zip_path)
    if command == "attributes":
        return cmd_attributes(zip_path)
    if command == "task_runner":
        from standin_bot import taskrunner

        return taskrunner.main(zip_path, rest)
    if command == "run_isolated":
        from standin_bot import runisolated

        return runisolated.main(zip_path, rest)
    if command == "start_slave":
        return cmd_start_slave(zip_path, rest)
    return cmd_start_bot(zip_path, rest)
