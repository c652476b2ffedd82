"""The command line: keygen, staged rotation on key files, inspect on real cookies."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cookiesess import InvalidToken, Keyring, SessionEngine
from cookiesess._b64 import encode as b64
from cookiesess.cli import main
from cookiesess.engine import Inspection
from cookiesess.stores import MemoryStore, SQLiteStore
from tests.helpers import SECRET_A, SECRET_B, Browser, ring_of

REASONS = ("malformed", "unknown_key", "auth_failed", "expired", "chunk_missing", "store_missing")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIESESS_KEYS", raising=False)
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)


# -- keygen ---------------------------------------------------------------------


def test_keygen_prints_an_entry_the_env_format_parses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "keygen")
    assert code == 0
    ring = Keyring.from_text(out.strip())
    assert ring.primary.id == "k" + dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    assert out.count(":") == 2
    assert ":primary:" in out


def test_keygen_custom_id_and_fresh_secret(capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = run(capsys, "keygen", "--id", "prod-2")
    _, second, _ = run(capsys, "keygen", "--id", "prod-2")
    assert Keyring.from_text(first).primary.id == "prod-2"
    assert first != second


def test_keygen_bad_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "keygen", "--id", "no spaces")
    assert (code, out) == (2, "")
    assert "an id is 1-64 characters" in err


# -- keys -----------------------------------------------------------------------


def states(path: Path) -> dict[str, str]:
    if path.suffix == ".toml":
        data = tomllib.loads(path.read_text())
    else:
        data = json.loads(path.read_text())
    return {e["id"]: e["state"] for e in data["keys"]}


def secrets_of(path: Path) -> list[str]:
    text = path.read_text()
    data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    return [e["secret"] for e in data["keys"]]


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_keys_staged_rotation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"keys{suffix}"
    code, out, _ = run(capsys, "keys", "add", "--id", "k1", "--file", str(path))
    assert code == 0
    assert "created" in out
    assert "as primary" in out
    assert states(path) == {"k1": "primary"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    code, out, _ = run(capsys, "keys", "add", "--id", "k2", "--file", str(path))
    assert code == 0
    assert "decrypt-only" in out
    assert "keys promote k2" in out
    assert states(path) == {"k1": "primary", "k2": "decrypt"}
    assert Keyring.from_file(path).primary.id == "k1"

    code, _, err = run(capsys, "keys", "retire", "k1", "--file", str(path))
    assert code == 1
    assert "primary" in err
    assert states(path) == {"k1": "primary", "k2": "decrypt"}

    code, out, _ = run(capsys, "keys", "promote", "k2", "--file", str(path))
    assert code == 0
    assert states(path) == {"k1": "decrypt", "k2": "primary"}
    ring = Keyring.from_file(path)
    assert (ring.primary.id, [k.id for k in ring.keys]) == ("k2", ["k1", "k2"])

    code, out, _ = run(capsys, "keys", "retire", "k1", "--file", str(path))
    assert code == 0
    assert states(path) == {"k1": "retired", "k2": "primary"}
    assert Keyring.from_file(path).retired_ids == ("k1",)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left

    code, out, _ = run(capsys, "keys", "list", "--file", str(path))
    assert code == 0
    assert "k1" in out
    assert "retired" in out
    assert "k2" in out
    assert "primary" in out
    for secret in secrets_of(path):
        assert secret not in out

    code, out, _ = run(capsys, "keys", "list", "--show-secrets", "--file", str(path))
    assert code == 0
    for secret in secrets_of(path):
        assert secret in out


def test_keys_add_default_ids_are_unique(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    for _ in range(3):
        assert run(capsys, "keys", "add", "--file", str(path))[0] == 0
    today = "k" + dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    assert list(states(path)) == [today, f"{today}-2", f"{today}-3"]
    entry = json.loads(path.read_text())["keys"][0]
    assert dt.datetime.fromisoformat(entry["created"]).tzinfo is not None


def test_keys_refusals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    run(capsys, "keys", "add", "--id", "a", "--file", str(path))
    run(capsys, "keys", "add", "--id", "b", "--file", str(path))
    run(capsys, "keys", "retire", "b", "--file", str(path))
    before = path.read_bytes()
    for argv, needle in [
        (("add", "--id", "a"), "already"),
        (("promote", "b"), "retired"),
        (("promote", "zz"), "no key 'zz'"),
        (("retire", "zz"), "no key 'zz'"),
        (("retire", "a"), "primary"),
    ]:
        code, _, err = run(capsys, "keys", *argv, "--file", str(path))
        assert code == 1, argv
        assert needle in err
    assert path.read_bytes() == before
    assert run(capsys, "keys", "promote", "a", "--file", str(path))[:2] == (
        0,
        "a is already the primary key; nothing to do\n",
    )
    assert run(capsys, "keys", "retire", "b", "--file", str(path))[0] == 0


def test_keys_config_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "keys", "list")
    assert code == 2
    assert "--file" in err
    assert run(capsys, "keys", "list", "--file", str(tmp_path / "missing.json"))[0] == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": [{"id": "a", "state": "primary", "secret": "c2hvcnQ"}]}')
    code, _, err = run(capsys, "keys", "add", "--file", str(bad))
    assert code == 2
    assert "32 random bytes" in err
    assert "c2hvcnQ" not in err
    with pytest.raises(SystemExit) as exc:
        main(["keys"])
    assert exc.value.code == 2


def test_keys_file_from_env_and_loose_mode(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps({"keys": [{"id": "a", "state": "primary", "secret": b64(SECRET_A)}]})
    )
    path.chmod(0o644)
    monkeypatch.setenv("COOKIESESS_KEYS_FILE", str(path))
    code, _, err = run(capsys, "keys", "add", "--id", "b")
    assert code == 0
    assert "readable by others" in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert states(path) == {"a": "primary", "b": "decrypt"}


def test_keys_refuses_to_rewrite_a_toml_file_it_cannot_keep(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A TOML key file with a value key files do not hold is left alone (exit 2, named)."""
    path = tmp_path / "keys.toml"
    text = f'ratio = 0.5\n\n[[keys]]\nid = "a"\nstate = "primary"\nsecret = "{b64(SECRET_A)}"\n'
    path.write_text(text)

    code, _, err = run(capsys, "keys", "add", "--id", "b", "--file", str(path))

    assert code == 2
    assert "'ratio' holds a float" in err
    assert path.read_text() == text


