"""Load test over real sockets: uvicorn + Starlette, our middleware vs Starlette's.

    python bench/load.py            # 7 rounds x 2 s per case, 56 B and 1.5 KB sessions
    python bench/load.py --quick    # 1 round x 1.5 s per case, 56 B only

One uvicorn process (1 worker, loopback only) per stack: no sessions,
cookiesess, Starlette's SessionMiddleware; all three run for the whole test.
A second process drives them: ``wrk`` when it is on PATH (Debian's ``wrk``
package), else an httpx-based async generator. Every request carries the
session cookie the server itself set for the payload.

A shared machine's speed drifts by tens of percent over seconds, so what is
compared runs back to back: each round runs, per handler and payload, the app
without sessions, then cookiesess and Starlette as A B B A (half the time
each; which is A alternates by round), the groups in a shuffled order. The
report gives requests/s medians and the median of the per-round ratios
cookiesess / Starlette, with each round's. A control pads the app without
sessions to the size of each stack's 56 B modify response (its two runs A B B
A too): what the bytes alone cost, and a gauge of the noise, since it should
read about 1.0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import shuffle

HERE = Path(__file__).resolve().parent
STACKS = ("none", "cookiesess", "starlette")
HANDLERS = ("read", "modify")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def servers(keys: str) -> Iterator[dict[str, int]]:
    """Start one uvicorn per stack on 127.0.0.1; stop them (by pid) on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    try:
        for stack in STACKS:
            port = _free_port()
            env = {
                **os.environ,
                "BENCH_STACK": stack,
                "BENCH_KEYS": keys,
                "PYTHONPATH": str(HERE.parent),
            }
            cmd = [
                sys.executable, "-m", "uvicorn", "_loadapp:app", "--app-dir", str(HERE),
                "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
            procs.append(subprocess.Popen(cmd, env=env))
            ports[stack] = port
        deadline = time.monotonic() + 30
        for port in ports.values():
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("uvicorn did not start") from None
                    time.sleep(0.1)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


def seed_cookie(port: int, payload: str) -> str:
    """The Cookie header for the session the server sets for `payload`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/seed?payload={payload}", timeout=5) as r:
        lines = r.headers.get_all("set-cookie") or []
    return "; ".join(line.split(";", 1)[0] for line in lines)


def response_bytes(url: str, cookie: str) -> int:
    """The size of the response to one request (status line, headers and body)."""
    host, _, path = url.removeprefix("http://").partition("/")
    with socket.create_connection(tuple(host.split(":")), timeout=5) as sock:  # type: ignore[arg-type]
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode("latin-1"))
        size = 0
        while chunk := sock.recv(65536):
            size += len(chunk)
    return size


def run_wrk(url: str, cookie: str, seconds: float, connections: int) -> dict[str, Any]:
    cmd = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "-H", f"Cookie: {cookie}", url,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = None
    if p50:
        lat = float(p50.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p50.group(2)]
    return {"rps": rps, "p50_ms": lat, "non2xx": int(errors.group(1)) if errors else 0}


def run_httpx(url: str, cookie: str, seconds: float, connections: int) -> dict[str, Any]:
    """Fallback generator: `connections` async clients in a subprocess, for `seconds`."""
    code = f"""
import asyncio, time, httpx, json
async def main():
    done = 0; bad = 0
    end = time.perf_counter() + {seconds!r}
    async with httpx.AsyncClient(headers={{"Cookie": {cookie!r}}},
            limits=httpx.Limits(max_connections={connections})) as client:
        async def worker():
            nonlocal done, bad
            while time.perf_counter() < end:
                r = await client.get({url!r})
                done += 1; bad += r.status_code >= 300
        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range({connections})])
        print(json.dumps({{"rps": done / (time.perf_counter() - t0), "non2xx": bad}}))
asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["p50_ms"] = None
    return result


