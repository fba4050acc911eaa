"""The stand-in bot's dimension check against the shared cases
(packages/devices/src/__fixtures__/dimension-rules/cases.json, column "bot"). Like the
real bot it checks only the types ({str: [str]}) and leaves the server's rules to the server."""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "standin-bot"))

from standin_bot import hooks  # noqa: E402

with open(os.path.join(ROOT, "packages/devices/src/__fixtures__/dimension-rules/cases.json"), encoding="utf-8") as f:
    CASES = json.load(f)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_dimensions_error_matches_the_shared_case(case):
    expected = case["bot"]
    error = hooks.dimensions_error(case["dimensions"])
    if expected == "valid":
        assert error is None
    else:
        assert error is not None
        if expected["invalid"] is not None:
            assert repr(expected["invalid"]) in error
