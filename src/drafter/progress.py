"""A draft's progress on stderr: a line per section done; on a terminal also a live line per section in flight
with its tokens arriving and tokens/s (the backend's Events.on_stream), so a slow local model is visibly working."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from drafter.llm.types import Events, Reply

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


class SectionProgress:
    """on_done for the pipeline and the Events for the backend; a context manager (the live display runs inside)."""

    def __init__(self, console: Console, total: int, live: bool | None = None) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self.live_on = console.is_terminal if live is None else live
        self.arriving: dict[str, tuple[int, float]] = {}  # section -> (tokens so far, seconds since the first)
        self.events = Events(on_stream=self.streamed)
        self._lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> SectionProgress:
        if self.live_on:
            from rich.live import Live

            self._live = Live(console=self.console, transient=True, refresh_per_second=4,
                              get_renderable=self.render)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def streamed(self, section: str, label: str, tokens: int, seconds: float) -> None:
        with self._lock:
            if tokens < 0:
                self.arriving.pop(section, None)
            else:
                self.arriving[section] = (tokens, seconds)

    def on_done(self, label: str, section_id: str, reply: Reply) -> None:
        self.done += 1
        how = "cached" if reply.cached else (f"{reply.tokens} tokens" if reply.tokens else reply.source)
        self.console.print(f"  [green]✓[/] {section_id:<16} {how:>12}  [{self.done}/{self.total}] "
                           f"{time.perf_counter() - self.started:5.1f}s")

    def lines(self) -> list[str]:
        """One line per section whose answer is arriving: tokens so far and tokens/s."""
        with self._lock:
            arriving = sorted(self.arriving.items())
        out = []
        for section, (tokens, seconds) in arriving:
            rate = f"{tokens / seconds:5.1f} tok/s" if seconds > 0.2 else "     … tok/s"
            out.append(f"  … {section:<16} {tokens:>6} tokens  {rate}")
        return out

    def render(self) -> RenderableType:
        from rich.text import Text

        return Text("\n".join(self.lines()))
