"""The terminal side of the dashboard: the rich `Live` screen and a stand-in for no tty."""

from __future__ import annotations

import contextlib

from pk8opt.live.dashboard import DashboardState, render


class NoTty:
    def isatty(self) -> bool:
        return False


class Screen:
    """The rich `Live` display of the dashboard, repainted a few times a second."""

    def __init__(self, state: DashboardState) -> None:
        from rich.console import Console
        from rich.live import Live

        self.state = state
        self.console = Console()
        self.live = Live(console=self.console, screen=self.console.is_terminal, auto_refresh=False)
        self._last = 0.0

    def start(self) -> None:
        self.live.start()

    def refresh(self) -> None:
        import time

        now = time.monotonic()
        if now - self._last >= 0.25:  # 4 repaints a second are plenty for a human
            self._last = now
            self.live.update(render(self.state, self.console.height), refresh=True)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.live.stop()
