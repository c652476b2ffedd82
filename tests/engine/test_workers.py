"""Writes only on change, across worker processes (each with its own hash seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SEAL = """
import json, sys
from cookiesess import SessionEngine
from tests.helpers import NOW, SECRET_A, ring_of
engine = SessionEngine(ring_of(("a", SECRET_A, "primary")), clock=lambda: NOW)
session = engine.load({})
session.update(roles={"admin", "editor", "viewer", "ops"}, ids=frozenset({3, 1, 2, 10**30}))
line = engine.commit(session, {})[0]
print(json.dumps(line.partition(";")[0].split("=", 1)))
"""

READ = """
import json, sys
from cookiesess import SessionEngine
from tests.helpers import NOW, SECRET_A, ring_of
engine = SessionEngine(ring_of(("a", SECRET_A, "primary")), clock=lambda: NOW)
name, value = json.loads(sys.argv[1])
session = engine.load({name: value})
assert not session.new
dict(session.items())  # hands out every value: the commit re-encodes to compare
print(json.dumps(engine.commit(session, {name: value})))
"""


def run(code: str, seed: int, *args: str) -> object:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("reader_seed", [2, 3, 4, 5])
def test_an_unchanged_session_with_sets_is_not_resent_by_another_worker(reader_seed: int) -> None:
    """Sets iterate in hash order, which differs between processes: encoding must not."""
    cookie = run(SEAL, 1)
    assert run(READ, reader_seed, json.dumps(cookie)) == []
