"""Strict CBOR for session data: encode what can be read back, decode nothing else.

Decoding relies on cbor2's own limits (depth, no indefinite lengths, no duplicate
keys, str/bytes keys, an allow-list of tags) and adds only checks cbor2 cannot
make: no trailing bytes, a map at the top, bounded bignums and Decimals. There is
no per-item Python walk on the read path.

Encoding walks the values it has not seen decoded before cbor2 sees them: cbor2
6.x's encoder crashes the process on deep nesting instead of raising, and would
happily write types the decoder refuses. This module does no I/O.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import io
import threading
import uuid
from collections.abc import Iterable
from typing import Any, Final

import cbor2

from .exceptions import CodecError, InvalidToken

__all__ = ["MAX_DEPTH", "MAX_INT_BITS", "decode", "encode"]

MAX_DEPTH: Final = 16
"""Deepest nesting of any item (containers and tags both count), as cbor2 counts it."""
MAX_INT_BITS: Final = 1024
MAX_DECIMAL_EXPONENT: Final = 1000

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
    return -1 - _bignum(value, immutable)


def _decimal(value: object, _immutable: bool) -> decimal.Decimal:
    # SECURITY: Decimal('1E+1000000') decodes instantly but int() of it burns
    # CPU for seconds; bound the exponent and mantissa.
    if type(value) is not list or len(value) != 2:
        raise _Refused
    exp, mant = value
    if type(exp) is not int or type(mant) is not int:
        raise _Refused
    if abs(exp) > MAX_DECIMAL_EXPONENT or mant.bit_length() > MAX_INT_BITS:
        raise _Refused
    sign = 1 if mant < 0 else 0
    digits = tuple(int(c) for c in str(abs(mant)))
    return decimal.Decimal((sign, digits, exp))


_SEMANTIC: Final[dict[int, Any]] = {
    **dict.fromkeys(_BUILTIN_TAGS, _refuse),
    2: _bignum,
    3: _negbignum,
    4: _decimal,
}
_DECODER_OPTIONS: Final[dict[str, Any]] = {
    "max_depth": MAX_DEPTH,
    "allow_indefinite": False,
    "allow_duplicate_keys": False,
    "strict_hashable_types": True,
    "semantic_decoders": _SEMANTIC,
    "tag_hook": _refuse,
}


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


def decode(data: bytes) -> dict[str, Any]:
    """Decode the CBOR encoding of a session's data.

    Raises:
        InvalidToken: (reason ``malformed``) for anything but exactly one map
            within the limits, with nothing after it.
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
    return value


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
                raise CodecError(exc.message, path=key + exc.path) from None
    try:
        return cbor2.dumps(data)
    except Exception as exc:  # pragma: no cover - _check admits only encodable values
        raise CodecError(f"cannot encode session data: {exc}") from None


_MISSING: Final = object()


class _PathError(Exception):
    """A value that cannot be encoded, with its path built while unwinding."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path = ""

    def prepend(self, segment: str) -> _PathError:
        self.path = segment + self.path
        return self


_SCALARS: Final = frozenset({str, bytes, float, bool, type(None)})
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
        if value.bit_length() > MAX_INT_BITS:  # type: ignore[attr-defined]
            raise _PathError(f"int larger than {MAX_INT_BITS} bits")
        # Outside CBOR's 64-bit range cbor2 writes a bignum: a tag, then its
        # bytes one level deeper.
        if depth >= MAX_DEPTH and not _is_native_int(value):  # type: ignore[arg-type]
            raise _PathError(f"nested deeper than {MAX_DEPTH} levels")
        return
    if cls is dict or cls is list or cls is tuple:
        if depth >= MAX_DEPTH and value:
            raise _PathError(f"nested deeper than {MAX_DEPTH} levels")
        if cls is dict:
            for k, v in value.items():  # type: ignore[attr-defined]
                if type(k) is not str:
                    raise _PathError(f"dict keys must be str, not {type(k).__name__}")
                try:
                    _check(v, depth + 1)
                except _PathError as exc:
                    raise exc.prepend(f".{k}") from None
        else:
            for i, v in enumerate(value):  # type: ignore[arg-type]
                try:
                    _check(v, depth + 1)
                except _PathError as exc:
                    raise exc.prepend(f"[{i}]") from None
        return
    if cls is set or cls is frozenset:
        # Tag 258, then an array (counted by cbor2 even when empty), then items.
        if depth + (2 if value else 1) > MAX_DEPTH:
            raise _PathError(f"nested deeper than {MAX_DEPTH} levels")
        for item in value:  # type: ignore[attr-defined]
            if type(item) is not str and type(item) is not bytes:
                raise _PathError(f"set items must be str or bytes, not {type(item).__name__}")
        return
    extra = _TAGGED_DEPTH.get(cls)
    if extra is None:
        raise _PathError(f"unsupported type {cls.__module__}.{cls.__qualname__}")
    if depth + extra > MAX_DEPTH:
        raise _PathError(f"nested deeper than {MAX_DEPTH} levels")
    if cls is _dt.datetime:
        offset = value.utcoffset()  # type: ignore[attr-defined]
        if offset is None:
            raise _PathError("naive datetime; attach a timezone (e.g. datetime.UTC)")
        if offset % _dt.timedelta(minutes=1):
            # RFC 3339 offsets are whole minutes; cbor2 would write a string
            # its own decoder refuses. Convert to UTC first.
            raise _PathError("timezone offset is not whole minutes; use datetime.UTC")
    if cls is decimal.Decimal:
        if not value.is_finite():  # type: ignore[attr-defined]
            raise _PathError("Decimal must be finite")
        sign_digits_exp = value.as_tuple()  # type: ignore[attr-defined]
        exponent = sign_digits_exp.exponent
        if abs(exponent) > MAX_DECIMAL_EXPONENT:
            raise _PathError(f"Decimal exponent beyond ±{MAX_DECIMAL_EXPONENT}")
        if len(sign_digits_exp.digits) > 300:
            raise _PathError("Decimal with more than 300 digits")
        mantissa = int("".join(map(str, sign_digits_exp.digits)))
        if sign_digits_exp.sign:
            mantissa = -mantissa
        # A mantissa beyond 64 bits is a bignum: one more level below the tag.
        if depth + 3 > MAX_DEPTH and not _is_native_int(mantissa):
            raise _PathError(f"nested deeper than {MAX_DEPTH} levels")


def _is_native_int(value: int) -> bool:
    """Return whether CBOR encodes `value` as a plain integer (no bignum tag)."""
    return -(2**64) <= value < 2**64
