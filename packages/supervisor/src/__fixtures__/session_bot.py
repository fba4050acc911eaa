"""A bot that lays out its task's processes as the real Swarming bot does.

The bot (its own session and group, as the supervisor starts it) forks a task
runner, which forks run_isolated, which forks the task command: each calls
setpgid(0, 0), all stay in the bot's session, so a signal to the bot's group
does not reach them. SIGTERM to the bot only sets a quit flag: it waits for
its task to end, then exits 0.

Settings (environment):
  SESSION_BOT_TASK_SECONDS  how long the task command runs (default 3600)
  SESSION_BOT_ON_TERM       "finish" (default) or "ignore" (never exits)
  SESSION_BOT_CRASH         "1": the bot dies (os._exit(5)) once its task runs
Prints one JSON line: {"bot": pid, "task_runner": pid, "run_isolated": pid,
"command": pid, "sid": session id}.
"""
import json
import os
import signal
import sys
import time

TASK_SECONDS = float(os.environ.get("SESSION_BOT_TASK_SECONDS", "3600"))
ON_TERM = os.environ.get("SESSION_BOT_ON_TERM", "finish")

quit_flag = False


def on_term(signum, frame):
    global quit_flag
    quit_flag = True
    try:
        print("got SIGTERM", flush=True)
    except OSError:
        pass  # stdout went with a SIGKILLed supervisor: the bot carries on, as the real one does


def spawn_in_own_group(name, child):
    """Forks; the child makes its own process group, says so on the pipe and runs child(); returns its pid."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.write(pipe_w, f"{name} {os.getpid()}\n".encode())
            child()
        finally:
            os._exit(0)
    return pid


def command():
    time.sleep(TASK_SECONDS)


def wait_for(pid):
    os.waitpid(pid, 0)


def run_isolated():
    wait_for(spawn_in_own_group("command", command))


def task_runner():
    wait_for(spawn_in_own_group("run_isolated", run_isolated))


signal.signal(signal.SIGTERM, on_term if ON_TERM == "finish" else signal.SIG_IGN)
pipe_r, pipe_w = os.pipe()
runner = spawn_in_own_group("task_runner", task_runner)
reader = os.fdopen(pipe_r)
layout = dict(reader.readline().split() for _ in range(3))
print(json.dumps({"bot": os.getpid(), **{k: int(v) for k, v in layout.items()}, "sid": os.getsid(0)}), flush=True)
if os.environ.get("SESSION_BOT_CRASH") == "1":
    os._exit(5)
os.waitpid(runner, 0)
try:
    print("task finished", flush=True)
except OSError:
    pass
while not quit_flag or ON_TERM == "ignore":
    time.sleep(0.05)
sys.exit(0)
