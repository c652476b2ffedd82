"""Strict CBOR for session data: encode what can be read back, decode nothing else.

Decoding relies on cbor2's own limits (depth, no indefinite lengths, no duplicate
keys, str/bytes keys, an allow-list of tags) and adds only the checks cbor2
cannot make: no trailing bytes, a map at the top, and, inside the hooks of the
allowed tags, the encoder's bounds on bignums, Decimals, datetimes and set
members. What has no hook (bytes map keys, undefined, simple values) is found by
one C-level pass per nesting level (`_writable`), not a per-item Python walk.
The result: whatever decodes, `encode` writes back.

Encoding walks the values it has not seen decoded before cbor2 sees them: cbor2
6.x's encoder crashes the process on deep nesting instead of raising, and would
happily write types the decoder refuses. This module does no I/O.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import gc
import io
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final

import cbor2

from .exceptions import CodecError, InvalidToken

__all__ = ["MAX_DEPTH", "MAX_INT_BITS", "decode", "decoded_copy", "encode"]

MAX_DEPTH: Final = 16
"""Deepest nesting of any item (containers and tags both count), as cbor2 counts it."""
MAX_INT_BITS: Final = 1024
MAX_DECIMAL_EXPONENT: Final = 1000
MAX_DECIMAL_DIGITS: Final = 300

_MINUTE: Final = _dt.timedelta(minutes=1)
# Set members: the hashable scalars (tuples and frozensets read back unhashable).
_SET_MEMBERS: Final = frozenset(
    {type(None), bool, int, float, str, bytes, _dt.datetime, _dt.date, uuid.UUID, decimal.Decimal}
)

# Tags we write, and so the only ones we read: 0 datetime (RFC 3339 text),
# 2/3 bignums, 4 Decimal, 37 UUID, 258 set, 1004 date (RFC 8943 text).
_ALLOWED_TAGS: Final = frozenset({0, 2, 3, 4, 37, 258, 1004})
# Every tag cbor2 6.x decodes by itself must be refused explicitly: its
# `tag_hook` only sees tags without a built-in decoder.
_BUILTIN_TAGS: Final = (
    1, 5, 21, 22, 23, 24, 25, 28, 29, 30, 32, 33, 34, 35, 36, 52, 54, 100, 256,
    260, 261, 263, 266, 270, 1040, 43000, 55799,
)  # fmt: skip


class _Refused(Exception):
    pass


def _refuse(*_: object) -> Any:
    raise _Refused


def _bignum(value: object, _immutable: bool) -> int:
    # SECURITY: a 4 KB bignum is a 32 768-bit int whose str() raises; cap it.
    if type(value) is not bytes or len(value) > MAX_INT_BITS // 8:
        raise _Refused
    return int.from_bytes(value, "big")


def _negbignum(value: object, immutable: bool) -> int:
    number = -1 - _bignum(value, immutable)
    if number.bit_length() > MAX_INT_BITS:  # -2**1024 fits the bytes, not the bound
        raise _Refused
    return number


def _decimal(value: object, _immutable: bool) -> decimal.Decimal:
    # SECURITY: Decimal('1E+1000000') decodes instantly but int() of it burns
    # CPU for seconds; bound the exponent and the digits as the encoder does.
    if type(value) is not list or len(value) != 2:
        raise _Refused
    exp, mant = value
    if type(exp) is not int or type(mant) is not int or abs(exp) > MAX_DECIMAL_EXPONENT:
        raise _Refused
    digits = str(abs(mant))  # at most 1024 bits (the bignum hook): cheap
    if len(digits) > MAX_DECIMAL_DIGITS:
        raise _Refused
    return decimal.Decimal((int(mant < 0), tuple(map(int, digits)), exp))


def _datetime(value: object, _immutable: bool) -> _dt.datetime:
    if type(value) is not str:
        raise _Refused
    parsed = _dt.datetime.fromisoformat(value)
    offset = parsed.utcoffset()
    # Aware, whole-minute offsets only: what the encoder accepts.
    if offset is None or offset % _MINUTE:
        raise _Refused
    return parsed


def _date(value: object, _immutable: bool) -> _dt.date:
    if type(value) is not str:
        raise _Refused
    return _dt.date.fromisoformat(value)


def _uuid(value: object, _immutable: bool) -> uuid.UUID:
    if type(value) is not bytes or len(value) != 16:
        raise _Refused
    return uuid.UUID(bytes=value)


def _set(value: object, _immutable: bool) -> set[Any]:
    # Members were decoded (and bounded) by now; an unhashable one raises here.
    if type(value) is not list:
        raise _Refused
    members = set(value)
    if len(members) != len(value) or not _SET_MEMBERS.issuperset(map(type, members)):
        raise _Refused  # a duplicate, or a member encode refuses (undefined, ...)
    return members


_SEMANTIC: Final[dict[int, Any]] = {
    **dict.fromkeys(_BUILTIN_TAGS, _refuse),
    0: _datetime,
    2: _bignum,
    3: _negbignum,
    4: _decimal,
    37: _uuid,
    258: _set,
    1004: _date,
}
_DECODER_OPTIONS: Final[dict[str, Any]] = {
    "max_depth": MAX_DEPTH,
    "allow_indefinite": False,
    "allow_duplicate_keys": False,
    "strict_hashable_types": True,
    "semantic_decoders": _SEMANTIC,
    "tag_hook": _refuse,
}

# What cbor2 decodes without a hook but `encode` refuses.
_NOT_WRITTEN: Final = frozenset({type(cbor2.undefined), cbor2.CBORSimpleValue})
_CONTAINERS: Final = frozenset({dict, list, set})
_HAVE_GC: Final = 1 << 14  # Py_TPFLAGS_HAVE_GC
# Decoded leaves `gc.get_referents` skips (no GC support; a UUID, say, would
# yield its class), less bytes, which may be a map key.
_LEAVES: Final = frozenset(
    t
    for t in (str, int, float, bool, type(None), _dt.datetime, _dt.date, decimal.Decimal)
    if not t.__flags__ & _HAVE_GC
)
_TRAVERSABLE: Final = _LEAVES | _CONTAINERS | {bytes}
# CPython's dicts report their keys as referents only when some key is not a
# str; other interpreters may report none. Then keys are always checked.
_KEYS_REPORTED: Final = b"" in gc.get_referents({b"": None})
_referents: Final = gc.get_referents


def _writable(data: dict[str, Any]) -> bool:
    """Return whether decoded data holds nothing `encode` would refuse.

    cbor2 has no hook for undefined, simple values or bytes map keys, so look
    for them level by level: `gc.get_referents` lists the items of every
    container of one level in a single C call (a map's values, and its keys
    when one is not a str), and the check is a set of their types: at most
    `MAX_DEPTH` rounds, with Python code per item only in the rare levels
    holding bytes (are they keys?) or UUIDs (not traversed). The call raises
    the audit event ``gc.get_referents`` with those containers.
    """
    level: list[Any] = [data]
    while True:
        items = _referents(*level)
        types = set(map(type, items))
        if types <= _LEAVES and _KEYS_REPORTED:
            return True
        if not _NOT_WRITTEN.isdisjoint(types):
            return False
        if (bytes in types or not _KEYS_REPORTED) and not _str_keys(level):
            return False
        if _CONTAINERS.isdisjoint(types):
            return True
        if types <= _TRAVERSABLE:
            level = items
        else:
            level = [item for item in items if type(item) in _CONTAINERS]


def _str_keys(containers: list[Any]) -> bool:
    return all(type(k) is str for c in containers if type(c) is dict for k in c)


class _Decoders(threading.local):
    """One strict decoder per thread, re-pointed at each message.

    Building a `CBORDecoder` with its options costs about as much as decoding
    a small session. Reuse is safe here because every tag that keeps state
    across items (shared and string references) is refused, a decoder is never
    entered twice at once (decoding never awaits or calls back into it), and a
    decoder that raised is dropped.
    """

    decoder: cbor2.CBORDecoder | None = None


_decoders: Final = _Decoders()

# Hashes of data `_writable` has passed, or `encode` wrote with every value
# checked. A browser sends the same cookie until the session changes, so most
# requests skip the walk (the hooks and cbor2's limits still run on every
# decode). Only authenticated data reaches `decode`; a hash collision would at
# worst skip that walk for one payload. Bounded: cleared when full.
_WRITABLE_SEEN: Final[set[int]] = set()
_WRITABLE_SEEN_MAX: Final = 16384


def _passed(data: bytes) -> None:
    """Record that `data` holds only what `encode` writes."""
    if len(_WRITABLE_SEEN) >= _WRITABLE_SEEN_MAX:
        _WRITABLE_SEEN.clear()
    _WRITABLE_SEEN.add(hash(data))


def decode(data: bytes) -> dict[str, Any]:
    """Decode the CBOR encoding of a session's data.

    Raises:
        InvalidToken: (reason ``malformed``) for anything but exactly one map
            within the limits, with nothing after it, holding only values
            `encode` would write.
    """
    fp = io.BytesIO(data)
    decoder = _decoders.decoder
    try:
        if decoder is None:
            decoder = _decoders.decoder = cbor2.CBORDecoder(fp, **_DECODER_OPTIONS)
        else:
            decoder.fp = fp
        value = decoder.decode()
    except Exception:  # cbor2 wraps hook errors; all mean "malformed"
        _decoders.decoder = None
        raise InvalidToken("malformed") from None
    if fp.tell() != len(data) or type(value) is not dict:
        raise InvalidToken("malformed")
    if hash(data) not in _WRITABLE_SEEN:
        if not _writable(value):
            raise InvalidToken("malformed")
        _passed(data)
    return value


def _encode_sorted_set(encoder: cbor2.CBOREncoder, value: set[Any] | frozenset[Any]) -> None:
    # A set iterates in hash order, which differs between processes
    # (PYTHONHASHSEED): sorted by their encodings, its members encode to the
    # same bytes in every worker, so an unchanged session is never re-sent.
    encoder.encode(cbor2.CBORTag(258, sorted(value, key=cbor2.dumps)))


_SET_TAG: Final = b"\xd9\x01\x02"
"""Tag 258 (a set) as the encoder writes it."""
# Passing encoders= doubles cbor2's cost, so only data holding a set pays it.
_SORTED_SETS: Final[dict[type, Callable[[cbor2.CBOREncoder, Any], None]]] = {
    set: _encode_sorted_set,
    frozenset: _encode_sorted_set,
}


def encode(data: dict[str, Any], *, check: Iterable[str] | None = None) -> bytes:
    """Encode a session's data, refusing anything `decode` would not read back.

    Args:
        data: the session's data, a dict with str keys.
        check: the keys whose values must be checked; None checks them all.
            Values that came out of `decode` and were never handed to user
            code need no check.

    Raises:
        CodecError: naming the path of the first unsupported value.
    """
    # Plain dict access: a Session's tracking overrides must not see the encoder.
    get = dict.get
    missing = _MISSING
    for key in dict.keys(data) if check is None else check:
        if type(key) is not str:
            raise CodecError(f"session keys must be str, not {type(key).__name__}", path=repr(key))
        value = get(data, key, missing)
        if value is not missing:
            try:
                _check(value, 1)
            except _PathError as exc:
                raise CodecError(exc.message, path=_printable(key + exc.path)) from None
    try:
        encoded = cbor2.dumps(data)
        if _SET_TAG in encoded:  # rare; a false match only costs the second encoding
            encoded = cbor2.dumps(data, encoders=_SORTED_SETS)
    except UnicodeEncodeError:
        # Rare enough to look for only now: no per-string cost on every commit.
        path = _lone_surrogate(data) or ""
        raise CodecError("str with a lone surrogate (not UTF-8)", path=path) from None
    except Exception as exc:  # pragma: no cover - _check admits only encodable values
        raise CodecError(f"cannot encode session data: {exc}") from None
    if check is None:
        # Every value passed the checks the walk in `decode` repeats. (A value left
        # unchecked may have been put in around the mapping API: decode walks it.)
        _passed(encoded)
    return encoded


def decoded_copy(data: dict[str, Any]) -> dict[str, Any] | None:
    """Return a copy of `data` as ``decode(encode(data))`` would read it, if a shallow copy is.

    That is when every value is of a type `decode` reads back as it was (str,
    bytes, int, float, bool, None); otherwise None. `data` must be what
    `encode` just accepted, unchanged since.
    """
    copy = {}
    for key, value in dict.items(data):  # dict's own: a Session's would count a read
        if type(value) not in _AS_DECODED:
            return None
        copy[key] = value
    return copy


_AS_DECODED: Final = frozenset({type(None), bool, int, float, str, bytes})
_MISSING: Final = object()


class _PathError(Exception):
    """A value that cannot be encoded, with its path built while unwinding."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path = ""

    def prepend(self, segment: str) -> _PathError:
        self.path = segment + self.path
        return self


