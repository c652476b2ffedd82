"""Timing harness: calibrated batches, interleaved shuffled rounds, medians.

Every benchmark is a `Bench` whose ``run(n)`` performs n operations and returns
the elapsed seconds of those n operations only. `measure` calibrates each
bench to a target batch duration, then runs every bench of a section once per
round, in an order reshuffled every round, with the garbage collector disabled
inside a batch and run between rounds. A cell is the median of the per-round
µs/op figures; ratios are ratios of medians from the same run, so slow phases
of a noisy machine hit every bench of a round alike.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# CPU time of this thread: on a shared machine, time spent descheduled while
# other processes run is not counted (wall-clock medians swing by 2-5x there).
# Benches that wait on I/O (a Redis server) use the wall clock instead.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}
_DEFAULT = {"clock": "cpu"}


def set_clock(name: str) -> None:
    """Choose the clock of every bench built from now on (``cpu`` or ``wall``)."""
    _DEFAULT["clock"] = name


@dataclass
class Bench:
    """One benchmark: ``run(n)`` returns the seconds n operations took."""

    key: str
    run: Callable[[int], float]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stat:
    """The per-round µs/op samples of one bench and their summary."""

    samples: list[float]
    n: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def iqr_pct(self) -> float:
        if len(self.samples) < 4:
            return 0.0
        q = statistics.quantiles(self.samples, n=4)
        return 100.0 * (q[2] - q[0]) / self.median if self.median else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "median_us": round(self.median, 4),
            "iqr_pct": round(self.iqr_pct, 2),
            "rounds": len(self.samples),
            "batch": self.n,
        }


def sync_bench(key: str, fn: Callable[[], Any], *, wall: bool = False, **info: Any) -> Bench:
    """A bench calling ``fn()`` n times in a plain loop."""
    clock = CLOCKS["wall"] if wall else CLOCKS[_DEFAULT["clock"]]

    def run(n: int) -> float:
        rng = range(n)
        t0 = clock()
        for _ in rng:
            fn()
        return clock() - t0

    return Bench(key, run, info)


class Loop:
    """One event loop shared by every async bench of the process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.close()


def async_bench(
    loop: Loop, key: str, fn: Callable[[], Awaitable[Any]], *, wall: bool = False, **info: Any
) -> Bench:
    """A bench awaiting ``fn()`` n times inside one coroutine (timed inside it)."""
    clock = CLOCKS["wall"] if wall else CLOCKS[_DEFAULT["clock"]]

    async def batch(n: int) -> float:
        rng = range(n)
        t0 = clock()
        for _ in rng:
            await fn()
        return clock() - t0

    def run(n: int) -> float:
        return loop.run(batch(n))  # type: ignore[no-any-return]

    return Bench(key, run, info)


def calibrate(bench: Bench, target_s: float) -> int:
    """Return the batch size that makes one batch last about `target_s`."""
    n = 1
    while True:
        gc.disable()
        try:
            elapsed = bench.run(n)
        finally:
            gc.enable()
        if elapsed >= target_s / 4 or n >= 1 << 22:
            break
        n *= 4 if elapsed < target_s / 40 else 2
    per_op = max(elapsed / n, 1e-9)
    return max(1, int(target_s / per_op))


def measure(
    benches: Sequence[Bench],
    *,
    rounds: int,
    target_s: float,
    label: str,
    seed: str = "cookiesess-bench",
    progress: bool = True,
) -> dict[str, Stat]:
    """Calibrate, then run `rounds` interleaved, shuffled rounds of every bench.

    Benches sharing ``info["group"]`` (e.g. every scheme at one payload size)
    run back to back within a round, in a shuffled order, and the groups
    themselves in a shuffled order: the benches a ratio compares are measured
    close together in time, so `paired_ratio` cancels slow phases of the
    machine.
    """
    if not benches:
        return {}
    keys = [b.key for b in benches]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate bench keys in {label}")
    t_start = time.perf_counter()
    sizes = {}
    for b in benches:
        b.run(1)  # warm caches and lazy imports
        sizes[b.key] = calibrate(b, target_s)
    samples: dict[str, list[float]] = {b.key: [] for b in benches}
    groups: dict[str, list[Bench]] = {}
    for b in benches:
        groups.setdefault(str(b.info.get("group", b.key)), []).append(b)
    group_order = list(groups)
    for r in range(rounds):
        shuffle(group_order, f"{seed}/{label}/{r}")
        for g in group_order:
            members = groups[g]
            shuffle(members, f"{seed}/{label}/{r}/{g}")
            for b in members:
                n = sizes[b.key]
                gc.disable()
                try:
                    elapsed = b.run(n)
                finally:
                    gc.enable()
                samples[b.key].append(elapsed / n * 1e6)
        gc.collect()
        if progress:
            print(
                f"\r  {label}: round {r + 1}/{rounds} ({time.perf_counter() - t_start:.0f} s)",
                end="",
                flush=True,
            )
    if progress:
        print()
    return {k: Stat(v, sizes[k]) for k, v in samples.items()}


def paired_ratio(a: Stat, b: Stat) -> float:
    """Median over rounds of a/b (both measured in the same round)."""
    return statistics.median(x / y for x, y in zip(a.samples, b.samples, strict=True) if y > 0)


def paired_diff(a: Stat, b: Stat) -> float:
    """Median over rounds of a - b, in µs (an overhead over a baseline)."""
    return statistics.median(x - y for x, y in zip(a.samples, b.samples, strict=True))


def shuffle(items: list[Any], seed: str) -> None:
    """Deterministic Fisher-Yates from a hash chain (no `random` in this repo)."""
    state = hashlib.sha256(seed.encode()).digest()
    for i in range(len(items) - 1, 0, -1):
        state = hashlib.sha256(state).digest()
        j = int.from_bytes(state[:8], "big") % (i + 1)
        items[i], items[j] = items[j], items[i]
