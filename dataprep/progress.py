"""Progress of a run as parts finish: bars on a terminal, lines in a batch job's log."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """Documents each stage has taken in, and docs/s, as parts finish.

    On a terminal: one bar per stage. Otherwise (a batch job's log): one line per stage of the
    running segment at most every `every` seconds, with the segment, its parts done/total (those
    an interrupted attempt finished included) and an estimate of the segment's time left, instead
    of silence until the end; a global stage's keys and resolve say so as they go. A later
    segment's time is not estimated: its stages differ, and a global stage's resolve comes
    before its parts.
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

    def segment(self, index: int, segments: int, left: int, parts: int) -> None:
        """Segment `index` (of `segments`) starts with `left` of its `parts` parts to do (fewer
        when a resumed run finished some before)."""
        self.label = f"segment {index + 1}/{segments}, " if segments > 1 else ""
        self.parts_done, self.parts_left, self.parts_total = 0, left, parts
        self.started = self.printed = time.monotonic()  # the first line after `every`, not after a silent phase's
        self.current: list[int] = []

    def phase(self, stage: str, what: str, last: bool) -> None:
        """A global stage's corpus-wide phase (its keys, its resolve) in a batch job's log: a line
        at most every `every` seconds, and its last."""
        now = time.monotonic()
        if not self.tty and (now - self.printed >= self.every or last):
            self.printed = now
            print(f"dataprep: {stage}: {what}", file=sys.stderr, flush=True)

    def update(self, part_stats: dict[str, Any]) -> None:
        self.parts_done += 1
        for offset, stage in enumerate(part_stats["stages"]):
            position = part_stats["first_stage"] + offset
            self.docs[position] += stage["in"]
            if self.tty:
                self.bars[position].update(stage["in"])
        self.current = [part_stats["first_stage"] + k for k in range(len(part_stats["stages"]))]
        now = time.monotonic()
        if not self.tty and (now - self.printed >= self.every or self.parts_done == self.parts_left):
            self.printed = now
            elapsed = max(now - self.started, 1e-9)
            left = elapsed / self.parts_done * (self.parts_left - self.parts_done)
            before = self.parts_total - self.parts_left  # finished by an interrupted attempt: their documents are not counted here
            earlier, attempt = (f" ({before} by an earlier attempt)", " in this attempt") if before else ("", "")
            for position in self.current:
                print(f"dataprep: {self.names[position]}: {self.label}parts {before + self.parts_done}/{self.parts_total}{earlier}, "
                      f"{self.docs[position]:,} docs{attempt}, {self.docs[position] / elapsed:,.0f} docs/s, ETA of the segment {left:,.0f} s",
                      file=sys.stderr, flush=True)

    def close(self) -> None:
        """The run finished: each bar ends full at what reached its stage (its total was the
        input's count, which a stage after a filter never reaches)."""
        if self.tty:
            for bar in self.bars:
                bar.total = bar.n
                bar.refresh()
                bar.close()
