"""Deterministic, JSON-native session payloads of growing size.

Same recipe as research/perf-baseline.md: a uid and a CSRF token, then a user
dict, locale, timezone, timestamps, flags, a flash message, cart items,
recently viewed items, preferences and random-looking tokens. Values come from
a SHA-256 chain, so every run (and every scheme) sees the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

NAMES = ("tiny", "small", "medium", "near_limit", "large")
LABELS = {
    "tiny": "~56 B",
    "small": "~400 B",
    "medium": "~1.5 KB",
    "near_limit": "~3.2 KB",
    "large": "~10 KB",
}
# Items of each list (cart, recently viewed, prefs, tokens) per payload.
_COUNTS = {"small": 1, "medium": 8, "near_limit": 20, "large": 70}


class _Chain:
    def __init__(self, seed: str) -> None:
        self.state = hashlib.sha256(seed.encode()).digest()

    def bytes(self) -> bytes:
        self.state = hashlib.sha256(self.state).digest()
        return self.state

    def token(self, chars: int) -> str:
        out = ""
        while len(out) < chars:
            out += base64.urlsafe_b64encode(self.bytes()).decode().rstrip("=")
        return out[:chars]

    def int(self, low: int, high: int) -> int:
        return low + int.from_bytes(self.bytes()[:8], "big") % (high - low + 1)


def build(name: str) -> dict[str, Any]:
    """Return the payload called `name` (one of `NAMES`)."""
    rnd = _Chain(f"cookiesess-bench/{name}")
    data: dict[str, Any] = {"uid": 482131, "csrf": rnd.token(32)}
    if name == "tiny":
        return data
    count = _COUNTS[name]
    data.update(
        {
            "user": {
                "id": 482131,
                "name": "Ada",
                "email": "ada@example.org",
            },
            "locale": "en-GB",
            "tz": "Europe/London",
            "auth_at": 1767225600.125,
            "last_seen": 1767229200.5,
            "flags": {"newsletter": True},
            "flash": [{"level": "info", "msg": "Welcome back!"}],
        }
    )
    data["cart"] = [
        {
            "sku": f"SKU-{rnd.int(10000, 99999)}",
            "qty": rnd.int(1, 5),
            "price": rnd.int(99, 99999),
            "added": 1767225600 + rnd.int(0, 86400),
        }
        for _ in range(count)
    ]
    data["recent"] = [
        {"id": rnd.int(1, 10**6), "slug": f"product-{rnd.token(8).lower()}"} for _ in range(count)
    ]
    if name != "small":
        data["prefs"] = {f"pref_{i}": rnd.int(0, 1000) for i in range(count)}
        data["tokens"] = [rnd.token(22) for _ in range(count)]
        data["experiments"] = {"checkout_v2": "B", "search_rank": "control", "promo": 3}
    return data


def json_size(data: dict[str, Any]) -> int:
    return len(json.dumps(data, separators=(",", ":")).encode())


PAYLOADS: dict[str, dict[str, Any]] = {name: build(name) for name in NAMES}


if __name__ == "__main__":
    import cbor2

    for name, data in PAYLOADS.items():
        print(f"{name:11} json {json_size(data):6} B  cbor {len(cbor2.dumps(data)):6} B")
