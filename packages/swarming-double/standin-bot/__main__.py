# rpi-swarming stand-in for the LUCI Swarming bot (tests and the demo only).
# Written for this project from the documented behaviour of the real bot
# (docs/swarming-bot.md); it shares no code with luci-py.
"""Entry point: python3 swarming_bot.zip <command>."""

import os
import sys

ZIP_PATH = os.path.abspath(os.path.dirname(__file__))
sys.path.insert(0, ZIP_PATH)

from standin_bot import cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(cli.main(ZIP_PATH, sys.argv[1:]))