def test_toml_keeps_extra_fields_through_rotation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(
        f'owner = "ops"\n\n[[keys]]\nid = "a"\nstate = "primary"\nsecret = "{b64(SECRET_A)}"\n'
        'note = "first"\n'
    )
    assert run(capsys, "keys", "add", "--id", "b", "--file", str(path))[0] == 0
    data = tomllib.loads(path.read_text())
    assert data["owner"] == "ops"
    assert data["keys"][0]["note"] == "first"


# -- inspect: cookies made by the engine ---------------------------------------


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    entries = [
        {"id": "a", "state": "primary", "secret": b64(SECRET_A)},
        {"id": "b", "state": "decrypt", "secret": b64(SECRET_B)},
    ]
    path.write_text(json.dumps({"keys": entries}))
    return path


def cookies_for(data: dict[str, Any], *, state: str = "primary", **options: Any) -> dict[str, str]:
    """Commit `data` through a real engine and return the cookies a browser would send."""
    other = "decrypt" if state == "primary" else "primary"
    ring = ring_of(("a", SECRET_A, state), ("b", SECRET_B, other))
    engine = SessionEngine(ring, **options)
    session = engine.load({})
    session.update(data)
    browser = Browser()
    browser.apply(engine.commit(session, {}))
    return browser.cookies


def header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def test_inspect_single_cookie(capsys: pytest.CaptureFixture[str], keys_file: Path) -> None:
    cookies = cookies_for({"user": "ada", "cart": [1, 2]})
    code, out, err = run(capsys, "inspect", "--keys-file", str(keys_file), cookies["session"])
    assert (code, err) == (0, "")
    assert "session: 1 chunk(s), sealed in the cookie" in out
    assert "a (primary)" in out
    assert "of 6000 bytes" in out
    assert "{'user': 'ada', 'cart': [1, 2]}" in out
    for label in ("issued", "deadline", "last activity", "session id"):
        assert label in out


def test_inspect_chunked_pairs_and_bare_values(
    capsys: pytest.CaptureFixture[str], keys_file: Path
) -> None:
    data = {"blob": "x" * 5000}
    cookies = cookies_for(data, max_total_bytes=16000)
    assert len(cookies) == 2
    pairs = [f"{k}={v}" for k, v in cookies.items()]
    code, out, _ = run(capsys, "inspect", "--keys-file", str(keys_file), "--json", *pairs)
    assert code == 0
    found = json.loads(out)
    assert found["chunks"] == 2
    assert found["mode"] == "cookie"
    assert found["data"] == data
    assert [c["name"] for c in found["cookies"]] == ["session", "session.1"]
    assert found["total_bytes"] == sum(c["bytes"] for c in found["cookies"]) + 2
    assert all(c["bytes"] <= 4096 for c in found["cookies"])
    # The same chunks as bare values, in order.
    code, out, _ = run(
        capsys,
        "inspect",
        "--keys-file",
        str(keys_file),
        "--json",
        cookies["session"],
        cookies["session.1"],
    )
    assert json.loads(out)["data"] == data


