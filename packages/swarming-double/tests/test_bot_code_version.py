"""The stand-in bot's bot code version against the shared cases and the documented test vector."""

import base64
import json
import os
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "standin-bot"))

from standin_bot import zipcode  # noqa: E402

with open(os.path.join(ROOT, "packages/core/src/__fixtures__/bot-code-version/cases.json"), encoding="utf-8") as f:
    CASES = json.load(f)["cases"]


def content(entry):
    if "text" in entry:
        return entry["text"].encode("utf-8")
    if "base64" in entry:
        return base64.b64decode(entry["base64"])
    if "fill" in entry:
        fill = entry["fill"].encode("ascii")
        return (fill * (entry["size"] // len(fill) + 1))[: entry["size"]]
    return b""


def write_zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for entry in entries:
            info = zipfile.ZipInfo(entry["name"], (2021, 3, 4, 5, 6, 8))
            info.compress_type = compression
            z.writestr(info, content(entry))


def test_documented_test_vector(tmp_path):
    path = str(tmp_path / "vector.zip")
    write_zip(path, [{"name": "__main__.py", "text": "print(1)\n"}])
    assert zipcode.digest(path) == "e7f843c29941bc3fd4aba46fd67949f24478de737ad1ed7309f2c62a40eabb28"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_case(tmp_path, case):
    path = str(tmp_path / "case.zip")
    compression = zipfile.ZIP_STORED if case.get("compression") == "stored" else zipfile.ZIP_DEFLATED
    write_zip(path, case["entries"], compression)
    assert zipcode.digest(path) == case["version"]


def test_name_twice_hashes_last_content_twice(tmp_path):
    import hashlib
    import warnings

    path = str(tmp_path / "dup.zip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a", b"first")
            z.writestr("a", b"last")
    h = hashlib.sha256()
    for _ in range(2):
        h.update(b"1a4last")
    assert zipcode.digest(path) == h.hexdigest()
