"""The release as a user gets it: the sdist and wheel `make dist` builds, the wheel installed.

`make test` runs `make dist` first and points ``COOKIESESS_DIST`` at its output; without it
the artifacts are built here. The wheel goes into a fresh venv with every adapter extra,
resolved from the package index, and `smoke.py` runs there from an empty directory, so it
can only import what the wheel installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

import cookiesess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# Each extra that enables an adapter or store, and the modules that must then import.
ADAPTERS = {
    "flask": ["flask", "cookiesess.flask"],
    "django": ["django", "cookiesess.django"],
    "starlette": ["starlette", "cookiesess.asgi"],
    "litestar": ["litestar", "cookiesess.asgi"],
    "redis": ["redis", "cookiesess.stores.redis"],
    "metrics": ["prometheus_client", "cookiesess.metrics"],
}
# Extras for working on cookiesess itself, not for using it.
DEVELOPMENT_EXTRAS = {"test", "bench", "fuzz", "docs", "dist", "speed"}
KEY_ENTRY = re.compile(r"^[\w.-]+:primary:[A-Za-z0-9_-]{43}$")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding exactly one sdist and one wheel of this version."""
    given = os.environ.get("COOKIESESS_DIST")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    return out


def only(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def wheel_metadata(wheel: Path) -> tuple[list[str], dict[str, list[str]], str]:
    info = f"cookiesess-{cookiesess.__version__}.dist-info"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        text = zf.read(f"{info}/METADATA").decode()
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    headers = HeaderParser().parsestr(text)
    return names, {key: headers.get_all(key) or [] for key in set(headers.keys())}, entry_points


def test_wheel_contents(dist: Path) -> None:
    """The wheel holds the package with py.typed and the license; its metadata is this version."""
    wheel = only(dist, f"cookiesess-{cookiesess.__version__}-py3-none-any.whl")

    names, meta, entry_points = wheel_metadata(wheel)

    assert "cookiesess/py.typed" in names
    assert f"cookiesess-{cookiesess.__version__}.dist-info/licenses/LICENSE" in names
    assert {name.split("/")[0] for name in names} == {
        "cookiesess",
        f"cookiesess-{cookiesess.__version__}.dist-info",
    }
    assert meta["Version"] == [cookiesess.__version__]
    assert meta["License-Expression"] == ["MIT"]
    assert meta["Requires-Python"] == [">=3.11"]
    assert meta["Description-Content-Type"] == ["text/markdown"]
    assert "cookiesess = cookiesess.cli:main" in entry_points
    assert set(meta["Provides-Extra"]) == set(ADAPTERS) | DEVELOPMENT_EXTRAS


def test_sdist_contents(dist: Path) -> None:
    """The sdist carries what it takes to build, read and test the release, and nothing local."""
    sdist = only(dist, f"cookiesess-{cookiesess.__version__}.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}

    for required in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "SECURITY.md",
        "ARCHITECTURE.md",
        "CHANGELOG.md",
        "mkdocs.yml",
        "docs/index.md",
        "cookiesess/py.typed",
        "tests/conftest.py",
        "tests/release/test_dist.py",
        "fuzz/fuzz_unseal.py",
        "examples/flask_app.py",
    ):
        assert required in names, required
    leaked = [n for n in names if n.split("/")[0] in {".venv", "dist", "build", ".git"}]
    assert not leaked
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_installs_and_works_in_a_fresh_venv(dist: Path, tmp_path: Path) -> None:
    """Installed from the wheel alone: keygen, a seal/open round trip, every adapter imports."""
    wheel = only(dist, "cookiesess-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    extras = ",".join(sorted(ADAPTERS))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"cookiesess[{extras}] @ {wheel.as_uri()}"],
        check=True,
        capture_output=True,
    )
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COOKIESESS_"))}

    keygen = subprocess.run(
        [str(bin_dir / "cookiesess"), "keygen"],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = keygen.stdout.strip()
    smoke = subprocess.run(
        [str(python), "-I", str(Path(__file__).with_name("smoke.py")), key, json.dumps(ADAPTERS)],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(smoke.stdout)

    assert KEY_ENTRY.match(key), key
    assert Path(report["file"]).is_relative_to(venv.resolve())
    assert report["version"] == report["dist_version"] == cookiesess.__version__
    assert report["reopened"] == {"user": "ada", "cart": [1, 2, 3]}
    assert report["same_id"]
    assert report["set_cookie"][0].startswith("__Host-session=")
    assert report["imported"] == ADAPTERS
    assert report["py_typed"]
