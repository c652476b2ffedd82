"""The ``cookiesess`` command (also ``python -m cookiesess``).

Commands::

    cookiesess keygen [--id ID]                      print a new key entry (env format)
    cookiesess keys list|add|promote|retire --file PATH
                                                     staged rotation of a JSON/TOML key file
    cookiesess inspect [VALUE...]                    open a session cookie and say what it holds
    cookiesess demo [--host H] [--port P] [--store PATH]
                                                     run the demo app with uvicorn

Exit codes:
    0: success.
    1: rejected: the cookie does not open (the reason code is on stderr), the
       input holds no session cookie, or a key operation is refused (e.g.
       retiring the primary key).
    2: usage or configuration error: bad arguments, an unreadable or invalid
       key file, no keys configured, a missing dependency.

Key files are rewritten atomically (temporary file in the same directory,
fsync, rename, fsync of the directory) with mode 0600. Secrets are printed
only by ``keygen`` and by ``keys list --show-secrets``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import pprint
import re
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, Final

from . import _b64, keyfile
from .cookies import chunk_name, parse_cookie_header
from .engine import Inspection, SessionEngine
from .envelope import MAX_CHUNKS, read_header
from .exceptions import ConfigurationError, InvalidToken, StoreError
from .keys import FILE_ENV_VAR, KEY_BYTES, Keyring

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_REJECTED: Final = 1
EXIT_USAGE: Final = 2

_EPILOG: Final = (
    "exit codes: 0 success; 1 rejected (the cookie does not open, no session cookie in "
    "the input, or a refused key operation); 2 usage or configuration error"
)
_MAX_INPUT: Final = 1024 * 1024
_KEY_ID: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_COOKIE_PREFIX: Final = re.compile(r"^\s*(?:>\s*)?cookie\s*:\s*", re.IGNORECASE)

_REASONS: Final[dict[str, str]] = {
    "malformed": "not a cookiesess token of this format version (bad base64url, header or layout)",
    "unknown_key": "sealed under a key id this keyring does not hold (retired, or another keyring)",
    "auth_failed": (
        "the key id matches but the token does not authenticate: tampered, spliced chunks, "
        "or sealed for another cookie name or app namespace (--cookie-name, --app-namespace)"
    ),
    "expired": (
        "past its absolute deadline or idle timeout, or issued in the future "
        "beyond the 60 s clock skew"
    ),
    "chunk_missing": "the header records more chunks than the input holds",
    "store_missing": "a valid store reference whose record is not in the store (expired, deleted)",
}


class _Refused(Exception):
    """A refused operation or a rejected input: exit code 1."""


class _UsageError(Exception):
    """Bad arguments or configuration: exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (`cookiesess inspect ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_REJECTED
    except _Refused as exc:
        print(f"cookiesess: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except (_UsageError, ConfigurationError, StoreError) as exc:
        print(f"cookiesess: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


# -- argument parsing ---------------------------------------------------------


_FORMAT: Final = argparse.RawDescriptionHelpFormatter
_AddParser = Callable[..., argparse.ArgumentParser]
"""A subparsers group's ``add_parser``."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cookiesess",
        description="Encrypted cookie sessions: key files, cookie inspection, the demo app.",
        epilog=_EPILOG,
        formatter_class=_FORMAT,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (_add_keygen, _add_keys, _add_inspect, _add_demo):
        add_command(sub.add_parser)
    return parser


def _command(
    add_parser: _AddParser,
    name: str,
    help_: str,
    description: str,
    func: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    command = add_parser(
        name, help=help_, description=description, epilog=_EPILOG, formatter_class=_FORMAT
    )
    command.set_defaults(func=func)
    return command


def _add_keygen(add_parser: _AddParser) -> None:
    keygen = _command(
        add_parser,
        "keygen",
        "print a new key entry in the COOKIESESS_KEYS format",
        "Print a new random key as ID:primary:SECRET, the format of COOKIESESS_KEYS.\n"
        "For a key file, use `cookiesess keys add --file PATH` instead.",
        _cmd_keygen,
    )
    keygen.add_argument("--id", help="key id (default: k + today's date, e.g. k20261130)")


def _add_keys(add_parser: _AddParser) -> None:
    keys = add_parser(
        "keys",
        help="list and rotate the keys of a JSON or TOML key file",
        description=(
            "Staged key rotation on a key file (JSON or TOML, by extension or content):\n"
            "  1. keys add           a new key, decrypt-only; deploy the file everywhere\n"
            "  2. keys promote ID    it seals from now on; the old primary is decrypt-only\n"
            "  3. keys retire OLD    once sessions under OLD have been re-sealed or expired\n"
            "The file is rewritten atomically with mode 0600 (TOML comments are not kept)."
        ),
        epilog=_EPILOG,
        formatter_class=_FORMAT,
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_, description, func in _KEY_ACTIONS:
        action = _command(actions.add_parser, name, help_, description, func)
        action.add_argument(
            "--file",
            metavar="PATH",
            default=os.environ.get(FILE_ENV_VAR),
            help=f"the key file (default: ${FILE_ENV_VAR})",
        )
        if name == "list":
            action.add_argument(
                "--show-secrets", action="store_true", help="also print the secrets"
            )
        elif name == "add":
            action.add_argument("--id", help="key id (default: k + today's date, e.g. k20261130)")
        else:
            action.add_argument("key_id", metavar="ID")


def _add_inspect(add_parser: _AddParser) -> None:
    inspect = _command(
        add_parser,
        "inspect",
        "open a session cookie and show what it holds, or why it is rejected",
        "Open a session cookie with the keys from the environment (COOKIESESS_KEYS_FILE\n"
        "or COOKIESESS_KEYS) or --keys-file, and print its data, key, chunks, sizes\n"
        "against the budget and deadlines. VALUE is a cookie value (several values are\n"
        "the chunks in order), NAME=VALUE pairs, or a whole Cookie header; with no\n"
        "VALUE or '-', it is read from stdin. A rejected cookie prints\n"
        "'rejected: REASON' on stderr and exits 1.",
        _cmd_inspect,
    )
    add = inspect.add_argument
    add("values", nargs="*", metavar="VALUE")
    add("--keys-file", metavar="PATH", help="JSON or TOML key file")
    add("--cookie-name", default="session", help="base cookie name (session)")
    add("--app-namespace", default="", help="the app's app_namespace ('')")
    add("--max-cookie-bytes", type=int, default=4096, metavar="N", help="budget per cookie (4096)")
    add("--max-total-bytes", type=int, default=6000, metavar="N", help="total budget (6000)")
    add("--idle-timeout", type=int, metavar="SECONDS", help="the app's idle_timeout, if any")
    add("--sqlite", metavar="PATH", help="SQLite store file, to read a store reference's data")
    add("--json", action="store_true", help="print one JSON object")


def _add_demo(add_parser: _AddParser) -> None:
    demo = _command(
        add_parser,
        "demo",
        "run the demo app (needs uvicorn)",
        "Serve the demo app with uvicorn: a page showing the session, its cookies, its\n"
        "size against the budget and the switch to the SQLite store, with live key rotation.",
        _cmd_demo,
    )
    demo.add_argument("--host", default="127.0.0.1", help="interface (127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port (8000)")
    demo.add_argument(
        "--store", metavar="PATH", help="SQLite store file (default: a temporary file)"
    )


# -- keygen ---------------------------------------------------------------------


def _default_id(taken: Sequence[str] = ()) -> str:
    base = "k" + _dt.datetime.now(_dt.UTC).strftime("%Y%m%d")
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _new_secret() -> str:
    return _b64.encode(os.urandom(KEY_BYTES))


def _cmd_keygen(args: argparse.Namespace) -> int:
    key_id = args.id or _default_id()
    if not _KEY_ID.fullmatch(key_id):
        raise _UsageError(f"--id {key_id!r}: an id is 1-64 characters of [A-Za-z0-9_.-]")
    entry = f"{key_id}:primary:{_new_secret()}"
    Keyring.from_text(entry, source="keygen")  # the entry must load as printed
    print(entry)
    return EXIT_OK


# -- keys -------------------------------------------------------------------------


def _key_file(args: argparse.Namespace) -> str:
    if not args.file:
        raise _UsageError(f"no key file: pass --file PATH or set {FILE_ENV_VAR}")
    return os.path.realpath(str(args.file))


def _load_keys(path: str) -> dict[str, Any]:
    data = keyfile.read(path)
    Keyring.from_mapping(data, source=path)  # every problem at once, never a secret
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        print(
            f"cookiesess: warning: {path} is readable by others (mode {mode:04o}); "
            "`keys add|promote|retire` rewrite it with mode 0600",
            file=sys.stderr,
        )
    return data


def _entries(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return data["keys"]  # type: ignore[no-any-return]


def _find(data: Mapping[str, Any], key_id: str, path: str) -> dict[str, Any]:
    for entry in _entries(data):
        if entry["id"] == key_id:
            return entry
    ids = ", ".join(e["id"] for e in _entries(data))
    raise _Refused(f"no key {key_id!r} in {path} (keys: {ids})")


def _cmd_keys_list(args: argparse.Namespace) -> int:
    path = _key_file(args)
    data = _load_keys(path)
    rows = [("ID", "STATE", "CREATED", *(("SECRET",) if args.show_secrets else ()))]
    for e in _entries(data):
        created = e.get("created", "-")
        rows.append(
            (e["id"], e["state"], str(created), *((e["secret"],) if args.show_secrets else ()))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _cmd_keys_add(args: argparse.Namespace) -> int:
    path = _key_file(args)
    created = not os.path.exists(path)
    data: dict[str, Any] = {"keys": []} if created else _load_keys(path)
    taken = [e["id"] for e in _entries(data)]
    key_id = args.id or _default_id(taken)
    if key_id in taken:
        raise _Refused(f"key id {key_id!r} is already in {path}; choose another with --id")
    state = "primary" if created else "decrypt"
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    entry = {"id": key_id, "state": state, "secret": _new_secret(), "created": _iso(now)}
    _entries(data).append(entry)
    _save_keys(path, data)
    if created:
        print(f"created {path} with key {key_id} as primary (the first key of a new keyring)")
    else:
        print(f"added key {key_id} to {path} as decrypt-only")
        print(
            f"next: deploy {path} to every instance, then "
            f"`cookiesess keys promote {key_id} --file {path}`"
        )
    return EXIT_OK


def _cmd_keys_promote(args: argparse.Namespace) -> int:
    path = _key_file(args)
    data = _load_keys(path)
    entry = _find(data, args.key_id, path)
    if entry["state"] == "primary":
        print(f"{args.key_id} is already the primary key; nothing to do")
        return EXIT_OK
    if entry["state"] == "retired":
        raise _Refused(
            f"refusing to promote retired key {args.key_id!r}: retired keys stay retired; "
            "add a new key with `cookiesess keys add`"
        )
    old = next(e for e in _entries(data) if e["state"] == "primary")
    old["state"] = "decrypt"
    entry["state"] = "primary"
    _save_keys(path, data)
    print(f"{args.key_id} is now primary; {old['id']} is decrypt-only")
    print(
        f"next: deploy {path}; once sessions sealed under {old['id']} have been re-sealed "
        f"(on their next request) or expired, `cookiesess keys retire {old['id']} --file {path}`"
    )
    return EXIT_OK


def _cmd_keys_retire(args: argparse.Namespace) -> int:
    path = _key_file(args)
    data = _load_keys(path)
    entry = _find(data, args.key_id, path)
    if entry["state"] == "primary":
        raise _Refused(
            f"refusing to retire {args.key_id!r}: it is the primary key; "
            "promote another key first (`cookiesess keys add`, then `keys promote`)"
        )
    if entry["state"] == "retired":
        print(f"{args.key_id} is already retired; nothing to do")
        return EXIT_OK
    entry["state"] = "retired"
    _save_keys(path, data)
    print(
        f"{args.key_id} is retired: cookies sealed under it no longer open "
        "(their holders get a fresh session); deploy the file"
    )
    return EXIT_OK


def _save_keys(path: str, data: dict[str, Any]) -> None:
    Keyring.from_mapping(data, source=path)  # never write a file that would not load
    keyfile.write(path, data)


_KEY_ACTIONS: Final = (
    ("list", "show key ids, states and creation dates", "List the keys of a file.", _cmd_keys_list),
    (
        "add",
        "add a new random key as decrypt-only",
        "Add a new random key in state 'decrypt'. On a missing file, create the file\n"
        "with the new key as primary (the first key of a new keyring).",
        _cmd_keys_add,
    ),
    (
        "promote",
        "make a key primary; the old primary becomes decrypt-only",
        "Make key ID the primary (it seals new cookies); the old primary becomes\n"
        "decrypt-only. Deploy the key to every instance before promoting it.",
        _cmd_keys_promote,
    ),
    (
        "retire",
        "retire a decrypt-only key (never the primary)",
        "Retire key ID: cookies sealed under it no longer open. The primary is refused.",
        _cmd_keys_retire,
    ),
)


# -- inspect -------------------------------------------------------------------


def _cmd_inspect(args: argparse.Namespace) -> int:
    keyring = Keyring.from_file(args.keys_file) if args.keys_file else Keyring.from_env()
    store = None
    if args.sqlite:
        if not os.path.isfile(args.sqlite):
            raise _UsageError(f"no SQLite store file at {args.sqlite}")
        from .stores import SQLiteStore

        store = SQLiteStore(args.sqlite)
    engine = SessionEngine(
        keyring,
        cookie_name=args.cookie_name,
        app_namespace=args.app_namespace,
        max_cookie_bytes=args.max_cookie_bytes,
        max_total_bytes=args.max_total_bytes,
        idle_timeout=args.idle_timeout,
        store=store,
    )
    cookies = _input_cookies(args.values, args.cookie_name, sys.stdin)
    try:
        found = engine.inspect(cookies, fetch=store is not None)
    except InvalidToken as exc:
        raise _Refused(_rejection(exc.reason, cookies, engine)) from None
    finally:
        if store is not None:
            store.close()
    if found is None:
        names = ", ".join(cookies) or "none"
        raise _Refused(
            f"no cookie named {args.cookie_name!r} in the input (cookies: {names}); "
            "see --cookie-name"
        )
    if args.json:
        print(json.dumps(_as_json(found), indent=2, default=_json_default))
    else:
        _print_inspection(found, sys.stdout)
    return EXIT_OK


def _input_cookies(values: Sequence[str], cookie_name: str, stdin: IO[str]) -> dict[str, str]:
    """Read cookies from the arguments or stdin (see ``inspect --help``)."""
    items = list(values)
    if not items or items == ["-"]:
        items = stdin.read(_MAX_INPUT).splitlines()
    items = [_COOKIE_PREFIX.sub("", item).strip() for item in items]
    items = [item for item in items if item]
    if not items:
        raise _UsageError("no cookie given: pass a value, NAME=VALUE pairs or a Cookie header")
    if not any("=" in item for item in items):
        parts = [part for item in items for part in item.split()]
        if len(parts) > MAX_CHUNKS:
            raise _UsageError(f"{len(parts)} values given; a session has at most {MAX_CHUNKS}")
        return {chunk_name(cookie_name, i): part for i, part in enumerate(parts)}
    bare = [item for item in items if "=" not in item]
    if bare:
        raise _UsageError(
            f"{bare[0][:20]!r}… is not NAME=VALUE; give either bare values or pairs, not both"
        )
    return parse_cookie_header(items)


def _rejection(reason: str, cookies: Mapping[str, str], engine: SessionEngine) -> str:
    detail = _REASONS.get(reason, "")
    name = engine.config.cookie_name
    if reason == "chunk_missing":
        count = read_header(cookies[name]).chunks
        missing = [
            chunk_name(name, i) for i in range(1, count) if not cookies.get(chunk_name(name, i))
        ]
        detail = f"the header records {count} chunks; missing: {', '.join(missing)}"
    elif reason == "unknown_key":
        held = ", ".join(f"{k.id} ({k.state})" for k in engine.keyring.keys)
        detail += f"; this keyring holds {held}"
    return f"rejected: {reason}: {detail}" if detail else f"rejected: {reason}"


def _iso(ts: float | _dt.datetime | None) -> str | None:
    if ts is None:
        return None
    when = ts if isinstance(ts, _dt.datetime) else _dt.datetime.fromtimestamp(ts, _dt.UTC)
    return when.isoformat().replace("+00:00", "Z")


def _as_json(found: Inspection) -> dict[str, Any]:
    return {
        "cookie_name": found.cookie_name,
        "mode": found.mode,
        "key_id": found.key_id,
        "key_state": found.key_state,
        "chunks": found.chunks,
        "cookies": [{"name": n, "bytes": b} for n, b in found.cookie_bytes],
        "total_bytes": found.total_bytes,
        "max_cookie_bytes": found.max_cookie_bytes,
        "max_total_bytes": found.max_total_bytes,
        "stale_chunks": list(found.stale_chunks),
        "issued": _iso(found.issued),
        "deadline": _iso(found.deadline),
        "last_activity": _iso(found.last_activity),
        "idle_deadline": _iso(found.idle_deadline),
        "generation": found.generation,
        "session_id": found.session_id,
        "store_key": found.store_key,
        "data": found.data,
    }


def _json_default(value: object) -> Any:
    """Show values JSON cannot hold: bytes as base64url, sets as lists, the rest as str."""
    if isinstance(value, bytes):
        return _b64.encode(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return str(value)


def _ago(ts: int, now: float) -> str:
    delta = int(ts - now)
    span = abs(delta)
    for unit, seconds in (("d", 86400), ("h", 3600), ("min", 60)):
        if span >= seconds:
            text = f"{span // seconds} {unit}"
            break
    else:
        text = f"{span} s"
    return f"in {text}" if delta > 0 else f"{text} ago"


def _when(ts: int | None, now: float) -> str:
    if ts is None:
        return "none"
    stamp = _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({_ago(ts, now)})"


def _print_inspection(found: Inspection, out: IO[str]) -> None:
    now = _dt.datetime.now(_dt.UTC).timestamp()
    state = found.key_state
    if state != "primary":
        state += "; the next write re-seals it under the primary"
    where = "sealed in the cookie" if found.mode == "cookie" else "store reference"
    share = 100 * found.total_bytes // found.max_total_bytes
    rows = [
        ("cookie", f"{found.cookie_name}: {found.chunks} chunk(s), {where}"),
        ("key", f"{found.key_id} ({state})"),
        ("session id", found.session_id),
        ("size", f"{found.total_bytes} of {found.max_total_bytes} bytes ({share}%)"),
    ]
    rows += [
        ("", f"  {name}: {size} of {found.max_cookie_bytes} bytes (name=value)")
        for name, size in found.cookie_bytes
    ]
    if found.stale_chunks:
        rows.append(("stale chunks", ", ".join(found.stale_chunks) + " (ignored)"))
    rows += [
        ("issued", _when(found.issued, now)),
        ("deadline", _when(found.deadline, now)),
        ("last activity", _when(found.last_activity, now)),
    ]
    if found.idle_deadline is not None:
        rows.append(("idle deadline", _when(found.idle_deadline, now)))
    if found.generation:
        rows.append(("generation", str(found.generation)))
    if found.store_key is not None:
        rows.append(("store key", found.store_key))
    for label, value in rows:
        print(f"{label:<14}{value}", file=out)
    if found.data is None:
        print("data          in the store; pass --sqlite PATH to read it", file=out)
    else:
        print(f"data          {len(found.data)} key(s)", file=out)
        print(pprint.pformat(found.data, width=100, sort_dicts=False), file=out)


# -- demo ------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.run(host=args.host, port=args.port, store_path=args.store)
