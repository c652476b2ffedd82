"""Drivers: run the store calls a pipeline yields, synchronously or awaited.

The engine's pipelines are generators that yield ``(store, method, args)``
and receive each call's result, so `load`/`aload` and `commit`/`acommit`
share every line of logic. A pipeline that needs no store returns its result
directly, and the drivers pass it through: the usual request pays no
generator.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator
from types import GeneratorType
from typing import Any, TypeVar

from .exceptions import StoreError

__all__ = ["Step", "Steps", "run_async", "run_sync", "then"]

Step = tuple[Any, str, tuple[Any, ...]]
"""One store call: ``(store, method name, args)``."""
Steps = Generator[Step, Any, Any]
T = TypeVar("T")
OnError = Callable[[str, StoreError, float], None]
"""Told of each failed store call: the method, the error and the seconds it took."""


def then(ops: list[Step], result: T, after: Callable[[], None] | None = None) -> T | Steps:
    """Return `result`, or steps that run the store calls `ops` in order, then return it.

    `after` runs once every call has succeeded (to report what they did).
    """
    if not ops:
        if after is not None:
            after()
        return result

    def steps() -> Steps:
        # Not `yield from ops`: the driver sends each call's result, which a
        # list iterator cannot take.
        for op in ops:  # noqa: UP028
            yield op
        if after is not None:
            after()
        return result

    return steps()


def run_sync(steps: Steps | Any, on_error: OnError | None = None) -> Any:
    """Run `steps` calling each store synchronously; pass a plain result through."""
    if type(steps) is not GeneratorType:
        return steps
    try:
        step = next(steps)
        while True:
            store, method, args = step
            start = time.perf_counter()
            try:
                result = getattr(store, method)(*args)
            except StoreError as exc:
                if on_error is not None:
                    on_error(method, exc, time.perf_counter() - start)
                raise
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TypeError(
                    "this store is asynchronous: use aload/acommit (the ASGI middleware does)"
                )
            step = steps.send(result)
    except StopIteration as stop:
        return stop.value


async def run_async(steps: Steps | Any, on_error: OnError | None = None) -> Any:
    """Run `steps` awaiting each store call that returns an awaitable."""
    if type(steps) is not GeneratorType:
        return steps
    try:
        step = next(steps)
        while True:
            store, method, args = step
            start = time.perf_counter()
            try:
                result = getattr(store, method)(*args)
                if inspect.isawaitable(result):
                    result = await result
            except StoreError as exc:
                if on_error is not None:
                    on_error(method, exc, time.perf_counter() - start)
                raise
            step = steps.send(result)
    except StopIteration as stop:
        return stop.value
