"""The demo app behind ``cookiesess demo`` and ``make demo``.

A plain ASGI app (no framework needed) wrapped in `cookiesess.asgi.SessionMiddleware`
and served by uvicorn. One page shows the session, a size meter against the
cookie budget with the chunk count, the mode (in the cookie, or in the SQLite
store behind a reference) switching as data grows and shrinks, the key that
sealed the cookie, and the raw cookies the browser sent. Buttons (HTML forms,
POST then redirect) add and remove data, regenerate the id, log out and rotate
the key live. ``GET /session.json`` returns the same facts for scripts.

The keyring is generated at start and written to a 0600 key file in a private
temporary directory, so ``cookiesess inspect`` can open the demo's cookies;
a rotation rewrites that file. Real apps load keys from ``COOKIESESS_KEYS_FILE``
or ``COOKIESESS_KEYS``.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qs

from . import _b64, codec, keyfile
from .asgi import Message, Receive, Scope, Send, SessionMiddleware
from .cookies import parse_cookie_header
from .engine import META_BYTES, Inspection, SessionEngine
from .envelope import MAX_CHUNKS, sealed_chars
from .exceptions import InvalidToken
from .keys import KEY_BYTES, Key, Keyring
from .session import Session
from .stores import SQLiteStore

__all__ = ["DemoApp", "run"]

_MAX_BODY: Final = 256 * 1024
_MAX_TEXT: Final = 64 * 1024
_NOTICES: Final[dict[str, str]] = {
    "login": "Logged in; the session id was regenerated (as on any privilege change).",
    "note": "Note added.",
    "unnote": "Last note removed.",
    "clear": "Notes cleared.",
    "text": "Text saved.",
    "regenerate": "New session id; same data. The old store record, if any, was deleted.",
    "logout": "Logged out: the session was destroyed and its cookies expired.",
    "rotate": (
        "Key rotated: a new primary seals from now on. Cookies sealed under the previous "
        "key (now decrypt-only) still open, and are re-sealed on their next request."
    ),
}
_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class DemoApp:
    """The demo ASGI app, already wrapped in the session middleware.

    Args:
        store: the fallback store (the demo uses a `SQLiteStore`).
        keys_file: where to keep the dev keyring for ``cookiesess inspect``, or None.
    """

    def __init__(self, store: Any, keys_file: str | None = None) -> None:
        self._serial = 1
        self._retired: list[Key] = []
        self._created: dict[str, str] = {}
        self.keys_file = keys_file
        engine = SessionEngine(
            Keyring([Key("k1", os.urandom(KEY_BYTES), "primary")]),
            store=store,
            # Plain http on 127.0.0.1: a Secure cookie would never come back over
            # http, so the demo turns Secure off. Production apps keep the
            # default (secure=True) and serve https.
            secure=False,
            idle_timeout=30 * 60,
        )
        self.middleware = SessionMiddleware(self._app, engine=engine)
        self._save_keys()

    @property
    def engine(self) -> SessionEngine:
        """The engine the middleware runs (its keyring is replaced on rotation)."""
        return self.middleware.engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await self.middleware(scope, receive, send)

    # -- keys ------------------------------------------------------------------

    def rotate(self) -> None:
        """Add a new primary key live; the old primary stays decrypt-only.

        The engine reads `SessionEngine.keyring` on every request, so replacing
        it switches every later request at once. Keys older than the previous
        primary are retired, as a real rotation would eventually do.
        """
        ring = self.engine.keyring
        self._serial += 1
        old = ring.primary
        self._retired += [k for k in ring.keys if k is not old]
        self.engine.keyring = Keyring(
            [
                Key(f"k{self._serial}", os.urandom(KEY_BYTES), "primary"),
                Key(old.id, _b64.decode(old.secret_b64()), "decrypt"),
            ]
        )
        self._save_keys()

    def _save_keys(self) -> None:
        if self.keys_file is None:
            return
        now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        keys = [(k, k.state) for k in self.engine.keyring.keys]
        keys += [(k, "retired") for k in self._retired]
        entries = [
            {
                "id": k.id,
                "state": state,
                "secret": k.secret_b64(),
                "created": self._created.setdefault(k.id, now),
            }
            for k, state in keys
        ]
        keyfile.write(self.keys_file, {"keys": entries})

    # -- requests --------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        session: Session = scope["session"]
        method, path = scope["method"], scope["path"]
        if method == "POST":
            body = await _read_body(receive)
            if body is None:
                await _respond(send, 413, b"Request body too large\n", "text/plain")
                return
            done = self._act(path, session, parse_qs(body.decode("utf-8", "replace")))
            if done is None:
                await _respond(send, 404, b"Not found\n", "text/plain")
                return
            await _respond(send, 303, b"", "text/plain", [(b"location", f"/?done={done}".encode())])
        elif method in ("GET", "HEAD") and path == "/":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            notice = _NOTICES.get(query.get("done", [""])[0])
            page = self._page(session, _request_cookies(scope), notice)
            await _respond(send, 200, page.encode(), "text/html; charset=utf-8")
        elif method in ("GET", "HEAD") and path == "/session.json":
            facts = self._facts(session, _request_cookies(scope))
            body = json.dumps(facts, indent=2, default=str).encode()
            await _respond(send, 200, body, "application/json")
        else:
            await _respond(send, 404, b"Not found\n", "text/plain")

    def _act(self, path: str, session: Session, form: Mapping[str, list[str]]) -> str | None:
        """Apply one form action; return its notice code, or None for an unknown path."""
        if path == "/rotate":
            self.rotate()
            return "rotate"
        action = _SESSION_ACTIONS.get(path)
        if action is None:
            return None
        notice, apply = action
        apply(session, form)
        return notice

    def _inspect(self, cookies: Mapping[str, str]) -> Inspection | str | None:
        try:
            return self.engine.inspect(cookies, fetch=False)
        except InvalidToken as exc:
            return exc.reason

    def _facts(self, session: Session, cookies: Mapping[str, str]) -> dict[str, Any]:
        found = self._inspect(cookies)
        cookie: Any = found
        if isinstance(found, Inspection):
            cookie = {
                "mode": found.mode,
                "key_id": found.key_id,
                "key_state": found.key_state,
                "chunks": found.chunks,
                "cookies": dict(found.cookie_bytes),
                "total_bytes": found.total_bytes,
                "store_key": found.store_key,
            }
        elif isinstance(found, str):
            cookie = {"rejected": found}
        ring = self.engine.keyring
        return {
            "id": session.id,
            "new": session.new,
            "data": dict(session),
            "cookie": cookie,
            "keyring": {
                "primary": ring.primary.id,
                "decrypt": [k.id for k in ring.keys if k.state == "decrypt"],
                "retired": [k.id for k in self._retired],
            },
            "budget": {
                "max_cookie_bytes": self.engine.config.max_cookie_bytes,
                "max_total_bytes": self.engine.config.max_total_bytes,
            },
        }

    # -- the page ----------------------------------------------------------------

    def _page(self, session: Session, cookies: Mapping[str, str], notice: str | None) -> str:
        found = self._inspect(cookies)
        data = dict(session)
        config = self.engine.config
        sealed = sealed_chars(META_BYTES + len(codec.encode(data)))
        mode: str
        if isinstance(found, Inspection):
            mode = found.mode
            badge = "data in the cookie" if mode == "cookie" else "data in the store"
        else:
            mode, badge = "none", "no cookie"
        parts = [
            _HEAD,
            '<header><h1>cookiesess <span class="dim">demo</span></h1>',
            f'<span id="mode" class="badge {mode}" data-mode="{mode}">{badge}</span></header>',
        ]
        if notice:
            parts.append(f'<p class="notice" role="status">{_e(notice)}</p>')
        if isinstance(found, str):
            parts.append(
                f'<p class="notice warn">Your browser sent a session cookie the server rejected '
                f"(<code>{_e(found)}</code>, e.g. signed by a key from an earlier run of the "
                "demo): you got a fresh session. Visitors never see why; the reason goes to "
                "logs and the <code>on_reject</code> hook.</p>"
            )
        parts.append('<main class="grid">')
        parts.append(self._session_card(session, data))
        parts.append(
            self._size_card(found, sealed, config.max_cookie_bytes, config.max_total_bytes)
        )
        parts.append(_ACTIONS)
        parts.append(self._key_card(found))
        parts.append(_cookies_card(cookies, config.cookie_name))
        parts.append("</main>")
        parts.append(_FOOT)
        return "".join(parts)

    @staticmethod
    def _session_card(session: Session, data: Mapping[str, Any]) -> str:
        user = data.get("user")
        who = f"<strong id='user'>{_e(user)}</strong>" if user else "<em>nobody</em>"
        rows = []
        for key, value in data.items():
            if isinstance(value, list):
                shown = "<br>".join(
                    _e(_clip(str(v), 72)) + f" <span class=dim>({len(str(v))} chars)</span>"
                    for v in value
                )
            else:
                shown = (
                    _e(_clip(str(value), 160))
                    + f" <span class=dim>({len(str(value))} chars)</span>"
                )
            rows.append(f"<tr><th>{_e(key)}</th><td>{shown}</td></tr>")
        table = (
            f"<table class='kv'>{''.join(rows)}</table>"
            if rows
            else "<p class='dim'>Empty. A new, empty session sets no cookie.</p>"
        )
        state = "new" if session.new else "loaded from the request"
        return (
            "<section class='card'><h2>Session</h2>"
            f"<p>Logged in as {who}. Session id <code id='sid' title='{_e(session.id)}'>"
            f"{_e(session.id[:12])}…</code> ({state})</p>{table}</section>"
        )

    @staticmethod
    def _size_card(found: Inspection | str | None, sealed: int, per_cookie: int, total: int) -> str:
        if isinstance(found, Inspection):
            used, chunks = found.total_bytes, found.chunks
            bars = "".join(
                f"<div class='row'><code>{_e(name)}</code>{_meter(size, per_cookie, chunk=True)}"
                f"<span>{size:,} / {per_cookie:,} B</span></div>"
                for name, size in found.cookie_bytes
            )
        else:
            used, chunks, bars = 0, 0, ""
        if isinstance(found, Inspection) and found.mode == "store":
            why = (
                f"Sealed, the data would need {sealed:,} bytes of cookie: over the "
                f"{total:,}-byte budget, so it lives in the SQLite store and the cookie holds "
                f"a sealed reference. Store key <code>{_e((found.store_key or '')[:16])}…</code> "
                "(an HMAC of the session id)."
            )
        elif chunks > 1:
            why = (
                f"The sealed session ({sealed:,} bytes) is split across {chunks} cookies; "
                "each stays under the per-cookie limit."
            )
        elif chunks:
            why = f"The sealed session ({sealed:,} bytes) fits in one cookie."
        else:
            why = "No session cookie yet."
        return (
            "<section class='card'><h2>Size against the budget</h2>"
            f"<div class='row big'><span>total</span>{_meter(used, total)}"
            f"<span id='total'>{used:,} / {total:,} B</span></div>{bars}"
            f"<div class='row'><span>sealed data</span>{_meter(sealed, total)}"
            f"<span>{sealed:,} B</span></div>"
            f"<p>Chunks: <strong id='chunks'>{chunks}</strong> of at most {MAX_CHUNKS}. "
            f"{why}</p></section>"
        )

    def _key_card(self, found: Inspection | str | None) -> str:
        ring = self.engine.keyring
        rows = [f"<li><code>{_e(k.id)}</code> {k.state}</li>" for k in ring.keys]
        rows += [f"<li><code>{_e(k.id)}</code> retired</li>" for k in self._retired[-3:]]
        if isinstance(found, Inspection):
            sealed = (
                f"This request's cookie was sealed with <code id='key-id'>{_e(found.key_id)}"
                f"</code> (<span id='key-state'>{found.key_state}</span>)."
            )
            if found.key_state != "primary":
                sealed += f" This response re-seals it under <code>{_e(ring.primary.id)}</code>."
        else:
            sealed = "No cookie to open yet."
        where = f" The key file is <code>{_e(self.keys_file)}</code>." if self.keys_file else ""
        return (
            "<section class='card'><h2>Keys</h2>"
            f"<p>{sealed}</p><ul class='keys'>{''.join(rows)}</ul>"
            "<form method='post' action='/rotate'>"
            "<button id='rotate'>Rotate the key</button></form>"
            f"<p class='dim'>Rotation adds a new primary; the old one stays decrypt-only, so "
            f"logged-in users stay logged in and are re-sealed on their next request.{where}</p>"
            "</section>"
        )


def _field(form: Mapping[str, list[str]], name: str) -> str:
    return form.get(name, [""])[0]


def _login(session: Session, form: Mapping[str, list[str]]) -> None:
    session["user"] = (_field(form, "user").strip() or "guest")[:40]
    session.regenerate()


def _add_note(session: Session, form: Mapping[str, list[str]]) -> None:
    size = {"4096": 4096}.get(_field(form, "size"), 1024)
    notes = session.setdefault("notes", [])
    head = f"note {len(notes) + 1}, {size} bytes: "
    notes.append(head + _b64.encode(os.urandom(size))[: size - len(head)])


def _remove_note(session: Session, form: Mapping[str, list[str]]) -> None:
    notes = session.get("notes") or []
    if notes:
        notes.pop()
    if not notes:
        session.pop("notes", None)


def _save_text(session: Session, form: Mapping[str, list[str]]) -> None:
    text = _field(form, "text")[:_MAX_TEXT]
    if text:
        session["text"] = text
    else:
        session.pop("text", None)


_SESSION_ACTIONS: Final[
    dict[str, tuple[str, Callable[[Session, Mapping[str, list[str]]], None]]]
] = {
    "/login": ("login", _login),
    "/note": ("note", _add_note),
    "/note/remove": ("unnote", _remove_note),
    "/notes/clear": ("clear", lambda session, form: session.pop("notes", None)),
    "/text": ("text", _save_text),
    "/regenerate": ("regenerate", lambda session, form: session.regenerate()),
    "/logout": ("logout", lambda session, form: session.destroy()),
}
"""Form actions on the session: path -> (notice code, action)."""


def _cookies_card(cookies: Mapping[str, str], name: str) -> str:
    rows = [
        f"<tr><td><code>{_e(k)}</code></td><td>{len(k) + 1 + len(v):,}</td>"
        f"<td><code class='val'>{_e(_clip(v, 48))}</code></td></tr>"
        for k, v in cookies.items()
    ]
    body = (
        "<table class='cookies'><tr><th>name</th><th>bytes</th><th>value</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else "<p class='dim'>The browser sent no cookies.</p>"
    )
    return (
        "<section class='card wide'><h2>Cookies as the browser sent them</h2>"
        f"{body}<p class='dim'>Chunks are <code>{_e(name)}</code>, <code>{_e(name)}.1</code>, "
        "…; they are HttpOnly, so page scripts cannot read them.</p></section>"
    )


def _meter(value: int, limit: int, *, chunk: bool = False) -> str:
    share = min(100, 100 * value // limit) if limit else 0
    # A full chunk is normal (chunks are filled in order); a full budget is not.
    level = "chunk" if chunk else "high" if share > 90 else "mid" if share > 66 else "low"
    return (
        f"<span class='meter' role='meter' aria-valuenow='{value}' aria-valuemax='{limit}'>"
        f"<span class='fill {level}' style='width:{share}%'></span></span>"
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _request_cookies(scope: Scope) -> dict[str, str]:
    lines = [value for name, value in scope["headers"] if name == b"cookie"]
    return parse_cookie_header(lines) if lines else {}


async def _read_body(receive: Receive) -> bytes | None:
    """Return the request body, or None past `_MAX_BODY`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", _CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run(*, host: str = "127.0.0.1", port: int = 8000, store_path: str | None = None) -> int:
    """Serve the demo with uvicorn until interrupted; return an exit code."""
    try:
        import uvicorn
    except ImportError:
        print(
            "cookiesess demo needs uvicorn: pip install 'uvicorn[standard]' "
            "(or run `make demo`, which installs it)"
        )
        return 2
    workdir = tempfile.mkdtemp(prefix="cookiesess-demo-")
    try:
        path = store_path or os.path.join(workdir, "sessions.sqlite3")
        keys_file = os.path.join(workdir, "keys.json")
        with SQLiteStore(path) as store:
            app = DemoApp(store, keys_file=keys_file)
            where = "a temporary file, removed on exit" if store_path is None else "--store"
            print(
                f"cookiesess demo on http://{host}:{port}/\n"
                f"  keys:  a dev keyring was generated for this run (it dies with the process),\n"
                f"         kept in {keys_file} so the CLI can open the demo's cookies:\n"
                f"           COOKIESESS_KEYS_FILE={keys_file} cookiesess inspect 'COOKIE HEADER'\n"
                "         In production, load keys from COOKIESESS_KEYS_FILE or COOKIESESS_KEYS\n"
                "         (create them with `cookiesess keygen` or `cookiesess keys add`).\n"
                f"  store: SQLite at {path} ({where})",
                flush=True,
            )
            # uvicorn re-raises SIGTERM after its graceful shutdown, which would
            # kill the process before the temporary directory is removed.
            previous = signal.signal(signal.SIGTERM, _exit_quietly)
            try:
                uvicorn.run(app, host=host, port=port, log_level="info")
            except KeyboardInterrupt:
                pass
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