def _too_deep() -> _PathError:
    return _PathError(f"nested deeper than {MAX_DEPTH} levels")


_SCALARS: Final = frozenset({str, bytes, float, bool, type(None)})
# CBOR's native integers; beyond them cbor2 writes a bignum (a tag and bytes).
_NATIVE_MIN: Final = -(2**64)
_NATIVE_END: Final = 2**64
# Extra levels cbor2 counts below a tagged value: the tag, then its content.
_TAGGED_DEPTH: Final = {
    _dt.datetime: 1,
    _dt.date: 1,
    uuid.UUID: 1,
    decimal.Decimal: 2,
}


def _check(value: object, depth: int) -> None:
    """Check one value at `depth` (the number of items enclosing it)."""
    cls = type(value)
    if cls in _SCALARS:
        return
    if cls is int:
        if value.bit_length() > 64:  # type: ignore[attr-defined]
            _check_bigint(value, depth)  # type: ignore[arg-type]
    elif cls is dict:
        _check_dict(value, depth)  # type: ignore[arg-type]
    elif cls is list or cls is tuple:
        _check_list(value, depth)  # type: ignore[arg-type]
    elif cls is set or cls is frozenset:
        _check_set(value, depth)  # type: ignore[arg-type]
    else:
        _check_tagged(value, cls, depth)


