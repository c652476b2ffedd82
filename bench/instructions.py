"""Instructions per request under callgrind: the ASGI middlewares side by side.

Timed ratios on a shared machine move by 5-20 % from run to run; the
instructions a request executes hardly move. This runs the handlers of
`mw_bench` (ignore, read, modify, follow) for cookiesess, Starlette and
Litestar under valgrind's callgrind, one process per stack, and prints
instructions per request over the bare app with the ratios theirs / ours.
Instructions are not time (bytecode runs fewer instructions per cycle than
C code), so read them beside `make bench`, not instead of it.

    python bench/instructions.py [--payloads tiny,medium] [--requests 1000]

Needs valgrind (Debian: ``apt-get install valgrind``); a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STACKS = ("asgi baseline", "cookiesess ASGI", "starlette SessionMiddleware", "litestar ClientSide")
FLOOR = "asgi pass-through"
SHORT = {"cookiesess ASGI": "cookiesess", "starlette SessionMiddleware": "starlette"}
SHORT["litestar ClientSide"] = "litestar"
VARIANTS = ("ignore", "read", "modify", "follow")


def _child(stack_name: str, payloads: list[str], requests: int) -> None:
    """Run inside callgrind: one dump per segment, labels on stdout in dump order."""
    sys.path.insert(0, str(HERE))
    import mw_bench as mb
    from _harness import Loop
    from payloads import PAYLOADS

    from cookiesess import Keyring

    loop = Loop()
    stack = next(s for s in mb.asgi_stacks(Keyring.generate()) if s.name == stack_name)
    segments = []
    for name in payloads:
        cookie = mb.asgi_seeded_cookie(loop, stack, PAYLOADS[name])
        template = {**mb._asgi_scope(cookie), **stack.extra_scope}
        for variant in (v for v in VARIANTS if v in stack.variants):
            call = mb.asgi_request(mb.asgi_app(stack, variant), variant, template)
            segments.append((f"{variant}|{name}", call))

    async def run(call: Any, n: int) -> None:
        for _ in range(n):
            await call()

    for _, call in segments:  # warm: first-request caches, remembered tokens
        loop.run(run(call, 50))
    pid = str(os.getpid())

    def dump() -> None:
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)

    labels = ["<setup>"]
    dump()
    for label, call in segments:
        loop.run(run(call, requests))
        dump()
        labels.append(label)
    dump()  # an empty segment: what a dump itself costs
    labels.append("<empty>")
    print(json.dumps(labels))


def _measure(stack: str, payloads: list[str], requests: int) -> dict[str, float]:
    """Instructions per request for each `variant|payload` of `stack`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        argv = [sys.executable, __file__, "--child", stack, "--payloads", ",".join(payloads)]
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv,
             "--requests", str(requests)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        labels = json.loads(proc.stdout.strip().splitlines()[-1])
        totals = [_totals(Path(f"{out}.{i}")) for i in range(1, len(labels) + 1)]
    empty = totals[-1]
    return {
        label: (total - empty) / requests
        for label, total in zip(labels, totals, strict=True)
        if not label.startswith("<")
    }


def _totals(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def report(counts: dict[str, dict[str, float]], payloads: list[str]) -> str:
    """A markdown table: instructions over the bare app, and theirs / ours."""
    bare = counts["asgi baseline"]
    rows = [
        "| handler | payload | cookiesess | starlette | litestar | starlette / ours "
        "| litestar / ours |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in payloads:
        base = bare[f"ignore|{name}"]
        for variant in VARIANTS:
            key = f"{variant}|{name}"
            over = {SHORT[s]: counts[s][key] - base for s in STACKS[1:] if key in counts[s]}
            ours = over["cookiesess"]
            cells = [f"{over[s] / 1000:.1f} k" if s in over else "-" for s in SHORT.values()]
            ratios = [f"**{over[s] / ours:.2f}x**" if s in over else "-" for s in SHORT.values()]
            rows.append(f"| {variant} | {name} | " + " | ".join(cells + ratios[1:]) + " |")
    floor = counts.get(FLOOR)
    if floor:
        rows.append(
            "\nThe floor under every `ignore` row, a pass-through middleware (scope copy, send "
            "wrapper, nothing else): "
            + ", ".join(
                f"{n} {(floor[f'ignore|{n}'] - bare[f'ignore|{n}']) / 1000:.1f} k" for n in payloads
            )
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payloads", default="tiny,medium")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    payloads = args.payloads.split(",")
    if args.child:
        _child(args.child, payloads, args.requests)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("needs valgrind (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    counts = {}
    for stack in (*STACKS, FLOOR):
        print(f"  {stack} under callgrind ...", file=sys.stderr, flush=True)
        counts[stack] = _measure(stack, payloads, args.requests)
    print(
        f"Instructions per request over the bare ASGI app (callgrind, {args.requests} "
        "requests per handler, after 50 warm-up requests), and theirs / ours:\n"
    )
    print(report(counts, payloads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
