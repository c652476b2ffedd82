"""What the 0.1 fixtures in tests/release/v0_1/ hold, shared by their generator and the test."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

SEALED_AT = 1_800_000_000
"""The `now` the fixtures were sealed at (2027-01-15); the tests open them shortly after."""

COOKIE_NAME = "__Host-session"

CASES: dict[str, dict[str, Any]] = {
    # One cookie, every kind of value the codec supports.
    "small": {
        "user": "ada",
        "roles": {"admin", "editor"},
        "login": dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.UTC),
        "birthday": dt.date(1815, 12, 10),
        "account": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "balance": Decimal("12.50"),
        "token": b"\x00\x01binary",
        "cart": [1, 2.5, None, True, {"sku": "A-1"}],
        "big": 2**200,
    },
    # Values at the limits of 0.1's encoder, which 0.2's stricter decoder must still read.
    "edges": {
        "digits": Decimal("1" * 300),
        "huge": Decimal("1E+1000"),
        "tiny": Decimal("1E-1000"),
        "wide": 2**1023,
        "zone": dt.datetime(
            2027, 1, 15, 8, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
        ),
        "first": dt.date(1, 1, 1),
        "empty": frozenset(),
        "negative_zero": -0.0,
        "nested": [[[[{"deep": [1]}]]]],
        "pair": [1, "two"],
    },
    # Split across two chunk cookies.
    "chunked": {"user": "bob", "notes": ["n" * 1000 for _ in range(4)]},
    # Past the cookie budget: the data is in the SQLite store, the cookie holds a reference.
    "stored": {"user": "eve", "history": [f"page {i}" * 20 for i in range(100)]},
}