def _check_dict(value: dict[Any, Any], depth: int) -> None:
    if depth >= MAX_DEPTH and value:
        raise _too_deep()
    scalars = _SCALARS
    for k, v in value.items():
        if type(k) is not str:
            raise _PathError(f"dict keys must be str, not {type(k).__name__}")
        cls = type(v)
        if cls in scalars or (cls is int and _NATIVE_MIN <= v < _NATIVE_END):
            continue  # most items: no call
        try:
            _check(v, depth + 1)
        except _PathError as exc:
            raise exc.prepend(f".{k}") from None


def _check_list(value: list[Any] | tuple[Any, ...], depth: int) -> None:
    if depth >= MAX_DEPTH and value:
        raise _too_deep()
    scalars = _SCALARS
    for i, v in enumerate(value):
        cls = type(v)
        if cls in scalars or (cls is int and _NATIVE_MIN <= v < _NATIVE_END):
            continue  # most items: no call
        try:
            _check(v, depth + 1)
        except _PathError as exc:
            raise exc.prepend(f"[{i}]") from None


def _check_set(value: set[Any] | frozenset[Any], depth: int) -> None:
    # Tag 258, then an array (counted by cbor2 even when empty), then members.
    if depth + (2 if value else 1) > MAX_DEPTH:
        raise _too_deep()
    for member in value:
        cls = type(member)
        if cls not in _SET_MEMBERS:
            raise _PathError(
                "set items must be None, bool, int, float, str, bytes, datetime, date, "
                f"UUID or Decimal, not {cls.__module__}.{cls.__qualname__}"
            )
        _check(member, depth + 2)  # the set's path names it: members have no index


