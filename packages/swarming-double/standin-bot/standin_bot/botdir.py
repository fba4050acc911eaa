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

# Entries of the bot directory that survive the clean-up after the handshake.
KEEP = (
    "swarming_bot*.zip",
    "swarming.lck",
    "logs",
    "c",
    "w",
    "cas_cache",
    "cipd_cache",
    "isolated_cache",
    "named_caches",
    "README*",
    "*-cacert.pem",
    ".vpython3",
    ".vpython-root",
)


def is_home(base_dir):
    home = os.path.expanduser("~")
    return bool(home) and os.path.realpath(base_dir) == os.path.realpath(home)


def take_lock(base_dir):
    """The open lock file, or None when another process holds swarming.lck."""
    fd = os.open(os.path.join(base_dir, "swarming.lck"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fd


def release_lock(fd):
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def clean_directory(base_dir):
    """Deletes every entry of base_dir not on the keep-list; returns their names."""
    removed = []
    for name in sorted(os.listdir(base_dir)):
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in KEEP):
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
    return removed


def _from_hook_script(record):
    return (
        record.name.startswith("bot_config")
        or record.pathname.endswith("/config/bot_config.py")
        or record.pathname.startswith("<server>/")
    )


def setup_logging(base_dir):
    logs = os.path.join(base_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s " + LABEL + " %(process)d: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    fh = logging.FileHandler(os.path.join(logs, "swarming_bot.log"))
    fh.setFormatter(fmt)
    root.addHandler(fh)
    # What the hook scripts (config/bot_config.py, or the server's) log also goes to logs/bot_config.log.
    hf = logging.FileHandler(os.path.join(logs, "bot_config.log"))
    hf.setFormatter(fmt)
    hf.addFilter(_from_hook_script)
    root.addHandler(hf)
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
