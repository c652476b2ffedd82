"""Cookie header parsing and Set-Cookie rendering."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookiesess import ConfigurationError
from cookiesess.cookies import (
    MAX_PAIRS,
    SetCookie,
    parse_cookie_header,
    private_cache_control,
    request_is_secure,
    vary_cookie,
)


def test_joins_lines_and_splits_on_semicolon_and_comma() -> None:
    """Several header lines and gunicorn's comma-joined form parse alike."""
    assert parse_cookie_header(["a=1; s=AAA", b"s.1=BBB"]) == {"a": "1", "s": "AAA", "s.1": "BBB"}
    assert parse_cookie_header("a=1; s=AAA,s.1=BBB") == {"a": "1", "s": "AAA", "s.1": "BBB"}


def test_malformed_pairs_are_skipped() -> None:
    """Pairs without '=' or with an empty name are ignored without aborting the rest."""
    assert parse_cookie_header('junk; =x; a = 1 ;;b="q"; c=') == {"a": "1", "b": '"q"', "c": ""}


def test_first_occurrence_wins() -> None:
    """Browsers send the most specific cookie first; a later duplicate cannot override it."""
    assert parse_cookie_header("s=first; s=second") == {"s": "first"}


def test_bounded_pairs() -> None:
    """At most MAX_PAIRS pairs are considered."""
    header = "; ".join(f"c{i}=v" for i in range(MAX_PAIRS * 4))
    assert len(parse_cookie_header(header)) == MAX_PAIRS


@pytest.mark.parametrize("evil", ["\\" * 200_000, '"' * 200_000, "=" * 200_000, ";" * 200_000])
def test_linear_time_on_pathological_input(evil: str) -> None:
    """Inputs that made http.cookies quadratic (CVE-2024-7592) parse in milliseconds."""
    start = time.perf_counter()
    parse_cookie_header("a=" + evil)
    assert time.perf_counter() - start < 0.5


@given(st.text(max_size=500))
def test_any_text_parses_to_a_dict(text: str) -> None:
    """Arbitrary text never raises."""
    result = parse_cookie_header(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


def test_render_all_attributes() -> None:
    """Every attribute renders; Max-Age is capped at 400 days."""
    line = SetCookie(
        name="__Secure-s",
        value="abc",
        path="/app",
        domain="example.com",
        max_age=10**9,
        samesite="Strict",
        partitioned=True,
        priority="High",
    ).render()
    assert line == (
        "__Secure-s=abc; Max-Age=34560000; Path=/app; Domain=example.com; Secure; HttpOnly; "
        "SameSite=Strict; Partitioned; Priority=High"
    )


def test_deletion_line_repeats_attributes() -> None:
    """A deletion carries Max-Age=0, a past Expires and the same Path/Domain/Secure."""
    line = SetCookie(name="s", path="/p", domain="example.com", max_age=0).render()
    assert line.startswith("s=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/p")
    assert "Domain=example.com; Secure" in line


def test_prefix_and_samesite_rules_all_reported() -> None:
    """__Host- needs Secure, Path=/ and no Domain; SameSite=None and Partitioned need Secure."""
    with pytest.raises(ConfigurationError) as info:
        SetCookie(
            name="__Host-s",
            secure=False,
            path="/x",
            domain="example.com",
            samesite="None",
            partitioned=True,
        )
    assert len(info.value.problems) == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"name": "a b"}, {"name": "a;b"}, {"name": "s", "value": "a;b"}, {"name": "s", "path": "x"}],
)
def test_invalid_syntax_refused(kwargs: dict[str, str]) -> None:
    """Names, values and paths outside the RFC 6265 grammar are refused."""
    with pytest.raises(ConfigurationError):
        SetCookie(**kwargs)  # type: ignore[arg-type]


def test_cache_headers() -> None:
    """Vary gains Cookie once; Cache-Control becomes private and drops public."""
    assert vary_cookie(None) == "Cookie"
    assert vary_cookie("Accept-Encoding") == "Accept-Encoding, Cookie"
    assert vary_cookie("cookie") == "cookie"
    assert vary_cookie("*") == "*"
    assert private_cache_control(None) == "private"
    assert private_cache_control("public, max-age=60") == "private, max-age=60"
    assert private_cache_control("no-store") == "no-store"


def test_secure_auto_trusts_forwarded_proto_only_when_told() -> None:
    """X-Forwarded-Proto counts only with trust_proxy."""
    assert request_is_secure("https", None, trust_proxy=False)
    assert not request_is_secure("http", "https", trust_proxy=False)
    assert request_is_secure("http", "https, http", trust_proxy=True)
    assert not request_is_secure("https", "http", trust_proxy=True)


_PAIR_PART = st.text(alphabet=st.sampled_from("ab= \t\x00é"), max_size=8)


@settings(max_examples=300)
@given(st.builds("{}={}".format, _PAIR_PART, _PAIR_PART) | _PAIR_PART | st.text(max_size=60))
def test_a_single_pair_parses_as_within_a_longer_header(text: str) -> None:
    """The one-pair shortcut agrees with the general parser (a trailing ';' forces it)."""
    assert parse_cookie_header(text) == parse_cookie_header(text + ";")
