"""A measured proposal for `cookiesess.asgi`: the same behaviour, a leaner hot path.

Not part of the library: `run.py --proposals` adds it as the stack
``cookiesess ASGI (proposal)`` so the gain can be read off the same run. It
subclasses the real middleware and only replaces ``_http``:

1. Without a store or denylist nothing can await, so the engine is called
   synchronously (`load`/`commit`): no coroutine and no driver per request.
2. Session headers are appended in place of rebuilding the header list
   (every pair re-made with ``bytes()``) when the response has no ``Vary``
   or ``Cache-Control`` to merge with; otherwise the original merge runs.
3. The lazy mapping's loader is one closure, not a lambda inside a lambda.

Everything else (503 on a store failure, lazy semantics, ``secure="auto"``,
Vary/Cache-Control rules) is the original code path.
"""

from __future__ import annotations

from typing import Any

from cookiesess.asgi import SessionMiddleware, _session_headers, _unavailable, logger
from cookiesess.cookies import parse_cookie_header
from cookiesess.exceptions import StoreError
from cookiesess.session import LazySession


def _add_session_headers(
    headers: Any, set_cookies: list[str], *, vary: bool
) -> list[tuple[bytes, bytes]]:
    out = list(headers)
    for key, _ in out:
        low = key.lower()
        if (vary and low == b"vary") or (set_cookies and low == b"cache-control"):
            return _session_headers(headers, set_cookies, vary=vary)  # merge: the slow path
    if vary:
        out.append((b"vary", b"Cookie"))
    if set_cookies:
        out.append((b"cache-control", b"private"))
        out.extend((b"set-cookie", line.encode("latin-1")) for line in set_cookies)
    return out


class LeanSessionMiddleware(SessionMiddleware):
    """`cookiesess.asgi.SessionMiddleware` with the proposed hot path."""

    def __init__(self, app: Any, keyring: Any = None, **options: Any) -> None:
        super().__init__(app, keyring, **options)
        config = self.engine.config
        self._sync = config.store is None and config.denylist is None

    async def _http(self, scope: Any, receive: Any, send: Any) -> None:
        engine = self.engine
        lines: list[bytes] = []
        forwarded: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                lines.append(value)
            elif name == b"x-forwarded-proto" and forwarded is None:
                forwarded = value
        cookies = parse_cookie_header(lines) if lines else {}
        sync = self._sync
        session: Any
        if self._lazy and not engine.needs_store(cookies):
            load = engine.load

            def loader() -> Any:
                return load(cookies)

            session = LazySession(loader)
        else:
            try:
                loaded = engine.load(cookies) if sync else await engine.aload(cookies)
            except StoreError:
                logger.exception("cookiesess: session store failed while loading")
                await _unavailable(send)
                return
            session = LazySession(lambda: loaded) if self._lazy else loaded
        failed = False

        async def send_with_session(message: Any) -> None:
            nonlocal failed
            if failed:
                return
            if message["type"] == "http.response.start":
                if type(session) is LazySession:
                    if session.loaded is None:
                        await send(message)
                        return
                    accessed = True
                else:
                    accessed = session.accessed
                secure = self._secure(scope, forwarded) if self._auto else None
                try:
                    if sync:
                        set_cookies = engine.commit(session, cookies, secure=secure)
                    else:
                        set_cookies = await engine.acommit(session, cookies, secure=secure)
                except StoreError:
                    logger.exception("cookiesess: session store failed while saving")
                    failed = True
                    await _unavailable(send)
                    return
                if set_cookies or accessed:
                    message = {
                        **message,
                        "headers": _add_session_headers(
                            message.get("headers", ()), set_cookies, vary=accessed
                        ),
                    }
            await send(message)

        await self.app({**scope, "session": session}, receive, send_with_session)
