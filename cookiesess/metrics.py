"""Prometheus metrics from ``on_event`` (the optional extra ``cookiesess[metrics]``).

::

    from cookiesess.metrics import prometheus_hook

    SessionMiddleware(app, keyring, on_event=prometheus_hook())

Exposes ``cookiesess_events_total{kind, reason}`` (every event; ``reason`` is
the reject reason code, empty for other kinds), and for store failures
``cookiesess_store_errors_total{operation, error}`` and the histogram
``cookiesess_store_error_seconds{operation}``. No label carries a secret, a
session id or session data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .events import SessionEvent

__all__ = ["prometheus_hook"]


def prometheus_hook(
    registry: Any = None, *, namespace: str = "cookiesess"
) -> Callable[[SessionEvent], None]:
    """Return an ``on_event`` hook that counts events with `prometheus_client`.

    Args:
        registry: a `prometheus_client.CollectorRegistry`; the default registry if None.
        namespace: the metric name prefix.

    Raises:
        ImportError: `prometheus_client` is not installed (``pip install cookiesess[metrics]``).
    """
    import prometheus_client

    if registry is None:
        registry = prometheus_client.REGISTRY
    events = prometheus_client.Counter(
        "events",
        "Session events by kind and reject reason.",
        ["kind", "reason"],
        namespace=namespace,
        registry=registry,
    )
    store_errors = prometheus_client.Counter(
        "store_errors",
        "Failed store calls by operation and error type.",
        ["operation", "error"],
        namespace=namespace,
        registry=registry,
    )
    store_seconds = prometheus_client.Histogram(
        "store_error_seconds",
        "Seconds a failed store call took.",
        ["operation"],
        namespace=namespace,
        registry=registry,
    )

    def hook(event: SessionEvent) -> None:
        events.labels(kind=event.kind, reason=event.reason or "").inc()
        if event.kind == "store_error":
            operation = event.operation or ""
            store_errors.labels(operation=operation, error=event.error or "").inc()
            store_seconds.labels(operation=operation).observe(event.duration or 0.0)

    return hook
