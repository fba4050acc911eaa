"""The rpi-swarming stand-in Swarming bot."""

# Shown in the User-Agent, logs and `config`: this is not the real bot.
LABEL = "standin"
