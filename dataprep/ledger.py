"""Per-stage counts, the run's stats.json, and the invariant that nothing is lost.

For every stage, `in == kept + removed (summed over reasons) + quarantined`; each stage takes in
what the previous one kept; and overall `input docs == final kept + ledger + quarantine`.
`check` returns every broken equation in words, and the runner refuses to call a run done
while the list is not empty.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dataprep import storage
from dataprep.errors import StageOverBudget


@dataclass
class StageCounts:
    name: str
    kind: str
    docs_in: int = 0
    kept: int = 0
    removed: Counter = field(default_factory=Counter)
    quarantined: int = 0  # documents the stage failed on (isolated, quarantined with the error)
    seconds: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0

    def add(self, other: StageCounts) -> None:
        self.docs_in += other.docs_in
        self.kept += other.kept
        self.removed.update(other.removed)
        self.quarantined += other.quarantined
        self.seconds += other.seconds
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "in": self.docs_in, "kept": self.kept,
            "removed": dict(sorted(self.removed.items())), "quarantined": self.quarantined,
            "seconds": round(self.seconds, 4), "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageCounts:
        return cls(data["name"], data["kind"], data["in"], data["kept"], Counter(data["removed"]),
                   data["quarantined"], data["seconds"], data["bytes_in"], data["bytes_out"])


def entering(stats: dict[str, Any]) -> int:
    """Documents that reached the first stage: the input less what was quarantined at read time
    and the records the reader set aside (WARC requests, images, 404s: `read.*` in the ledger)."""
    q = stats["quarantine"]
    return stats["input"]["docs"] - q["read_rows"] - q["file_rows"] - sum(stats["input"].get("removed", {}).values())


def check(stats: dict[str, Any]) -> list[str]:
    """Every broken counting equation of a run's stats, as sentences (empty when all hold)."""
    problems = []
    stages = [StageCounts.from_dict(s) for s in stats["stages"]]
    read_removed = sum(stats["input"].get("removed", {}).values())
    came = entering(stats)
    for stage in stages:
        if stage.docs_in != came:
            problems.append(f"{stage.name}: took in {stage.docs_in} documents, but {came} came to it")
        total = stage.kept + sum(stage.removed.values()) + stage.quarantined
        if stage.docs_in != total:
            problems.append(f"{stage.name}: in {stage.docs_in} != kept {stage.kept} + removed "
                            f"{sum(stage.removed.values())} + quarantined {stage.quarantined}")
        came = stage.kept
    out = stats["output"]
    if out["kept"] != came:
        problems.append(f"output holds {out['kept']} kept documents, the last stage kept {came}")
    removed = read_removed + sum(sum(s.removed.values()) for s in stages)
    if out["removed"] != removed:
        problems.append(f"ledger holds {out['removed']} documents, the stages removed {removed}")
    quarantined = stats["quarantine"]["read_rows"] + stats["quarantine"]["file_rows"] + sum(s.quarantined for s in stages)
    if out["quarantined"] != quarantined:
        problems.append(f"quarantine holds {out['quarantined']} documents, the run quarantined {quarantined}")
    if stats["input"]["docs"] != out["kept"] + out["removed"] + out["quarantined"]:
        problems.append(f"input {stats['input']['docs']} != kept {out['kept']} + removed {out['removed']} "
                        f"+ quarantined {out['quarantined']}")
    return problems


def table(stats: dict[str, Any]) -> str:
    """The end-of-run table: one row per stage, plus the input and quarantine lines."""
    rows = [("stage", "kind", "in", "kept", "removed", "seconds", "docs/s", "removed by reason")]
    q = stats["quarantine"]
    read_removed = stats["input"].get("removed", {})
    reasons = "".join(f"{r} {n:,}, " for r, n in sorted(read_removed.items(), key=lambda kv: -kv[1]))
    rows.append(("(read)", "input", f"{stats['input']['docs']:,}", f"{entering(stats):,}", f"{sum(read_removed.values()):,}" if read_removed else "",
                 "", "", f"{reasons}quarantined: {q['read_rows'] + q['file_rows']:,} docs, {q['files']} files"))
    for s in stats["stages"]:
        reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(s["removed"].items(), key=lambda kv: -kv[1]))
        if s["quarantined"]:
            reasons += f"{', ' if reasons else ''}quarantined (stage error) {s['quarantined']:,}"
        rate = f"{s['in'] / s['seconds']:,.0f}" if s["seconds"] > 0 else "-"
        rows.append((s["name"], s["kind"], f"{s['in']:,}", f"{s['kept']:,}", f"{sum(s['removed'].values()):,}",
                     f"{s['seconds']:.2f}", rate, reasons))
    out = stats["output"]
    rows.append(("(output)", "", "", f"{out['kept']:,}", f"{out['removed']:,}", f"{stats.get('seconds', 0):.1f}", "",
                 f"quarantined {out['quarantined']:,}; invariant {'OK' if stats.get('invariant_ok') else 'BROKEN'}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for r in rows:
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells + [r[-1]]).rstrip())
    lines += [f"{name}: {figures[key]}" for name, figures in stats.get("outputs", {}).items() for key in ("error", "note") if figures.get(key)]
    return "\n".join(lines)


