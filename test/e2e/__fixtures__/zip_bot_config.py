"""The hook script inside the bot zip when Swarming injects rpi-swarming's
bot_config.py through bots.cfg (bot_config_script): like a stock default, it
knows nothing of the phone. Written for this test."""

import platform


def get_dimensions(bot):
    return {"id": [bot.id], "os": [platform.system() or "Linux"], "zip_hook": ["1"]}


def get_state(bot):
    return {"zip_hook": True}
