"""Bot settings: defaults, deep merge of what get_settings returns, disk checks."""

import copy

MiB = 1024 * 1024
GiB = 1024 * MiB

DEFAULT_SETTINGS = {
    "free_partition": {
        "root": {"size": 1 * GiB, "max_percent": 10.0, "min_percent": 6.0},
        "bot": {"size": 4 * GiB, "max_percent": 15.0, "min_percent": 7.0, "wiggle": 250 * MiB},
    },
    "caches": {"isolated": {"size": 50 * GiB, "items": 50 * 1024}},
}


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _merge(default, override, path, problems):
    out = copy.deepcopy(default)
    for key, value in override.items():
        where = ".".join(path + [str(key)])
        if key not in default:
            out[key] = copy.deepcopy(value)
        elif isinstance(default[key], dict):
            if isinstance(value, dict):
                out[key] = _merge(default[key], value, path + [str(key)], problems)
            else:
                problems.append("setting %s must be a dict, got %r" % (where, value))
        elif _is_number(default[key]):
            if _is_number(value):
                out[key] = value
            else:
                problems.append("setting %s must be a number, got %r" % (where, value))
        elif type(value) is type(default[key]):
            out[key] = value
        else:
            problems.append("setting %s has the wrong type: %r" % (where, value))
    return out


def merge_settings(returned):
    """(settings, problems): `returned` deep-merged over the defaults; wrong types are problems."""
    if not isinstance(returned, dict):
        return copy.deepcopy(DEFAULT_SETTINGS), []
    problems = []
    merged = _merge(DEFAULT_SETTINGS, returned, [], problems)
    return merged, problems


def _required_free_mb(partition, size_mb):
    required = max(partition["size"] / MiB, size_mb * partition["min_percent"] / 100.0)
    return min(required, size_mb * partition["max_percent"] / 100.0)


def disk_problems(state, settings, base_dir):
    """Messages for disks under the free-space limits.

    The root limit applies to mount "/", the bot limit to the mount holding
    base_dir (longest prefix). Required free space: the partition's `size`, or
    `min_percent` of the disk if larger, but never more than `max_percent`.
    """
    disks = state.get("disks") if isinstance(state, dict) else None
    if not isinstance(disks, dict):
        return []
    mounts = [m for m in disks if isinstance(m, str) and isinstance(disks[m], dict)]
    bot_mount = None
    for m in mounts:
        prefix = m.rstrip("/") + "/"
        if (base_dir + "/").startswith(prefix) and (bot_mount is None or len(m) > len(bot_mount)):
            bot_mount = m
    problems = []
    for mount, name in (("/", "root"), (bot_mount, "bot")):
        info = disks.get(mount) if mount else None
        if not isinstance(info, dict):
            continue
        free, size = info.get("free_mb"), info.get("size_mb")
        if not (_is_number(free) and _is_number(size)):
            continue
        required = _required_free_mb(settings["free_partition"][name], size)
        if free < required:
            problems.append("Not enough free disk space on %s: %.1f MiB < %.1f MiB" % (mount, free, required))
    return problems