#: `ledger_text` run option: what the removed-documents ledger keeps of a document's text
LEDGER_TEXT = ("full", "redacted", "none")


def text_policy(mode: str, names: list[str], specs: list[dict[str, Any]]) -> dict[str, Any]:
    """How process_part writes the ledger's text: under `redacted`, documents removed up to and
    by the first `pii` stage (the ledger holds the text a removing stage was given: PII still in
    it) are redacted by that stage's configuration, or by a default `pii` stage when the pipeline
    has none; documents removed after it already hold the redacted text."""
    first = names.index("pii") if "pii" in names else None
    return {"mode": mode, "redactor": specs[first] if first is not None else {"pii": {}},
            "unredacted": sorted(set(names if first is None else names[:first + 1]))}


def with_text(removed: Any, policy: dict[str, Any], redactor: Any = None) -> Any:
    """The ledger's table (pyarrow) with its text as the policy says: full, redacted or null."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if policy["mode"] == "full":
        return removed
    position = removed.column_names.index("text")
    if policy["mode"] == "none":
        return removed.set_column(position, "text", pa.nulls(removed.num_rows, removed.schema.field("text").type))
    from dataprep.stages.base import TextBatch

    rows = np.flatnonzero(pc.is_in(removed.column("stage"), pa.array(policy["unredacted"], pa.string())).to_numpy(zero_copy_only=False))
    if not rows.size:
        return removed
    docs = removed.take(rows).select(["id", "text"])
    redacted = redactor.replace(docs.column("text").combine_chunks(), redactor.detect(TextBatch(docs)))
    text = removed.column("text").combine_chunks().to_pylist()
    for row, value in zip(rows, redacted.to_pylist()):
        text[row] = value
    return removed.set_column(position, "text", pa.array(text, removed.schema.field("text").type))


#: what the one line of a run stopped over its error budget says to do, by who quarantined
STAGE_REMEDY = "fix the stage or raise --error-budget, then run the same command to resume"
READ_REMEDY = ("fix the input or the reading options (--text-column, --input-format) and run again with --overwrite, "
               "or raise --error-budget and run the same command to resume")


def check_budget(what: str, failed: int, taken: int, unit: str, budget: float,
                 errors: Callable[[], Iterable[tuple[str, int]]], remedy: str) -> None:
    """Stop the run (StageOverBudget) when `what` quarantined more than `budget` of the `taken`
    it was given, naming its most common error: `errors` gives (kind of error, how many of the
    `unit` it cost) and is read only then. The one rule for stages and for reading the input."""
    if taken and failed / taken > budget:  # a share, as the budget is written: 29 of 100 is not above 0.29
        kinds: Counter = Counter()
        for kind, count in errors():
            kinds[kind] += count
        common, times = kinds.most_common(1)[0] if kinds else ("(no message)", 0)
        share, allowed = _percents(failed / taken, budget)
        raise StageOverBudget(f"{what} quarantined {failed:,} of {taken:,} {unit} ({share}, error_budget {allowed}); "
                              f"most common error, in {times:,} of them: {common.rstrip('.')}; {remedy}")


def _percents(share: float, budget: float) -> tuple[str, str]:
    """The share and the budget as percentages with the fewest decimals (1 to 4) that write the
    budget exactly and the share visibly above it (2 of 199 is 1.01%, not 1.0%)."""
    for places in range(1, 5):
        shown = f"{share * 100:.{places}f}", f"{budget * 100:.{places}f}"
        if float(shown[1]) == round(budget * 100, 9) and float(shown[0]) > float(shown[1]):
            break
    return f"{shown[0]}%", f"{shown[1]}%"


#: the figures in a reading error (a byte offset, a column, a size): errors of one kind differ by them
FIGURES = re.compile(r"(?<![\w-])\d+(?:[,.]\d+)*")


def error_kind(message: str, stage: str | None) -> str:
    """What errors of one kind share: the message with its figures as N (a byte offset, a
    document's length: one bug raises "index 4711 out of range" and "index 12 out of range"),
    without where in stage code it was raised (a stage's) or its parenthesised detail (a reading
    error's: where a duplicate id was first seen)."""
    return FIGURES.sub("N", message.split(" (at " if stage is not None else " (")[0])


def quarantine_errors(quarantine: list[str], stage: str | None) -> Iterator[tuple[str, int]]:
    """(kind, documents) of each record of the quarantine files: a stage's, or with `stage` None
    those of reading (every error not raised by a stage)."""
    for path in quarantine:
        table = storage.read_table(path, columns=["error", "rows"])
        for message, rows in zip(*(table.column(c).to_pylist() for c in ("error", "rows"))):
            if stage is None and not message.startswith("stage "):
                yield error_kind(message, None), rows or 0  # a file quarantined whole counts its documents
            elif stage is not None and message.startswith(f"stage {stage} failed"):
                yield error_kind(message, stage), 1


def check_error_budget(taken: Counter, failed: Counter, names: list[str], budget: float, quarantine: list[str]) -> None:
    """Stop the run when a stage quarantined more than `budget` of what it took in (documents
    taken in and quarantined by stage name, over one segment's parts)."""
    for name in names:
        check_budget(f"stage {name}", failed[name], taken[name], "documents", budget,
                     lambda name=name: quarantine_errors(quarantine, name), STAGE_REMEDY)