def _per_round(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[float]:
    """The ratio of requests/s, ours / theirs, round by round."""
    return [a["rps"] / b["rps"] for a, b in zip(ours, theirs, strict=True)]


def _listed(ratios: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seconds", type=float, help="per case and round")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--driver", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 7)
    seconds = args.seconds or (1.5 if args.quick else 2.0)
    payloads = ("tiny",) if args.quick else ("tiny", "medium")
    driver = args.driver
    if driver == "auto":
        driver = "wrk" if shutil.which("wrk") else "httpx"
    run = run_wrk if driver == "wrk" else run_httpx

    from cookiesess import Keyring

    ring = Keyring.generate("bench")
    keys = f"bench:primary:{ring.primary.secret_b64()}"
    samples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    started = time.time()
    with servers(keys) as ports:
        cookies = {
            (stack, p): ("" if stack == "none" else seed_cookie(ports[stack], p))
            for stack in STACKS
            for p in payloads
        }
        # One group per comparison: the bare app's run, then the pair compared.
        groups = [
            ([("none", h, p)], [("cookiesess", h, p), ("starlette", h, p)])
            for h in HANDLERS
            for p in payloads
        ]
        # A control for the response size: the no-session app padded to the size of
        # each stack's 56 B modify response, to tell what the bytes alone cost.
        hello = response_bytes(f"http://127.0.0.1:{ports['none']}/modify", "")
        sizes = {
            stack: response_bytes(
                f"http://127.0.0.1:{ports[stack]}/modify", cookies[(stack, "tiny")]
            )
            for stack in ("cookiesess", "starlette")
        }
        pad_header = len("x-pad: \r\n")
        pads = [
            ("none", f"pad?n={max(0, size - hello - pad_header)}", s) for s, size in sizes.items()
        ]
        groups.append(([], pads))

        def measure(case: tuple[str, str, str], seconds: float) -> dict[str, Any]:
            stack, handler, p = case
            url = f"http://127.0.0.1:{ports[stack]}/{handler}"
            return run(url, cookies.get((stack, p), ""), seconds, args.connections)

        for r in range(rounds):
            shuffle(groups, f"load/{r}")
            for alone, (first, second) in groups:
                for case in alone:
                    samples.setdefault(case, []).append(measure(case, seconds))
                # The pair as A B B A, half the time each: a drift during the group
                # weighs on both alike. Which goes first alternates by round.
                a, b = (first, second) if r % 2 == 0 else (second, first)
                runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {a: [], b: []}
                for case in (a, b, b, a):
                    runs[case].append(measure(case, seconds / 2))
                for case, (one, two) in runs.items():
                    samples.setdefault(case, []).append(
                        {
                            "rps": (one["rps"] + two["rps"]) / 2,
                            "p50_ms": one["p50_ms"],
                            "non2xx": one["non2xx"] + two["non2xx"],
                        }
                    )
                if not args.json:
                    line = " ".join(
                        f"{c[0]} {c[1]} {c[2]} {samples[c][-1]['rps']:.0f}"
                        for c in (*alone, first, second)
                    )
                    print(f"  round {r + 1}: {line} req/s")
    rows = []
    derived: dict[str, Any] = {}
    for handler in HANDLERS:
        for p in payloads:
            med = {s: statistics.median(x["rps"] for x in samples[(s, handler, p)]) for s in STACKS}
            ratios = _per_round(
                samples[("cookiesess", handler, p)], samples[("starlette", handler, p)]
            )
            ratio = statistics.median(ratios)
            derived[f"{handler}|{p}"] = {
                "rps": med,
                "cookiesess_over_starlette": round(ratio, 3),
                "rounds": [round(x, 3) for x in ratios],
                "non2xx": {s: sum(x["non2xx"] for x in samples[(s, handler, p)]) for s in STACKS},
            }
            rows.append(
                f"| {handler} | {p} | {med['none']:.0f} | {med['cookiesess']:.0f} "
                f"({med['cookiesess'] / med['none']:.2f}x) | {med['starlette']:.0f} "
                f"({med['starlette'] / med['none']:.2f}x) | **{ratio:.2f}x** | {_listed(ratios)} |"
            )
    padded = {stack: samples[(none, pad, stack)] for none, pad, stack in pads}
    pad_ratios = _per_round(padded["cookiesess"], padded["starlette"])
    pad_ratio = statistics.median(pad_ratios)
    control = {
        "bytes": sizes,
        "rps": {stack: statistics.median(x["rps"] for x in runs) for stack, runs in padded.items()},
        "cookiesess_over_starlette": round(pad_ratio, 3),
        "rounds": [round(x, 3) for x in pad_ratios],
    }
    table = "\n".join(
        [
            f"{driver}, {args.connections} connections, {rounds} round(s) x {seconds:g} s per "
            f"case (the pair compared as A B B A), 1 uvicorn worker per stack, loopback; req/s "
            f"medians (x the same app without sessions)",
            "",
            "| handler | payload | no sessions | cookiesess | starlette | cookiesess / starlette "
            "| each round |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Control for the response size: the app without sessions, its response padded to "
            f"each stack's 56 B modify response ({sizes['cookiesess']} B for cookiesess, "
            f"{sizes['starlette']} B for Starlette): {control['rps']['cookiesess']:.0f} vs "
            f"{control['rps']['starlette']:.0f} req/s, **{pad_ratio:.2f}x** (each round: "
            f"{_listed(pad_ratios)}): what the size alone costs, and how far this run's noise "
            "strays from 1.0x.",
        ]
    )
    result = {
        "driver": driver,
        "rounds": rounds,
        "seconds_per_case": seconds,
        "connections": args.connections,
        "elapsed_s": round(time.time() - started, 1),
        "results": derived,
        "size_control": control,
        "table": table,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
