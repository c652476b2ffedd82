"""Seal and open cost of the core, beside raw cbor2 + AESGCM, in one interleaved run.

`python bench/core.py [--quick]`: for sessions of about 100 B, 1 KB, 4 KB and
12 KB of CBOR, the median µs of one seal (`SessionEngine.commit` of a changed
session), one open (`SessionEngine.load` of the cookies) and both, against the
raw floor (cbor2 + AES-256-GCM with a cached key + base64url, no header, no
checks). Ratios are paired (same round). The last column is seal+open with an
``on_event`` hook set (a no-op) over the same without: the cost of the hook.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cbor2
from _harness import measure, paired_ratio, sync_bench
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cookiesess import Keyring, SessionEngine
from cookiesess.cookies import parse_cookie_header

SIZES = {"100 B": 100, "1 KB": 1000, "4 KB": 4000, "12 KB": 12000}


def payload(size: int) -> dict[str, object]:
    return {"uid": 12345, "csrf": "c" * 32, "blob": "b" * max(0, size - 60)}


def main() -> None:
    quick = "--quick" in sys.argv
    ring = Keyring.generate()
    engine = SessionEngine(ring, max_total_bytes=40960)
    observed = SessionEngine(ring, max_total_bytes=40960, on_event=lambda event: None)
    key = AESGCM(os.urandom(32))
    benches = []
    for label, size in SIZES.items():
        data = payload(size)
        session = engine.load({})
        session.update(data)
        lines = engine.commit(session, {})
        jar = parse_cookie_header("; ".join(x.partition(";")[0] for x in lines))

        def seal(data: dict[str, object] = data) -> list[str]:
            session = engine.load({})
            session.update(data)
            return engine.commit(session, {})

        def both(data: dict[str, object] = data, engine: SessionEngine = engine) -> None:
            session = engine.load({})
            session.update(data)
            lines = engine.commit(session, {})
            engine.load(parse_cookie_header("; ".join(x.partition(";")[0] for x in lines)))

        def raw(data: dict[str, object] = data) -> None:
            nonce = os.urandom(12)
            token = base64.urlsafe_b64encode(nonce + key.encrypt(nonce, cbor2.dumps(data), None))
            blob = base64.urlsafe_b64decode(token)
            cbor2.loads(key.decrypt(blob[:12], blob[12:], None))

        benches.append(sync_bench(f"seal {label}", seal, group=label))
        benches.append(sync_bench(f"open {label}", lambda jar=jar: engine.load(jar), group=label))
        benches.append(sync_bench(f"ours {label}", both, group=label))
        benches.append(sync_bench(f"raw {label}", raw, group=label))
        benches.append(
            sync_bench(f"events {label}", lambda data=data: both(data, observed), group=label)
        )
    stats = measure(benches, rounds=11 if quick else 41, target_s=0.01, label="core")
    print(
        "| session | seal (µs) | open (µs) | seal+open (µs) | raw cbor2+AESGCM (µs) | ratio "
        "| on_event set / unset |"
    )
    print("|---|---|---|---|---|---|---|")
    for label in SIZES:
        s, o = stats[f"seal {label}"], stats[f"open {label}"]
        a, b = stats[f"ours {label}"], stats[f"raw {label}"]
        print(
            f"| {label} | {s.median:.1f} | {o.median:.1f} | {a.median:.1f} | {b.median:.1f} "
            f"| {paired_ratio(a, b):.2f}x | {paired_ratio(stats[f'events {label}'], a):.3f}x |"
        )


if __name__ == "__main__":
    main()
