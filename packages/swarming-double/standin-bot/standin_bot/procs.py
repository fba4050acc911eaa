"""Child processes the way the real bot starts them: each in a process group of its own, same session."""

import os
import signal
import subprocess
import sys


def popen_detached(cmd, **kwargs):
    """subprocess.Popen in a new process group (setpgid(0, 0)); the session stays the caller's."""
    if sys.version_info >= (3, 11):
        kwargs["process_group"] = 0
    else:  # pragma: no cover - Python 3.10
        kwargs["preexec_fn"] = lambda: os.setpgid(0, 0)
    kwargs.setdefault("close_fds", True)
    return subprocess.Popen(cmd, **kwargs)


def terminate(proc):
    """SIGTERM to the process only (not its group), like the real bot's terminate()."""
    try:
        proc.send_signal(signal.SIGTERM)
    except OSError:
        pass


def kill_group(proc):
    """SIGKILL to the process's whole group: the process and whatever it left there."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
        return True
    except OSError:
        return False