_HEAD: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cookiesess demo</title>
<style>
:root { --ink: #1d2330; --dim: #667085; --line: #e4e7ec; --bg: #f6f7f9; --card: #fff;
  --cookie: #137a4b; --store: #4b3fc4; --warn: #b54708; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 1rem; padding: 1rem 2rem;
  background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.3rem; margin: 0; } h2 { font-size: 1rem; margin: 0 0 .6rem; }
.dim { color: var(--dim); font-weight: normal; }
.badge { padding: .15rem .7rem; border-radius: 999px; font-size: .85rem; font-weight: 600;
  color: #fff; background: var(--dim); }
.badge.cookie { background: var(--cookie); } .badge.store { background: var(--store); }
.notice { margin: 1rem 2rem 0; padding: .6rem 1rem; border-radius: 8px;
  background: #ecfdf3; border: 1px solid #abefc6; }
.notice.warn { background: #fffaeb; border-color: #fedf89; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr));
  gap: 1rem; padding: 1rem 2rem 2rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 1rem 1.2rem; overflow-wrap: anywhere; }
.wide { grid-column: 1 / -1; }
code { font: .85em ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem;
  border-top: 1px solid var(--line); }
.kv th { width: 6rem; }
.row { display: grid; grid-template-columns: 5.5rem 1fr 9rem; align-items: center;
  gap: .6rem; margin: .3rem 0; } .row.big { font-weight: 600; }
.meter { display: block; height: .7rem; background: #eef0f3; border-radius: 999px;
  overflow: hidden; } .row.big .meter { height: 1rem; }
.fill { display: block; height: 100%; } .fill.low { background: var(--cookie); }
.fill.mid { background: #d29b09; } .fill.high { background: var(--warn); }
.fill.chunk { background: #5b8def; }
.actions form { display: inline-block; margin: 0 .3rem .5rem 0; }
.actions form.block { display: block; margin-right: 0; }
.actions .line { display: flex; gap: .4rem; margin-bottom: .6rem; }
.actions .line input, .actions textarea { flex: 1; }
input, textarea { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line);
  border-radius: 6px; }
textarea { width: 100%; min-height: 3.2rem; }
button { font: inherit; padding: .35rem .8rem; border-radius: 6px; cursor: pointer;
  border: 1px solid #c8ccd4; background: #fff; }
button:hover { background: #f2f4f7; } button.danger { color: var(--warn); }
.keys { margin: 0 0 .6rem; padding-left: 1.2rem; }
footer { padding: 0 2rem 2rem; color: var(--dim); font-size: .85rem; }
</style></head><body>
"""

_ACTIONS: Final = """<section class="card actions"><h2>Actions</h2>
<form class="line" method="post" action="/login">
<input name="user" placeholder="user name" maxlength="40" aria-label="user name">
<button id="login">Log in</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="1024">
<button id="add-1k">+1 KB note</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="4096">
<button id="add-4k">+4 KB note</button></form>
<form method="post" action="/note/remove"><button id="remove">&minus; last note</button></form>
<form method="post" action="/notes/clear"><button id="clear">Clear notes</button></form>
<form class="block" method="post" action="/text"><textarea name="text" id="text"
placeholder="Any text to keep in the session (empty removes it)" aria-label="text"></textarea>
<button id="save-text">Save text</button></form>
<form method="post" action="/regenerate"><button id="regenerate">Regenerate id</button></form>
<form method="post" action="/logout"><button id="logout" class="danger">Log out</button></form>
</section>"""

_FOOT: Final = """<footer>The data is CBOR, sealed with XAES-256-GCM under the primary key,
split into chunks under the per-cookie limit, and moved to the SQLite store past the budget.
Every button posts a form and redirects, so the figures above are those of the cookies your
browser holds now. <a href="/session.json">/session.json</a> has the same facts.</footer>
</body></html>
"""
