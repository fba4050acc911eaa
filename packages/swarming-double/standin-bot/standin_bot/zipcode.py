"""What the bot knows about its own zip: version digest, config, hook script."""

import hashlib
import json
import struct
import zipfile


def digest(zip_path):
    """SHA-256 over the zip's file entries, as packages/core/src/bot-code-digest.ts defines it.

    Entries sorted by the UTF-8 bytes of their names (directories skipped); per
    entry: name, a NUL byte, the size as 8 bytes big-endian, the content.
    """
    h = hashlib.sha256()
    with zipfile.ZipFile(zip_path) as z:
        infos = [i for i in z.infolist() if not i.filename.endswith("/")]
        infos.sort(key=lambda i: i.filename.encode("utf-8"))
        for info in infos:
            h.update(info.filename.encode("utf-8"))
            h.update(b"\0")
            h.update(struct.pack(">Q", info.file_size))
            with z.open(info) as f:
                for chunk in iter(lambda: f.read(65536), b""):
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
