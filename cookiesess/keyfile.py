"""Key files: the one reader and the one writer of JSON and TOML key files.

A key file is ``{"keys": [{"id", "state", "secret", ...}, ...]}`` plus any
top-level fields, in JSON or TOML. The format is chosen by the extension
(``.toml``, ``.json``), else by the content (JSON starts with ``{``); a new
file without either extension is JSON. Writes are atomic, with mode 0600.
Used by `Keyring.from_file`, the CLI and the demo; it knows nothing of keys.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from typing import Final

from .exceptions import KeyringError

__all__ = ["read", "write"]

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_CONTROL: Final = re.compile(r'["\\\x00-\x1f\x7f]')


def read(path: str | os.PathLike[str]) -> dict[str, object]:
    """Read a JSON or TOML key file.

    Raises:
        KeyringError: when the file cannot be read or parsed, naming the path
            but never quoting its content.
    """
    where = os.fspath(path)
    try:
        with open(path, "rb") as fp:
            raw = fp.read()
    except OSError as exc:
        raise KeyringError(f"cannot read key file {where}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8")) if _is_toml(where, raw) else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        # A JSON/TOML error message may quote the file's text: keep only its kind.
        raise KeyringError(
            f"key file {where} is not valid JSON or TOML ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise KeyringError(f"key file {where}: expected an object with a 'keys' list")
    return data


def write(path: str | os.PathLike[str], data: Mapping[str, object]) -> None:
    """Replace the key file at `path` with `data`, atomically, with mode 0600.

    The file keeps its format (see the module docstring). Temporary file in the
    same directory, fsync, rename, fsync of the directory: a reader sees the
    old file or the new one, never a mix.

    Raises:
        KeyringError: when a TOML file would need a value a key file does not
            hold (a float, a list or a nested table).
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as fp:
            head = fp.read(4096)
    except FileNotFoundError:
        head = b"{"
    text = _dump_toml(data, where) if _is_toml(where, head) else json.dumps(data, indent=2)
    _write_atomic(where, text + "\n")


def _is_toml(path: str, content: bytes) -> bool:
    if path.endswith(".toml"):
        return True
    if path.endswith(".json"):
        return False
    return not content.lstrip().startswith(b"{")


def _write_atomic(path: str, text: str) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            os.fchmod(fp.fileno(), 0o600)  # mkstemp's default; explicit as the contract
            fp.write(text)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# TOML for what key files hold (tomllib only reads): top-level scalars, then one
# [[keys]] table of scalars per key. Scalars: strings, integers, booleans, dates.


def _dump_toml(data: Mapping[str, object], where: str) -> str:
    entries = data.get("keys")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise KeyringError(f"cannot write {where}: 'keys' must be a list of tables")
    lines = [_toml_pair(k, v, where) for k, v in data.items() if k != "keys"]
    for entry in entries:
        lines += ["", "[[keys]]"] if lines else ["[[keys]]"]
        lines += [_toml_pair(k, v, where) for k, v in entry.items()]
    return "\n".join(lines)


def _toml_pair(key: str, value: object, where: str) -> str:
    name = key if _BARE_KEY.fullmatch(key) else _toml_str(key)
    if isinstance(value, bool):
        return f"{name} = {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"{name} = {value}"
    if isinstance(value, str):
        return f"{name} = {_toml_str(value)}"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return f"{name} = {value.isoformat()}"
    raise KeyringError(
        f"cannot write {where}: {key!r} holds a {type(value).__name__}; a TOML key file "
        "holds strings, integers, booleans and dates (use a JSON key file for more)"
    )


def _toml_str(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        ch = match.group()
        return _TOML_ESCAPES.get(ch) or f"\\u{ord(ch):04x}"

    return '"' + _CONTROL.sub(escape, text) + '"'
