"""cookiesess._http: the header merge and the outage 503 every adapter shares."""

from __future__ import annotations

import pytest

from cookiesess._http import ASGI, STORE_UNAVAILABLE, WSGI, joined, with_session_headers

LINE = "session=abc; Path=/; HttpOnly; SameSite=Lax"


class TestWithSessionHeaders:
    def test_wsgi_headers_get_vary_cache_control_and_set_cookie(self) -> None:
        """With nothing to merge, the session's headers are appended after the app's."""
        headers = [("Content-Type", "text/plain")]

        out = with_session_headers(headers, [LINE], vary=True, names=WSGI)

        assert out == [
            ("Content-Type", "text/plain"),
            ("Vary", "Cookie"),
            ("Cache-Control", "private"),
            ("Set-Cookie", LINE),
        ]
        assert headers == [("Content-Type", "text/plain")]  # a copy: the input is untouched

    def test_asgi_lines_are_merged_into_one_each(self) -> None:
        """ASGI bytes: every Vary / Cache-Control line is merged, whatever its case."""
        headers = [
            (b"Vary", b"Accept"),
            (b"content-type", b"text/plain"),
            (b"vary", b"Origin"),
            (b"cache-control", b"public, max-age=60"),
        ]

        out = with_session_headers(headers, [LINE], vary=True, names=ASGI)

        assert out == [
            (b"content-type", b"text/plain"),
            (b"vary", b"Accept, Origin, Cookie"),
            (b"cache-control", b"private, max-age=60"),
            (b"set-cookie", LINE.encode()),
        ]

    @pytest.mark.parametrize(
        ("vary", "cache_control"),
        [("*", "no-store"), ("Accept, cookie", "private, max-age=0")],
    )
    def test_values_already_covering_the_session_are_kept(
        self, vary: str, cache_control: str
    ) -> None:
        """``Vary: *`` / an existing Cookie and ``no-store`` / ``private`` stay as they are."""
        headers = [("Vary", vary), ("Cache-Control", cache_control)]

        out = with_session_headers(headers, [LINE], vary=True, names=WSGI)

        assert out == [("Vary", vary), ("Cache-Control", cache_control), ("Set-Cookie", LINE)]

    def test_a_read_only_response_only_varies(self) -> None:
        """No Set-Cookie: only Vary is added; no vary and no cookie: nothing at all."""
        assert with_session_headers([], [], vary=True, names=WSGI) == [("Vary", "Cookie")]
        assert with_session_headers([], [], vary=False, names=ASGI) == []

    def test_asgi_values_given_as_bytearray_or_memoryview_are_read(self) -> None:
        """A server may hand bytes-like values; they are merged all the same."""
        headers = [(b"vary", bytearray(b"Accept")), (b"vary", memoryview(b"Origin"))]

        out = with_session_headers(headers, [], vary=True, names=ASGI)  # type: ignore[arg-type]

        assert out == [(b"vary", b"Accept, Origin, Cookie")]

    def test_joined(self) -> None:
        """Several values of one header become one; none becomes None."""
        assert joined(["a", "b"]) == "a, b"
        assert joined([]) is None


class TestStoreUnavailable:
    def test_one_shape_for_wsgi_and_asgi(self) -> None:
        """503, plain text, exact Content-Length and no-store, as str and as ASGI bytes."""
        body = b"Service Unavailable: the session store failed.\n"

        assert STORE_UNAVAILABLE.status == 503
        assert STORE_UNAVAILABLE.status_line == "503 Service Unavailable"
        assert STORE_UNAVAILABLE.body == body
        assert STORE_UNAVAILABLE.headers == [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
        assert STORE_UNAVAILABLE.raw_headers == [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
