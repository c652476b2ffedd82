"""The Session object: a real dict that knows when it changed."""

from __future__ import annotations

import json

import pytest

from cookiesess import Session, codec
from cookiesess.session import LazySession, SessionState, WebSocketSession


def loaded(data: dict[str, object]) -> Session:
    encoded = codec.encode(data)
    return Session._loaded(codec.decode(encoded), encoded, SessionState(b"\x01" * 32))


def test_is_a_json_serialisable_dict() -> None:
    """isinstance(session, dict) and json.dumps work like Flask's and Starlette's sessions."""
    session = loaded({"a": [1, 2], "b": "x"})
    assert isinstance(session, dict)
    assert json.loads(json.dumps(session)) == {"a": [1, 2], "b": "x"}


def test_untouched_and_read_only_are_not_modified() -> None:
    """Reading scalars never marks the session modified, and nothing is re-encoded."""
    session = loaded({"n": 1, "s": "x"})
    assert session["n"] == 1
    assert session.get("s") == "x"
    assert "n" in session
    assert not session.modified
    assert session._encoded is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s["cart"].append(4),
        lambda s: s.get("prefs").update(theme="dark"),
        lambda s: s.setdefault("new", 1),
        lambda s: s.update(n=2),
        lambda s: s.pop("n"),
        lambda s: s.popitem(),
        lambda s: s.clear(),
        lambda s: s.__ior__({"z": 1}),
        lambda s: next(iter(s.values())).append(9),
        lambda s: next(iter(s.items()))[1].append(9),
        lambda s: s.copy()["cart"].append(9),
        lambda s: s.__delitem__("n"),
    ],
    ids=[
        "nested-append",
        "get-then-update",
        "setdefault",
        "update",
        "pop",
        "popitem",
        "clear",
        "ior",
        "values",
        "items",
        "copy-shares",
        "delitem",
    ],
)
def test_every_mutation_path_counts(mutate: object) -> None:
    """In-place nested changes and every dict method are detected from the encoding."""
    session = loaded({"cart": [1, 2, 3], "prefs": {}, "n": 1})
    mutate(session)  # type: ignore[operator]
    assert session.modified


def test_setting_the_same_value_is_not_a_change() -> None:
    """Writing back an equal value leaves the session unmodified."""
    session = loaded({"n": 1, "cart": [1]})
    session["n"] = 1
    session["cart"] = [1]
    assert not session.modified


def test_new_session_modified_only_with_data() -> None:
    """A new empty session is not modified; one with data is."""
    session = Session()
    assert session.new
    assert not session.modified
    session["a"] = 1
    assert session.modified


def test_accessed_tracks_reads_and_writes() -> None:
    """accessed becomes true on any read or write through the mapping API."""
    session = loaded({"a": 1})
    assert not session.accessed
    len(session)
    assert session.accessed


def test_regenerate_and_destroy_change_the_id() -> None:
    """regenerate keeps the data under a new id; destroy empties it under a new id."""
    session = loaded({"a": 1})
    first = session.id
    session.regenerate()
    assert session.id != first
    assert dict(session) == {"a": 1}
    second = session.id
    session.destroy()
    assert session.id != second
    assert dict(session) == {}


def test_reload_discards_changes() -> None:
    """reload returns to the state as loaded."""
    session = loaded({"cart": [1]})
    session["cart"].append(2)
    session["x"] = 1
    session.reload()
    assert dict(session) == {"cart": [1]}
    assert not session.modified


def test_not_picklable() -> None:
    """Pickling a session is refused with a hint (copy the data instead)."""
    import pickle

    with pytest.raises(TypeError, match="dict"):
        pickle.dumps(Session())


def test_lazy_session_is_not_a_dict() -> None:
    """The lazy mapping opens on first access and json.dumps refuses it instead of writing {}."""
    calls = []

    def loader() -> Session:
        calls.append(1)
        return loaded({"a": 1})

    lazy = LazySession(loader)
    assert lazy.loaded is None
    with pytest.raises(TypeError):
        json.dumps(lazy)
    assert calls == []
    assert lazy["a"] == 1
    assert calls == [1]
    assert json.dumps(dict(lazy)) == '{"a": 1}'
    lazy["b"] = 2
    assert lazy.loaded is not None
    assert lazy.loaded.modified
    assert lazy.id == lazy.loaded.id


def test_websocket_session_is_read_only() -> None:
    """Writes to the WebSocket view raise a clear TypeError."""
    view = WebSocketSession({"a": 1}, "id")
    assert view["a"] == 1
    with pytest.raises(TypeError, match="read-only"):
        view["a"] = 2  # type: ignore[index]


def test_checking_modified_is_not_an_access() -> None:
    """Reading .modified (as middlewares do) does not mark the session accessed."""
    session = Session()
    assert not session.modified
    assert not session.accessed
    session.destroy()
    assert session.accessed


def test_lazy_session_forwards_attributes() -> None:
    """Lifecycle attributes set on the lazy mapping reach the real session."""
    lazy = LazySession(lambda: loaded({"a": 1}))
    lazy.max_age = 60
    lazy.generation = 2
    lazy.mark_accessed()
    assert lazy.loaded is not None
    assert lazy.loaded.max_age == 60
    assert lazy.generation == 2
    assert lazy.loaded.accessed
    lazy.regenerate()
    assert lazy.loaded._state.forced


def test_encoding_is_not_an_access() -> None:
    """Committing a forced, never-read session does not count as reading it (no Vary)."""
    session = Session({"a": [1]})
    session._encode()
    assert not session.accessed
