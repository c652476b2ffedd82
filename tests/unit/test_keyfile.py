"""Key files: one reader and one writer for the keyring, the CLI and the demo."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cookiesess import Keyring, KeyringError, keyfile
from cookiesess._b64 import encode as b64
from tests.helpers import SECRET_A, SECRET_B

ENTRY = {"id": "k1", "state": "primary", "secret": b64(SECRET_A)}
TOML = f'[[keys]]\nid = "k1"\nstate = "primary"\nsecret = "{b64(SECRET_A)}"\n'


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("keys.json", json.dumps({"keys": [ENTRY]})),
        ("keys.toml", TOML),
        ("keys", json.dumps({"keys": [ENTRY]})),  # no extension: JSON starts with '{'
        ("keys.conf", TOML),  # no known extension: anything else is TOML
    ],
)
def test_one_rule_for_the_format(tmp_path: Path, name: str, text: str) -> None:
    """The extension decides, else the content; the keyring loads through the same reader."""
    path = tmp_path / name
    path.write_text(text)

    assert keyfile.read(path) == {"keys": [ENTRY]}
    assert Keyring.from_file(path).primary.id == "k1"


def test_the_extension_wins_over_the_content(tmp_path: Path) -> None:
    """A .json file holding TOML is invalid JSON, not silently read as TOML."""
    path = tmp_path / "keys.json"
    path.write_text(TOML)

    with pytest.raises(KeyringError, match="not valid JSON or TOML"):
        keyfile.read(path)


def test_read_errors_name_the_file_never_its_content(tmp_path: Path) -> None:
    """Missing, unparsable or non-table files fail with the path and without the text."""
    with pytest.raises(KeyringError, match="cannot read key file"):
        keyfile.read(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(f'secret = "{b64(SECRET_B)}"\nbroken')
    with pytest.raises(KeyringError) as info:
        keyfile.read(bad)
    assert b64(SECRET_B) not in str(info.value)
    listed = tmp_path / "list.json"
    listed.write_text("[1]")
    with pytest.raises(KeyringError, match="expected an object"):
        keyfile.read(listed)


@pytest.mark.parametrize("name", ["keys.json", "keys.toml", "keys"])
def test_write_is_atomic_0600_and_reads_back(tmp_path: Path, name: str) -> None:
    """A write leaves one file, mode 0600, no temporary files, and reads back equal."""
    path = tmp_path / name
    path.write_text("{}" if name == "keys" else "")
    path.chmod(0o644)
    data: dict[str, Any] = {"owner": "ops", "keys": [ENTRY]}

    keyfile.write(path, data)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == [name]
    assert keyfile.read(path) == data


def test_write_keeps_the_format_of_an_extensionless_file(tmp_path: Path) -> None:
    """A TOML file without extension is rewritten as TOML; a new one is JSON."""
    toml_path = tmp_path / "keys"
    toml_path.write_text(TOML)
    new_path = tmp_path / "fresh"

    keyfile.write(toml_path, {"keys": [ENTRY]})
    keyfile.write(new_path, {"keys": [ENTRY]})

    assert tomllib.loads(toml_path.read_text()) == {"keys": [ENTRY]}
    assert json.loads(new_path.read_text()) == {"keys": [ENTRY]}


def test_toml_writer_round_trips_what_key_files_hold(tmp_path: Path) -> None:
    """Strings with any character, integers, booleans and dates survive a TOML round trip."""
    data: dict[str, Any] = {
        "comment": 'quote " backslash \\ newline \n tab \t cr \r nul \x00 del \x7f é ✓',
        "version": 3,
        "on": True,
        "keys": [
            {
                **ENTRY,
                "created": dt.datetime(2026, 11, 30, 1, 2, 3, tzinfo=dt.UTC),
                "day": dt.date(2026, 11, 30),
                "note with space": "",
            },
            {"id": "k0", "state": "retired", "secret": b64(SECRET_B), "off": False},
        ],
    }
    path = tmp_path / "keys.toml"

    keyfile.write(path, data)

    assert tomllib.loads(path.read_text()) == data
    assert Keyring.from_file(path).retired_ids == ("k0",)


@pytest.mark.parametrize(
    ("field", "value"),
    [("ratio", 0.5), ("tags", ["a"]), ("nested", {"x": 1})],
)
def test_toml_writer_refuses_what_a_key_file_does_not_hold(
    tmp_path: Path, field: str, value: object
) -> None:
    """Floats, lists and tables are refused by name, and the file is left as it was."""
    path = tmp_path / "keys.toml"
    path.write_text(TOML)

    with pytest.raises(KeyringError, match=f"'{field}' holds a"):
        keyfile.write(path, {field: value, "keys": [ENTRY]})
    with pytest.raises(KeyringError, match="'keys' must be a list of tables"):
        keyfile.write(path, {"keys": "k1"})

    assert path.read_text() == TOML
    assert os.listdir(tmp_path) == ["keys.toml"]


def test_no_import_cycle_between_the_cli_and_the_demo() -> None:
    """The demo writes its key file without importing the CLI."""
    code = "import sys, cookiesess.demo; print('cookiesess.cli' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert out.stdout.strip() == "False"
