"""The bot directory: lock, keep-list cleanup, logs."""

import errno
import fcntl
import fnmatch
import logging
import os
import shutil
import sys
import tempfile
import time

from standin_bot import LABEL

log = logging.getLogger("standin")

# Entries of the bot directory that survive the clean-up after the handshake:
# the real bot's list, compared with shell-style patterns (swarming-bot.md).
# Zip names are exact: swarming_bot.download-1.zip or any temporary file goes.
CAS_KVS_CACHE_DB = "cas_kvs_cache_db"
KEEP = (
    "*-cacert.pem",
    ".vpython3",
    "README",
    "README.md",
    "c",
    "cas_cache",
    "cipd_cache",
    "logs",
    "swarming.lck",
    "swarming_bot.1.zip",
    "swarming_bot.2.zip",
    "swarming_bot.zip",
    "tmp",
    CAS_KVS_CACHE_DB,
)

LOCK_NAME = "swarming.lck"


def is_home(base_dir):
    home = os.path.expanduser("~")
    return bool(home) and os.path.realpath(base_dir) == os.path.realpath(home)


class Lock(object):
    """swarming.lck held with flock; holds the holder's pid, like the real bot's singleton."""

    def __init__(self, base_dir):
        self.path = os.path.join(os.path.realpath(base_dir), LOCK_NAME)
        self._f = None

    def acquire(self):
        f = open(self.path, "a+b")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                f.close()
                raise
            f.seek(0)
            self.holder = f.read().decode("utf-8", "replace")
            f.close()
            return False
        f.seek(0)
        f.truncate(0)
        f.write(str(os.getpid()).encode("ascii"))
        f.flush()
        # Not inherited by task_runner and the tasks: only the bot holds it.
        os.set_inheritable(f.fileno(), False)
        self._f = f
        return True

    def release(self):
        """Closes and removes the file (as the real bot does before it re-executes)."""
        if self._f is None:
            return
        self._f.close()
        self._f = None
        try:
            os.remove(self.path)
        except OSError:
            pass


def clean_directory(base_dir, on_error=None):
    """Deletes every entry of base_dir not on the keep-list; returns their names.

    on_error(message) is told of entries that could not be deleted (the bot posts them as bot_error).
    """
    removed = []
    for name in sorted(os.listdir(base_dir)):
        if any(fnmatch.fnmatch(name, pattern) for pattern in KEEP):
            continue
        path = os.path.join(base_dir, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(name)
            log.info("deleted unexpected entry %s from the bot directory", name)
        except OSError as e:
            log.warning("could not delete %s: %s", path, e)
            if on_error is not None:
                on_error("Failed to remove %s from bot's directory: %s" % (name, e))
    return removed


def _from_hook_script(record):
    return (
        record.name.startswith("bot_config")
        or record.pathname.endswith("/config/bot_config.py")
        or record.pathname.startswith("<server>/")
    )


def setup_logging(base_dir, name="swarming_bot.log", to_stderr=True):
    logs = os.path.join(base_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s " + LABEL + " %(process)d: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    fh = logging.FileHandler(os.path.join(logs, name))
    fh.setFormatter(fmt)
    root.addHandler(fh)
    # What the hook scripts (config/bot_config.py, or the server's) log also goes to logs/bot_config.log.
    hf = logging.FileHandler(os.path.join(logs, "bot_config.log"))
    hf.setFormatter(fmt)
    hf.addFilter(_from_hook_script)
    root.addHandler(hf)
    if to_stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        root.addHandler(sh)


def note_start(command, zip_path):
    """One line in $TMPDIR/swarming_bot_init.log per start, before anything else can fail."""
    path = os.path.join(tempfile.gettempdir(), "swarming_bot_init.log")
    try:
        with open(path, "a") as f:
            f.write("%s %s pid %d: %s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), LABEL, os.getpid(), command, zip_path))
    except OSError:
        pass
