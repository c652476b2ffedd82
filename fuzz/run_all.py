"""Run every fuzz target with atheris and report executions and coverage.

Usage: ``FUZZ_SECONDS=600 python fuzz/run_all.py`` (``make fuzz`` does this
after ``pip install -e '.[fuzz]'``).

Environment:
    FUZZ_SECONDS: seconds per target (default 60).
    FUZZ_TARGETS: comma-separated subset, e.g. ``codec,unseal`` (default all).
    FUZZ_JOBS: targets run at once, each in its own process (default 1).

Each target runs in a subprocess with ``-timeout=1 -rss_limit_mb=512``. New
inputs go to ``fuzz/.work/<target>/`` (the committed seeds in
``fuzz/corpus/<target>/`` are only read), crashes to ``fuzz/artifacts/``,
and the full libFuzzer log to ``fuzz/.work/<target>.log``. Exits non-zero
if any target found a crash, timeout or memory blow-up.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
ARTIFACTS = HERE / "artifacts"

# Target -> libFuzzer -max_len: each big enough for its largest real input.
TARGETS: dict[str, int] = {
    "cookie_header": 16384,
    "chunks": 4096,
    "unseal": 8192,
    "codec": 8192,
    "engine_load": 16384,
}
COMMON_FLAGS = ("-timeout=1", "-rss_limit_mb=512", "-print_final_stats=1")

_STATUS = re.compile(
    r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+(?:.*?exec/s: (\d+))?(?:.*?rss: (\d+)Mb)?"
)
_EXECS = re.compile(r"stat::number_of_executed_units: (\d+)")
_RSS = re.compile(r"stat::peak_rss_mb: (\d+)")
_FAILURE = re.compile(
    r"==\d+== ERROR: libFuzzer: (\S+)|ALARM: working on the last Unit|"
    r"=== Uncaught Python exception|Test unit written to (\S+)"
)


@dataclasses.dataclass
class Result:
    """What one run reported."""

    target: str
    returncode: int = 0
    execs: int = 0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    exec_per_s: int = 0
    rss_mb: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run ended cleanly with no finding."""
        return self.returncode == 0 and not self.failures


def parse_log(target: str, text: str, returncode: int) -> Result:
    """Extract executions, coverage and findings from a libFuzzer log."""
    result = Result(target, returncode)
    for line in text.splitlines():
        if match := _STATUS.match(line):
            result.execs = int(match[1])
            result.cov, result.ft, result.corpus = int(match[2]), int(match[3]), int(match[4])
            if match[5]:
                result.exec_per_s = int(match[5])
            if match[6]:
                result.rss_mb = int(match[6])
        elif match := _EXECS.search(line):
            result.execs = int(match[1])
        elif match := _RSS.search(line):
            result.rss_mb = int(match[1])
        if match := _FAILURE.search(line):
            result.failures.append(match[0])
    return result


def run(target: str, seconds: int) -> Result:
    """Fuzz one target for `seconds` in a subprocess."""
    work = WORK / target
    work.mkdir(parents=True, exist_ok=True)
    ARTIFACTS.mkdir(exist_ok=True)
    command = [
        sys.executable,
        str(HERE / f"fuzz_{target}.py"),
        str(work),
        str(HERE / "corpus" / target),
        f"-max_total_time={seconds}",
        f"-max_len={TARGETS[target]}",
        f"-artifact_prefix={ARTIFACTS}/{target}-",
        *COMMON_FLAGS,
    ]
    env = dict(os.environ, PYTHONPATH=str(HERE))
    proc = subprocess.run(  # noqa: S603 - our own interpreter and harness
        command, capture_output=True, text=True, errors="replace", env=env, check=False
    )
    log = proc.stdout + proc.stderr
    (WORK / f"{target}.log").write_text(log)
    return parse_log(target, log, proc.returncode)


def main() -> int:
    """Run the selected targets and print one line per target."""
    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    selected = [t for t in os.environ.get("FUZZ_TARGETS", ",".join(TARGETS)).split(",") if t]
    unknown = set(selected) - set(TARGETS)
    if unknown:
        print(f"unknown targets: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    jobs = max(1, int(os.environ.get("FUZZ_JOBS", "1")))
    print(f"fuzzing {len(selected)} target(s) for {seconds} s each, {jobs} at a time")
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda t: run(t, seconds), selected))
    print(
        f"{'target':<14} {'executions':>12} {'exec/s':>8} {'cov':>6} {'ft':>7} "
        f"{'corpus':>7} {'rss MB':>7}  result"
    )
    for r in results:
        status = "ok" if r.ok else f"FAILED (exit {r.returncode}): {'; '.join(r.failures)}"
        print(
            f"{r.target:<14} {r.execs:>12} {r.exec_per_s:>8} {r.cov:>6} {r.ft:>7} "
            f"{r.corpus:>7} {r.rss_mb:>7}  {status}"
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
