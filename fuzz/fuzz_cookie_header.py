"""Fuzz target: the Cookie header parser, `cookiesess.cookies.parse_cookie_header`.

Invariant: for any bytes, fed as one header (bytes or latin-1 str), as several
header lines, or repeated past the 64 KiB bound, nothing escapes; the result
is a dict of str -> str with at most `MAX_PAIRS` entries whose names are
non-empty and stripped, where neither names nor values contain ``;`` or
``,``, and whose total size is bounded by `MAX_HEADER_CHARS`. Several lines
parse exactly like the same lines joined with ``"; "``, and bytes parse like
their latin-1 decoding. Linear time (libFuzzer ``-timeout=1``) and bounded
memory (``-rss_limit_mb=512``).

Input layout: byte 0 picks the shape (one bytes header, one str header,
several lines split at ``\\n``, or the body repeated up to 256 times);
the rest is the header.
"""

from __future__ import annotations

import sys

from cookiesess.cookies import (
    MAX_HEADER_CHARS,
    MAX_PAIRS,
    MAX_VALUES,
    RequestCookies,
    parse_cookie_header,
    values_of,
)


def _check(cookies: object) -> dict[str, str]:
    assert type(cookies) in (dict, RequestCookies)
    assert len(cookies) <= MAX_PAIRS
    repeated = cookies.repeated if type(cookies) is RequestCookies else None
    assert repeated != {}, "a RequestCookies only when a name repeats"
    for name, more in (repeated or {}).items():
        assert name in cookies
        assert 1 <= len(more) <= MAX_VALUES - 1
        assert values_of(cookies, name) == (cookies[name], *more)  # type: ignore[arg-type]
    total = 0
    for name, value in cookies.items():
        assert type(name) is str
        assert type(value) is str
        assert name
        assert name == name.strip(" \t")
        assert value == value.strip(" \t")
        for sep in ";,":
            assert sep not in name
            assert sep not in value
        assert "=" not in name
        total += len(name) + len(value) + 1
    assert total <= MAX_HEADER_CHARS + 1
    return cookies


def TestOneInput(data: bytes) -> None:
    """Parse `data` as one or several Cookie headers and check the result."""
    shape = data[0] % 4 if data else 0
    body = data[1:]
    if shape == 0:
        result = _check(parse_cookie_header(body))
        assert result == parse_cookie_header(body.decode("latin-1"))
    elif shape == 1:
        _check(parse_cookie_header(body.decode("latin-1")))
    elif shape == 2:
        # Mixed bytes and str lines, as ASGI servers and WSGI adapters give them.
        lines: list[str | bytes] = [
            line if i % 2 else line.decode("latin-1")
            for i, line in enumerate(body.split(b"\n")[:64])
        ]
        result = _check(parse_cookie_header(lines))
        joined = "; ".join(
            line.decode("latin-1") if isinstance(line, bytes) else line for line in lines
        )
        assert result == parse_cookie_header(joined)
    else:
        times = body[0] + 1 if body else 1
        _check(parse_cookie_header(body[1:] * times))


if __name__ == "__main__":
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
