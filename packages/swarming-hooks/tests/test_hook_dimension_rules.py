"""bot_config.py's check of the state server's dimensions against the shared cases
(packages/devices/src/__fixtures__/dimension-rules/cases.json, column "hook")."""

import json

import pytest
from conftest import REPO_ROOT

CASES_FILE = REPO_ROOT / "packages/devices/src/__fixtures__/dimension-rules/cases.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_dimension_problem_matches_the_shared_case(load_hooks, case):
    hooks = load_hooks("http://127.0.0.1:1")
    expected = case["hook"]
    problem = hooks._dimension_problem(case["dimensions"])
    if expected == "valid":
        assert problem is None
        assert hooks._valid_dimensions(case["dimensions"])
    else:
        assert problem is not None
        if expected["invalid"] is not None:
            assert repr(expected["invalid"]) in problem
