"""Replay every seed corpus file through its harness's TestOneInput, without atheris.

This is `make fuzz-smoke`, and runs on every `make test`: each past crash stays
fixed, and each harness keeps holding its invariant on its seeds. Run the real
campaign with `make fuzz` (see fuzz/README.md).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CORPUS = FUZZ / "corpus"
TARGETS = ("cookie_header", "chunks", "unseal", "codec", "engine_load")


@pytest.fixture(scope="module", autouse=True)
def _fuzz_on_path() -> Iterator[None]:
    sys.path.insert(0, str(FUZZ))
    yield
    sys.path.remove(str(FUZZ))


def harness(target: str) -> ModuleType:
    return importlib.import_module(f"fuzz_{target}")


def corpus(target: str) -> list[Path]:
    return sorted(p for p in (CORPUS / target).iterdir() if p.is_file())


def replay_all(target: str) -> Iterator[tuple[Path, float]]:
    run: Callable[[bytes], None] = harness(target).TestOneInput
    for path in corpus(target):
        start = time.perf_counter()
        run(path.read_bytes())
        yield path, time.perf_counter() - start


@pytest.mark.parametrize("target", TARGETS)
def test_every_seed_holds_the_invariant(target: str) -> None:
    """Each corpus file runs through its harness with no exception, each well under the timeout."""
    slow = [(p.name, round(t, 3)) for p, t in replay_all(target) if t > 0.5]

    assert not slow, f"inputs near libFuzzer's -timeout=1: {slow}"


@pytest.mark.parametrize("target", TARGETS)
def test_harness_imports_without_atheris_and_states_its_invariant(target: str) -> None:
    """A harness exposes TestOneInput and documents its invariant; atheris stays unimported."""
    module = harness(target)

    assert callable(module.TestOneInput)
    assert "Invariant" in (module.__doc__ or "")
    assert "atheris" not in vars(module)


def test_corpus_is_small_and_curated() -> None:
    """Seeds stay under 200 files and 1 MB, with every target seeded."""
    files = [p for t in TARGETS for p in corpus(t)]

    assert all(len(corpus(t)) >= 10 for t in TARGETS)
    assert len(files) < 200
    assert sum(p.stat().st_size for p in files) < 1_000_000


def test_crash_seeds_are_kept() -> None:
    """The inputs of past findings stay in the corpus (see tests/unit/test_fuzz_regressions.py)."""
    assert len(list((CORPUS / "codec").glob("crash-*"))) >= 4


def test_real_token_seeds_still_open() -> None:
    """Seed tokens still open under today's wire format; otherwise rerun fuzz/make_corpus.py."""
    module = harness("engine_load")
    from cookiesess.cookies import parse_cookie_header

    opened = 0
    migrated = 0
    for path in corpus("engine_load"):
        data = path.read_bytes()
        engine = module.ENGINES[data[0] % len(module.ENGINES)]
        session = engine.load(parse_cookie_header(data[1:]))
        opened += not session.new
        migrated += session.migrated

    assert opened >= 15, "stale corpus: run `python fuzz/make_corpus.py`"
    assert migrated >= 4, "stale legacy seeds: run `python fuzz/make_corpus.py`"
