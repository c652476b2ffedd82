"""The Prometheus recipe, through the real WSGI middleware and a real registry."""

from __future__ import annotations

from pathlib import Path

import prometheus_client

from cookiesess.metrics import prometheus_hook
from cookiesess.stores import MemoryStore, SQLiteStore
from cookiesess.wsgi import SessionMiddleware
from tests.adapters._session_apps import RING, call_wsgi, environ_for, wsgi_app
from tests.helpers import Browser


def value(registry: object, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)  # type: ignore[attr-defined]
    return 0.0 if found is None else float(found)


def test_rejections_and_moves_are_counted() -> None:
    registry = prometheus_client.CollectorRegistry()
    app = SessionMiddleware(wsgi_app, RING, store=MemoryStore(), on_event=prometheus_hook(registry))
    for cookie in ("session=junk", "session=AAAA", "session=junk"):
        call_wsgi(app, environ_for("/view", cookie=cookie))
    jar = Browser()
    jar.apply(call_wsgi(app, environ_for("/big?n=9000")).set_cookies)
    assert value(registry, "cookiesess_events_total", kind="rejected", reason="malformed") == 3
    assert value(registry, "cookiesess_events_total", kind="moved_to_store", reason="") == 1


def test_store_failures_are_counted_with_their_duration(tmp_path: Path) -> None:
    registry = prometheus_client.CollectorRegistry()
    good = SessionMiddleware(wsgi_app, RING, store=MemoryStore())
    jar = Browser()
    jar.apply(call_wsgi(good, environ_for("/big?n=9000")).set_cookies)
    failing = SessionMiddleware(
        wsgi_app, RING, store=SQLiteStore(tmp_path), on_event=prometheus_hook(registry)
    )
    response = call_wsgi(failing, environ_for("/view", cookie=jar.header()))
    assert response.status == 503
    labels = {"operation": "get", "error": "OperationalError"}
    assert value(registry, "cookiesess_store_errors_total", **labels) == 1
    assert value(registry, "cookiesess_store_error_seconds_count", operation="get") == 1
