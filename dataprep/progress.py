"""Progress of a run as parts finish: bars on a terminal, lines in a batch job's log."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """Documents each stage has taken in, and docs/s, as parts finish.

    On a terminal: one bar per stage. Otherwise (a batch job's log): one line per stage of the
    running segment at most every `every` seconds, with parts done/total and an estimate of the
    time left, instead of silence until the end.
    """

    def __init__(self, names: list[str], total: int, every: float = 30.0):
        self.names, self.total, self.every = names, total, every
        self.tty = sys.stderr.isatty()
        self.docs = [0] * len(names)
        self.parts_done = self.parts_total = 0
        self.started = self.printed = time.monotonic()
        if self.tty:
            from tqdm import tqdm

            self.bars = [tqdm(total=total, desc=f"{n:<20}", unit="docs", position=i, leave=True, file=sys.stderr,
                              dynamic_ncols=True, smoothing=0) for i, n in enumerate(names)]

    def segment(self, parts: int) -> None:
        """A segment starts with `parts` parts left to do."""
        self.parts_done, self.parts_total, self.started = 0, parts, time.monotonic()
        self.current: list[int] = []

    def update(self, part_stats: dict[str, Any]) -> None:
        self.parts_done += 1
        for offset, stage in enumerate(part_stats["stages"]):
            position = part_stats["first_stage"] + offset
            self.docs[position] += stage["in"]
            if self.tty:
                self.bars[position].update(stage["in"])
        self.current = [part_stats["first_stage"] + k for k in range(len(part_stats["stages"]))]
        now = time.monotonic()
        if not self.tty and (now - self.printed >= self.every or self.parts_done == self.parts_total):
            self.printed = now
            elapsed = max(now - self.started, 1e-9)
            left = elapsed / self.parts_done * (self.parts_total - self.parts_done)
            for position in self.current:
                print(f"dataprep: {self.names[position]}: parts {self.parts_done}/{self.parts_total}, "
                      f"{self.docs[position]:,} docs, {self.docs[position] / elapsed:,.0f} docs/s, ETA {left:,.0f} s",
                      file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            for bar in self.bars:
                bar.close()
