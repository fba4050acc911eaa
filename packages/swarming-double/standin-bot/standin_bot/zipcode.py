"""What the bot knows about its own zip: version digest, config, hook script."""

import hashlib
import json
import zipfile


def digest(zip_path):
    """The Swarming bot code version of a zip (docs/swarming-bot.md).

    For every name in sorted(namelist()): str(len(name)), the name as UTF-8,
    str(len(content)) and the content, fed to one SHA-256. The same definition
    as packages/core/src/bot-code-digest.ts; both are checked against
    packages/core/src/__fixtures__/bot-code-version/cases.json.
    """
    h = hashlib.sha256()
    with zipfile.ZipFile(zip_path) as z:
        for name in sorted(z.namelist()):
            info = z.getinfo(name)
            h.update(str(len(name)).encode("ascii"))
            h.update(name.encode("utf-8"))
            h.update(str(info.file_size).encode("ascii"))
            # Streamed: the stand-in reads a 50 MB entry without holding it.
            with z.open(info) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def read_entry(zip_path, name):
    with zipfile.ZipFile(zip_path) as z:
        return z.read(name)


def read_config(zip_path):
    """config/config.json as a dict; `server` without a trailing slash."""
    config = json.loads(read_entry(zip_path, "config/config.json").decode("utf-8"))
    if not isinstance(config, dict) or not isinstance(config.get("server"), str):
        raise ValueError("config/config.json must be an object with a string 'server'")
    config["server"] = config["server"].rstrip("/")
    return config