def test_inspect_whole_cookie_header_from_stdin(
    capsys: pytest.CaptureFixture[str], keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookies = cookies_for({"n": 1, "text": "y" * 6000}, max_total_bytes=16000)
    line = f"Cookie: theme=dark; {header(cookies)}; csrftoken=abc"
    monkeypatch.setattr(sys, "stdin", io.StringIO(line + "\n"))
    code, out, _ = run(capsys, "inspect", "--keys-file", str(keys_file), "--json")
    assert code == 0
    assert json.loads(out)["data"] == {"n": 1, "text": "y" * 6000}
    monkeypatch.setattr(sys, "stdin", io.StringIO(line))
    assert run(capsys, "inspect", "--keys-file", str(keys_file), "-")[0] == 0


def test_inspect_keys_from_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cookies = cookies_for({"k": "v"})
    monkeypatch.setenv("COOKIESESS_KEYS", f"a:primary:{b64(SECRET_A)}")
    code, out, _ = run(capsys, "inspect", "--json", header(cookies))
    assert code == 0
    assert json.loads(out)["key_id"] == "a"
    monkeypatch.delenv("COOKIESESS_KEYS")
    code, _, err = run(capsys, "inspect", header(cookies))
    assert code == 2
    assert "no keys configured" in err


def test_inspect_json_output(capsys: pytest.CaptureFixture[str], keys_file: Path) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    data = {"raw": b"\x00\xff", "at": when, "tags": {"b", "a"}, "n": None}
    cookies = cookies_for(data, cookie_name="sid", app_namespace="shop")
    code, out, _ = run(
        capsys,
        "inspect",
        "--keys-file",
        str(keys_file),
        "--cookie-name",
        "sid",
        "--app-namespace",
        "shop",
        "--json",
        header(cookies),
    )
    assert code == 0
    found = json.loads(out)
    assert found["data"] == {"raw": "AP8", "at": when.isoformat(), "tags": ["a", "b"], "n": None}
    assert found["cookie_name"] == "sid"
    assert found["key_state"] == "primary"
    assert found["max_cookie_bytes"] == 4096
    assert found["max_total_bytes"] == 6000
    assert found["store_key"] is None
    assert found["idle_deadline"] is None
    issued = dt.datetime.fromisoformat(found["issued"])
    deadline = dt.datetime.fromisoformat(found["deadline"])
    assert abs(issued.timestamp() - time.time()) < 60
    assert deadline - issued == dt.timedelta(days=14)


def test_inspect_decrypt_key_and_stale_chunks(
    capsys: pytest.CaptureFixture[str], keys_file: Path
) -> None:
    cookies = cookies_for({"x": 1}, state="decrypt")  # sealed under "b"
    cookies["session.1"] = "stale"
    code, out, _ = run(capsys, "inspect", "--keys-file", str(keys_file), header(cookies))
    assert code == 0
    assert "b (decrypt; the next write re-seals it under the primary)" in out
    assert "stale chunks  session.1 (ignored)" in out


def test_inspect_idle_timeout(capsys: pytest.CaptureFixture[str], keys_file: Path) -> None:
    cookies = cookies_for({"x": 1}, idle_timeout=600)
    args = ["inspect", "--keys-file", str(keys_file), "--idle-timeout", "600", "--json"]
    code, out, _ = run(capsys, *args, header(cookies))
    found = json.loads(out)
    assert code == 0
    last = dt.datetime.fromisoformat(found["last_activity"])
    assert dt.datetime.fromisoformat(found["idle_deadline"]) - last == dt.timedelta(seconds=600)


def test_inspect_store_reference(
    capsys: pytest.CaptureFixture[str], keys_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "sessions.sqlite3"
    data = {"big": "z" * 9000}
    with SQLiteStore(db) as store:
        cookies = cookies_for(data, store=store)
    assert list(cookies) == ["session"]
    code, out, _ = run(capsys, "inspect", "--keys-file", str(keys_file), header(cookies))
    assert code == 0
    assert "store reference" in out
    assert "in the store; pass --sqlite PATH" in out
    code, out, _ = run(
        capsys, "inspect", "--keys-file", str(keys_file), "--sqlite", str(db), "--json",
        header(cookies),
    )  # fmt: skip
    found = json.loads(out)
    assert code == 0
    assert found["mode"] == "store"
    assert found["data"] == data
    assert len(found["store_key"]) == 64


@pytest.mark.parametrize("reason", REASONS)
def test_inspect_rejections(
    capsys: pytest.CaptureFixture[str], keys_file: Path, tmp_path: Path, reason: str
) -> None:
    extra: list[str] = []
    if reason == "malformed":
        cookies = {"session": "not-a-token"}
    elif reason == "unknown_key":
        ring = ring_of(("c", bytes(range(50, 82)), "primary"))
        engine = SessionEngine(ring)
        session = engine.load({})
        session["x"] = 1
        browser = Browser()
        browser.apply(engine.commit(session, {}))
        cookies = browser.cookies
    elif reason == "auth_failed":
        cookies = cookies_for({"x": 1})
        token = cookies["session"]
        middle = len(token) // 2
        cookies["session"] = (
            token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
        )
    elif reason == "expired":
        ring = ring_of(("a", SECRET_A, "primary"))
        engine = SessionEngine(ring)
        long_ago = time.time() - 15 * 24 * 3600
        session = engine.load({}, now=long_ago)
        session["x"] = 1
        browser = Browser()
        browser.apply(engine.commit(session, {}, now=long_ago))
        cookies = browser.cookies
    elif reason == "chunk_missing":
        cookies = cookies_for({"blob": "q" * 8000}, max_total_bytes=16000)
        assert len(cookies) == 3
        del cookies["session.1"]
    else:  # store_missing: a valid reference, an empty store
        with SQLiteStore(tmp_path / "a.sqlite3") as store:
            cookies = cookies_for({"big": "z" * 9000}, store=store)
        empty = tmp_path / "b.sqlite3"
        SQLiteStore(empty).close()
        empty.touch()
        extra = ["--sqlite", str(empty)]
    code, out, err = run(capsys, "inspect", "--keys-file", str(keys_file), *extra, header(cookies))
    assert (code, out) == (1, "")
    assert err.startswith(f"cookiesess: rejected: {reason}: ")
    if reason == "chunk_missing":
        assert "records 3 chunks; missing: session.1" in err
    if reason == "unknown_key":
        assert "a (primary), b (decrypt)" in err


def test_inspect_wrong_context_fails_authentication(
    capsys: pytest.CaptureFixture[str], keys_file: Path
) -> None:
    cookies = cookies_for({"x": 1}, app_namespace="shop")
    code, _, err = run(capsys, "inspect", "--keys-file", str(keys_file), cookies["session"])
    assert code == 1
    assert "rejected: auth_failed" in err


def test_inspect_input_errors(capsys: pytest.CaptureFixture[str], keys_file: Path) -> None:
    base = ["inspect", "--keys-file", str(keys_file)]
    code, _, err = run(capsys, *base, "other=1; theme=dark")
    assert code == 1
    assert "no cookie named 'session'" in err
    assert "other, theme" in err
    code, _, err = run(capsys, *base, "a=1", "bare")
    assert code == 2
    assert "not NAME=VALUE" in err
    assert run(capsys, *base, *(["v"] * 11))[0] == 2
    assert run(capsys, *base, "--sqlite", "/nonexistent/x.sqlite3", "session=x")[0] == 2
    assert run(capsys, *base, "--max-total-bytes", "10", "session=x")[0] == 2


# -- the engine helper behind inspect --------------------------------------------


def test_engine_inspect_reports_without_side_effects() -> None:
    calls: list[str] = []
    store = MemoryStore()
    ring = ring_of(("a", SECRET_A, "primary"))
    engine = SessionEngine(ring, store=store, on_reject=calls.append)
    assert engine.inspect({}) is None
    session = engine.load({})
    session["big"] = "w" * 9000
    browser = Browser()
    browser.apply(engine.commit(session, {}))
    found = engine.inspect(browser.cookies)
    assert isinstance(found, Inspection)
    assert found.mode == "store"
    assert found.data == {"big": "w" * 9000}
    assert found.session_id == session.id
    unfetched = engine.inspect(browser.cookies, fetch=False)
    assert unfetched is not None
    assert unfetched.data is None
    assert unfetched.store_key == found.store_key
    with pytest.raises(InvalidToken) as exc:
        engine.inspect({"session": "x"})
    assert exc.value.reason == "malformed"
    assert calls == []  # no hook runs


def test_python_dash_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-Im", "cookiesess", "inspect", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert result.returncode == 0
    assert "exit codes: 0 success; 1 rejected" in result.stdout
    assert "--keys-file" in result.stdout
