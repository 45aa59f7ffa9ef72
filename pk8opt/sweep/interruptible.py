"""Waiting on worker processes without going deaf to Ctrl-C.

A thread blocked in `Future.result()` with no timeout sleeps in a lock; when the
kernel hands SIGINT to one of the process's other threads (polars', loky's), Python
notes the signal but the main thread only runs its handler once that lock lets go,
which may be never (a replay that hangs) or minutes later. Waiting in short slices
instead lets the main thread hear Ctrl-C within `WAKE_S`, as the search's polling loop
does. `Interruptible(executor)` gives validation such futures."""

from __future__ import annotations

from concurrent.futures import wait
from typing import Any

WAKE_S = 0.2


class InterruptibleFuture:
    """A future whose `result()` waits in slices of `WAKE_S` seconds."""

    def __init__(self, future: Any) -> None:
        self.future = future

    def result(self, timeout: float | None = None) -> Any:
        if timeout is None:
            while not self.future.done():
                wait([self.future], timeout=WAKE_S)
        return self.future.result(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.future, name)


class Interruptible:
    """An executor whose futures are `InterruptibleFuture`s; the rest is the executor's."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> InterruptibleFuture:
        return InterruptibleFuture(self.executor.submit(fn, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.executor, name)