def _check_bigint(value: int, depth: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise _PathError(f"int larger than {MAX_INT_BITS} bits")
    # Outside CBOR's 64-bit range cbor2 writes a bignum: a tag, then its
    # bytes one level deeper.
    if depth >= MAX_DEPTH and not _is_native_int(value):
        raise _too_deep()


def _check_tagged(value: object, cls: type, depth: int) -> None:
    extra = _TAGGED_DEPTH.get(cls)
    if extra is None:
        raise _PathError(f"unsupported type {cls.__module__}.{cls.__qualname__}")
    if depth + extra > MAX_DEPTH:
        raise _too_deep()
    if cls is _dt.datetime:
        offset = value.utcoffset()  # type: ignore[attr-defined]
        if offset is None:
            raise _PathError("naive datetime; attach a timezone (e.g. datetime.UTC)")
        if offset % _MINUTE:
            # RFC 3339 offsets are whole minutes; cbor2 would write a string
            # its own decoder refuses. Convert to UTC first.
            raise _PathError("timezone offset is not whole minutes; use datetime.UTC")
    elif cls is decimal.Decimal:
        _check_decimal(value, depth)  # type: ignore[arg-type]


def _check_decimal(value: decimal.Decimal, depth: int) -> None:
    if not value.is_finite():
        raise _PathError("Decimal must be finite")
    sign, digits, exponent = value.as_tuple()
    if abs(exponent) > MAX_DECIMAL_EXPONENT:  # type: ignore[arg-type]
        raise _PathError(f"Decimal exponent beyond ±{MAX_DECIMAL_EXPONENT}")
    if len(digits) > MAX_DECIMAL_DIGITS:
        raise _PathError(f"Decimal with more than {MAX_DECIMAL_DIGITS} digits")
    # A mantissa beyond 64 bits is a bignum: one more level below the tag.
    mantissa = int("".join(map(str, digits)))
    if depth + 3 > MAX_DEPTH and not _is_native_int(-mantissa if sign else mantissa):
        raise _too_deep()


def _is_native_int(value: int) -> bool:
    """Return whether CBOR encodes `value` as a plain integer (no bignum tag)."""
    return _NATIVE_MIN <= value < _NATIVE_END


def _lone_surrogate(data: dict[str, Any]) -> str | None:
    """Return the path of the first str (or key) that UTF-8 cannot encode."""
    for key, value in data.items():
        if not _is_utf8(key):
            return _printable(key)
        found = _surrogate_below(value)
        if found is not None:
            return _printable(key + found)
    return None


def _surrogate_below(value: object) -> str | None:
    # Only on the error path, over values already within the depth limit.
    cls = type(value)
    if cls is str:
        return None if _is_utf8(value) else ""  # type: ignore[arg-type]
    if cls is dict:
        for k, v in value.items():  # type: ignore[attr-defined]
            found = "" if not _is_utf8(k) else _surrogate_below(v)
            if found is not None:
                return f".{k}{found}"
    elif cls is list or cls is tuple:
        for i, v in enumerate(value):  # type: ignore[arg-type]
            found = _surrogate_below(v)
            if found is not None:
                return f"[{i}]{found}"
    elif cls is set or cls is frozenset:
        members: Iterable[object] = value  # type: ignore[assignment]
        return None if all(_is_utf8(m) for m in members if type(m) is str) else ""
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(path: str) -> str:
    """Escape lone surrogates in a path, so the error message can be logged."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")
