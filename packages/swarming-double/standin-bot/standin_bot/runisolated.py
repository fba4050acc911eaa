"""`run_isolated`: runs the task command in a process group of its own, with hard timeout and grace.

No CAS or CIPD: the stand-in runs the command as given. On SIGTERM it sends
SIGTERM to the command, gives it the grace period, then SIGKILLs the group.
"""

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from standin_bot import botdir, procs

log = logging.getLogger("standin")

BOT_FILE_PARAMETER = "${SWARMING_BOT_FILE}"


class _Signalled(Exception):
    pass


def _write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f)


def run_command(command, cwd, env, hard_timeout, grace):
    """(exit code, had hard timeout)."""
    proc = None
    had_signal = []
    kill_sent = False
    had_hard_timeout = False
    exit_code = None

    def handler(signum, _frame):
        if proc is not None and not had_signal:
            log.info("received signal %d", signum)
            had_signal.append(signum)
            raise _Signalled()

    try:
        proc = procs.popen_detached(command, cwd=cwd, env=env)
        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            try:
                exit_code = proc.wait(hard_timeout or None)
            except (subprocess.TimeoutExpired, _Signalled):
                if not had_signal:
                    log.warning("hard timeout")
                    had_hard_timeout = True
                procs.terminate(proc)
            if exit_code is None:
                # The grace belongs to the command: further signals are ignored meanwhile.
                for s in previous:
                    signal.signal(s, signal.SIG_IGN)
                try:
                    exit_code = proc.wait(grace or None)
                except subprocess.TimeoutExpired:
                    log.warning("grace exhausted; sending SIGKILL")
                    procs.kill_group(proc)
                    kill_sent = True
            exit_code = proc.wait()
            if not kill_sent:
                procs.kill_group(proc)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
    except (OSError, ValueError, IndexError) as e:
        # Not an internal error: the executable does not exist (what the real run_isolated prints).
        sys.stderr.write("<The executable does not exist, a dependent library is missing or the command line is "
                         "too long>\n<Command: %s>\n<Exception: %s>\n" % (command, e))
        sys.stderr.flush()
        exit_code = 1
    return exit_code, had_hard_timeout


def main(zip_path, args):
    parser = argparse.ArgumentParser(prog="run_isolated")
    parser.add_argument("-a", dest="args_file")
    parser.add_argument("--clean", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--root-dir")
    parser.add_argument("--bot-file")
    parser.add_argument("--hard-timeout", type=float, default=0)
    parser.add_argument("--grace-period", type=float, default=30)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--log-file")
    if "-a" in args:
        with open(args[args.index("-a") + 1]) as f:
            args = json.load(f)
    if "--" in args:
        i = args.index("--")
        args, command = args[:i], args[i + 1:]
    else:
        command = []
    options, _unknown = parser.parse_known_args(args)
    base_dir = os.path.dirname(zip_path)
    botdir.setup_logging(base_dir, "run_isolated.log", to_stderr=False)
    if options.clean:
        log.info("run_isolated --clean: the stand-in keeps no cache")
        return 0
    if not options.json or not options.root_dir:
        parser.error("run_isolated needs --json and --root-dir")
    _write_json(options.json, {"exit_code": None, "had_hard_timeout": False,
                               "internal_failure": "Was terminated before completion", "cas_output_root": None,
                               "version": 5})
    run_dir = os.path.join(options.root_dir, "ir")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.mkdir(run_dir, 0o700)
    env = os.environ.copy()
    for pair in options.env:
        key, _, value = pair.partition("=")
        env[key] = value
    if options.bot_file:
        command = [a.replace(BOT_FILE_PARAMETER, options.bot_file) for a in command]
    start = time.monotonic()
    exit_code, had_hard_timeout = run_command(command, run_dir, env, options.hard_timeout, options.grace_period)
    result = {"exit_code": exit_code, "had_hard_timeout": had_hard_timeout, "internal_failure": None,
              "cas_output_root": None, "duration": time.monotonic() - start, "missing_cas": [],
              "missing_cipd": [], "stats": {}, "version": 5}
    _write_json(options.json, result)
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0
