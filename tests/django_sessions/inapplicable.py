"""The cases of Django's own sessions_tests that cannot apply to cookiesess, and why.

Keyed by ``Class.test_method`` of tests/django_sessions/sessions_cases.py; every
other case must pass. Imported by the runner (which skips these) and by the
pytest module (which checks that exactly these were skipped).
"""

from __future__ import annotations

from typing import Final

_RESURRECT: Final = (
    "a client-side session carries its own data: deleting it in another context cannot make "
    "this context's save() raise UpdateError (Django skips this case for signed_cookies too); "
    "with a denylist the deleted session's cookies no longer open"
)
_REVOKE: Final = (
    "without a denylist a sealed cookie stays valid until it expires (a client-side session "
    "cannot be recalled by deleting data); the same case passes in CookiesessSessionTests, "
    "which configures a denylist"
)

INAPPLICABLE: Final[dict[str, str]] = {
    "CookiesessSessionTests.test_session_save_does_not_resurrect_session_logged_out_in_other_context": _RESURRECT,  # noqa: E501
    "CookiesessSessionTests.test_session_asave_does_not_resurrect_session_logged_out_in_other_context": _RESURRECT,  # noqa: E501
    "CookiesessSessionTestsWithoutDenylist.test_session_save_does_not_resurrect_session_logged_out_in_other_context": _RESURRECT,  # noqa: E501
    "CookiesessSessionTestsWithoutDenylist.test_session_asave_does_not_resurrect_session_logged_out_in_other_context": _RESURRECT,  # noqa: E501
    "CookiesessSessionTestsWithoutDenylist.test_flush": _REVOKE,
    "CookiesessSessionTestsWithoutDenylist.test_flush_async": _REVOKE,
    "CookiesessSessionTestsWithoutDenylist.test_cycle": _REVOKE,
    "CookiesessSessionTestsWithoutDenylist.test_cycle_async": _REVOKE,
    "CookiesessMiddlewareTests.test_session_update_error_redirect": (
        "the view replaces request.session with a database SessionStore; cookiesess's "
        "middleware commits only the session it opened"
    ),
    "CookiesessMiddlewareTests.test_session_delete_on_end": (
        "sets request.COOKIES by hand (cookiesess reads the raw Cookie header with its own "
        "bounded parser) and compares Django's own deletion rendering byte for byte "
        '(sessionid=""; expires=...); the deletion is checked as behaviour in '
        "tests/adapters/djangoproj/checks.py::test_flush_empties_and_expires_the_cookie"
    ),
    "CookiesessMiddlewareTests.test_session_delete_on_end_with_custom_domain_and_path": (
        "sets request.COOKIES by hand and compares Django's own deletion rendering byte for "
        "byte; checked as behaviour in "
        "tests/adapters/djangoproj/checks.py::test_flush_expires_with_custom_domain_and_path"
    ),
    "CookiesessMiddlewareTests.test_save_every_request_with_non_empty_session_renews_session_cookie": (  # noqa: E501
        "SESSION_SAVE_EVERY_REQUEST refreshes the cookie at a bounded granularity (writes only "
        "on change), not on every response; checked in tests/adapters/djangoproj/checks.py::"
        "test_save_every_request_refreshes_at_bounded_granularity"
    ),
    "CookiesessMiddlewareTests.test_empty_session_saved": (
        "reads a database row (Session.objects) and expects an emptied session to keep its "
        "cookie; cookiesess expires the cookie of an emptied session "
        "(tests/adapters/djangoproj/checks.py::test_emptied_session_expires_the_cookie)"
    ),
}
