"""cookiesess side-by-side benchmarks (issue 8).

    python bench/run.py            # full run, a few minutes, then the load test
    python bench/run.py --quick    # about a minute, no load test
    python bench/run.py --only codec,middleware --no-load

Sections: (a) codecs, (b) middleware per-request overhead, (c) keyring size,
(d) the store fallback, (e) cookie sizes; then the socket load test
(`bench/load.py`). Prints markdown tables and writes bench/results/latest.json.
See bench/README.md for the method and how to read the numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness as h  # noqa: E402
import report  # noqa: E402
from payloads import NAMES, PAYLOADS, json_size  # noqa: E402

SECTIONS = ("codec", "middleware", "keys", "store")
PACKAGES = (
    "cookiesess", "cbor2", "cryptography", "itsdangerous", "starlette", "starsessions",
    "litestar", "msgspec", "flask", "werkzeug", "django", "pybase64", "redis", "uvicorn",
)  # fmt: skip

# (rounds, target batch seconds of CPU time) per section.
PROFILES = {
    "full": {
        "codec": (61, 0.004),
        "middleware": (61, 0.005),
        "keys": (61, 0.004),
        "store": (21, 0.03),
    },
    "quick": {
        "codec": (11, 0.002),
        "middleware": (11, 0.003),
        "keys": (11, 0.002),
        "store": (7, 0.015),
    },
}


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute; no load test")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--payloads", default=",".join(NAMES), help="payloads, comma-separated")
    parser.add_argument("--load", action="store_true", help="run the load test with --quick too")
    parser.add_argument("--no-load", action="store_true", help="skip the socket load test")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="clock of the in-process sections (the store section always uses the wall clock)",
    )
    parser.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    args = parser.parse_args(argv)

    profile = PROFILES["quick" if args.quick else "full"]
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    payloads = tuple(p for p in NAMES if p in args.payloads.split(","))
    unknown = [s for s in only if s not in SECTIONS] + [
        p for p in args.payloads.split(",") if p.strip() and p not in NAMES
    ]
    if unknown:
        parser.error(
            f"unknown section or payload {', '.join(unknown)}; sections: {', '.join(SECTIONS)};"
            f" payloads: {', '.join(NAMES)}"
        )
    h.set_clock(args.clock)
    warnings.simplefilter("ignore")  # werkzeug warns on every oversized Flask cookie

    from cookiesess import Keyring

    started = time.time()
    meta: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "clock": args.clock,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": _loadavg(),
        "packages": _versions(),
        "profile": {k: {"rounds": r, "batch_s": t} for k, (r, t) in profile.items()},
        "payloads": {p: {"json_bytes": json_size(PAYLOADS[p])} for p in payloads},
    }
    out: dict[str, Any] = {"meta": meta, "results": {}, "derived": {}}
    text: list[str] = []
    loop = h.Loop()
    keyring = Keyring.generate()
    cases: list[Any] = []
    store_counts: dict[str, Any] = {}
    all_res: dict[str, h.Stat] = {}

    print(
        f"cookiesess bench ({meta['mode']}, {args.clock} clock), load average "
        f"{meta['loadavg_start']}, sections {', '.join(only)}",
        flush=True,
    )

    if "codec" in only:
        import codec_bench as cb

        engines = cb.make_engines()
        schemes = cb.make_schemes(engines)
        sizes = {s.name: cb.check(s) for s in schemes}
        out["sizes"] = sizes
        rounds, target = profile["codec"]
        res = h.measure(
            cb.codec_benches(schemes, payloads), rounds=rounds, target_s=target, label="codec"
        )
        all_res.update(res)
        t, d = report.codec_tables(res, [s.name for s in schemes], payloads)
        out["derived"]["codec"] = d
        notes = "\n".join(f"* `{s.name}`: {s.note}" for s in schemes if s.note)
        text += [
            "### (a) Codecs",
            t,
            notes,
            "### (e) Cookie sizes",
            report.size_table(sizes, payloads),
        ]

    if "middleware" in only:
        import mw_bench as mb

        benches, cases = mb.middleware_benches(loop, keyring, payloads)
        broken = [c for c in cases if not c.ok]
        if broken:
            print(f"WARNING: {len(broken)} middleware cases did not behave: {broken}")
        rounds, target = profile["middleware"]
        res = h.measure(benches, rounds=rounds, target_s=target, label="middleware")
        all_res.update(res)
        t1, d1 = report.middleware_table(res, cases, payloads)
        t2, d2 = report.middleware_ratio_table(res, payloads)
        out["derived"]["middleware"] = {**d1, **d2}
        out["cases"] = [c.__dict__ for c in cases]
        text += ["### (b) Middleware, per request (in process, no sockets)", t1, t2]

    if "keys" in only:
        import codec_bench as cb

        key_payloads = tuple(p for p in ("tiny", "medium") if p in payloads) or payloads[:1]
        rounds, target = profile["keys"]
        res = h.measure(
            cb.keyring_benches(key_payloads), rounds=rounds, target_s=target, label="keys"
        )
        all_res.update(res)
        t, d = report.keys_table(res, key_payloads)
        out["derived"]["keys"] = d
        text += ["### (c) Keyring size", t]

    if "store" in only:
        import store_bench as sb

        with sb.redis_server() as url:
            section = sb.StoreSection(loop, keyring, url)
            try:
                store_counts = section.count_pass()
                rounds, target = profile["store"]
                res = h.measure(section.benches(), rounds=rounds, target_s=target, label="store")
            finally:
                section.close()
        all_res.update(res)
        t, d = report.store_table(res, store_counts)
        out["derived"]["store"] = d
        out["store_counts"] = store_counts
        if section.skipped:
            t += "\n\nSkipped: " + "; ".join(section.skipped)
        text += ["### (d) Fallback to a store (10 KB session)", t]

    loop.close()
    t, checks = report.targets(all_res, cases, store_counts, payloads)
    out["targets"] = checks
    text = ["### Targets of issue 8 (ratios from this run)", t, *text]
    out["results"] = {k: st.as_json() for k, st in all_res.items()}

    load_requested = ("--load" in (argv or sys.argv)) or not (args.quick or args.no_load)
    if load_requested:
        meta["loadavg_before_load_test"] = _loadavg()
        cmd = [sys.executable, str(HERE / "load.py"), "--json"]
        if args.quick:
            cmd.append("--quick")
        print("  load test: " + " ".join(cmd[1:]), flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            load = json.loads(proc.stdout.strip().splitlines()[-1])
            out["load"] = load
            text += ["### Load test over real sockets (uvicorn, loopback)", load["table"]]
        else:
            text += ["### Load test", f"failed:\n```\n{proc.stderr[-2000:]}\n```"]

    section = report.readme_section(out["derived"], payloads, out.get("load"))
    out["readme_section"] = section
    text += ["### README performance section (generated from this run)", section]
    meta["loadavg_end"] = _loadavg()
    meta["seconds"] = round(time.time() - started, 1)
    header = (
        f"cookiesess bench, {meta['mode']} run, {meta['started']}, Python {meta['python']}, "
        f"{meta['cpus']} CPUs, {args.clock} clock; load average start {meta['loadavg_start']}, "
        f"end {meta['loadavg_end']}; {meta['seconds']} s"
    )
    print()
    print(header)
    print()
    print("\n\n".join(text))
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
