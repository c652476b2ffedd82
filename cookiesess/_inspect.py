"""Inspection: what a request's session cookies hold, for the CLI and the demo."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._opening import Opened
    from .config import SessionConfig

__all__ = ["Inspection", "inspection"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Inspection:
    """What `SessionEngine.inspect` finds in a request's session cookies (for debugging)."""

    cookie_name: str
    mode: Literal["cookie", "store"]
    """Where the data lives: sealed in the cookie, or in the store behind a reference."""
    key_id: str
    key_state: str
    """The opening key's state; ``decrypt`` means the next write re-seals under the primary."""
    chunks: int
    cookie_bytes: tuple[tuple[str, int], ...]
    """``(name, len(name=value))`` for each chunk, as the browser sends it."""
    total_bytes: int
    """The chunks together in the Cookie header, separators included."""
    max_cookie_bytes: int
    max_total_bytes: int
    stale_chunks: tuple[str, ...]
    """Chunk cookies past the count the header records (ignored; the next write expires them)."""
    issued: int
    deadline: int | None
    """Absolute deadline (Unix seconds), or None without an absolute timeout."""
    last_activity: int
    idle_deadline: int | None
    generation: int
    session_id: str
    store_key: str | None
    """The store key of a reference (an HMAC of the session id), else None."""
    data: dict[str, Any] | None
    """The user data; None for a reference whose record was not fetched."""


def inspection(
    opened: Opened,
    cookies: Mapping[str, str],
    config: SessionConfig,
    names: Sequence[str],
    deadline: int,
) -> Inspection:
    """Describe an opened (and admitted) session cookie.

    `names` are the chunk names; `deadline` the one in force (0: none).
    """
    state = opened.session._state
    chunks = opened.header.chunks
    sizes = tuple((name, len(name) + 1 + len(cookies[name])) for name in names[:chunks])
    idle = config.idle_timeout
    return Inspection(
        cookie_name=names[0],
        mode="store" if opened.store_key is not None else "cookie",
        key_id=opened.key.id,
        key_state=opened.key.state,
        chunks=chunks,
        cookie_bytes=sizes,
        total_bytes=sum(size for _, size in sizes) + 2 * (len(sizes) - 1),
        max_cookie_bytes=config.max_cookie_bytes,
        max_total_bytes=config.max_total_bytes,
        stale_chunks=tuple(n for n in names[chunks:] if n in cookies),
        issued=state.issued,
        deadline=deadline or None,
        last_activity=state.last,
        idle_deadline=None if idle is None else state.last + idle,
        generation=state.generation,
        session_id=opened.session.id,
        store_key=opened.store_key,
        data=dict(dict.items(opened.session)) if opened.has_data else None,
    )
