"""`dataprep explain OUT --id ID`: where one document ended and why, read from a run's output.

Besides the ledger row, every stage's recorded values for the document (OUT/metrics/) are shown
against that stage's thresholds (stats.json), so one sees how close it came to each rule.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from dataprep import metrics, storage
from dataprep import text as textutil
from dataprep.errors import ConfigError
from dataprep.layout import OutputLayout
from dataprep.stages import REGISTRY
from dataprep.stages.base import fails, side_of

SHOWN_LIMIT = 300  # characters of text shown


def find(folder: str | os.PathLike, doc_id: str) -> dict | None:
    """The row of a document in a folder of part files (kept/, removed/, quarantine/, metrics/...)."""
    for path in OutputLayout.parts(os.fspath(folder)):  # one file at a time: shards of different runs' stages have different columns
        fs, inside = storage.resolve(path)
        table = ds.dataset(inside, filesystem=fs).to_table(filter=pc.field("id") == doc_id)
        if table.num_rows:
            return table.to_pylist()[0]
    return None


def ngram_jaccard(a: str, b: str, n: int = 5) -> float:
    hashes, docs = textutil.word_ngram_hashes(pa.array([a, b], pa.large_string()), n)
    x, y = set(hashes[docs == 0].tolist()), set(hashes[docs == 1].tolist())
    return len(x & y) / len(x | y) if x | y else 0.0


def explain(out: OutputLayout | str | os.PathLike, doc_id: str) -> str:
    out = OutputLayout.at(out)
    stats = out.finished_stats()
    kept, removed, quarantined = (find(folder, doc_id) for folder in (out.kept, out.removed, out.quarantine))
    if not (kept or removed or quarantined) and doc_id.startswith("<") and doc_id.endswith(">"):
        doc_id = doc_id[1:-1]  # a WARC-Record-ID as the WARC writes it, `<urn:uuid:...>`: the reader keeps it bare
        kept, removed, quarantined = (find(folder, doc_id) for folder in (out.kept, out.removed, out.quarantine))
    lines = [f"id: {doc_id}"]
    row = kept or removed
    if quarantined:
        lines.append(f"quarantined: {quarantined['error']} (source {quarantined['source']}, row {quarantined['row']})")
        if row is None:
            return "\n".join(lines)
        lines.append("another record with this id (the first: a repeated id is quarantined) went on:")
    if row is None:
        raise ConfigError(f"no document with id {doc_id!r} in {storage.public(out.root)}")
    if removed:
        lines.append(f"removed by stage {removed['stage']}: {removed['reason']}")
        details = json.loads(removed["details"]) if removed.get("details") else {}
        measured = _measured_by_remover(out, stats["stages"], removed)
        for key, value in details.items():
            if key not in measured:  # those are listed with their thresholds below
                lines.append(f"  {key}: {value}")
        other = details.get("duplicate_of")
        if other:
            kept_copy = find(out.kept, other)
            original = kept_copy or find(out.removed, other)
            if original and (removed["text"] is None or original["text"] is None):
                lines.append("  (similarity not measured: the ledger holds no text, ledger_text: none)")
            elif original:  # a kept copy's text is the final one: later stages (pii, line filters) may have changed it
                when = " (its text as kept, after the later stages)" if kept_copy else ""
                similarity = ngram_jaccard(removed["text"], original["text"])
                if getattr(REGISTRY.get(removed["stage"]), "exact_copies", False):
                    lines.append(f"  the same normalized text as {other} when {removed['stage']} compared them"
                                 + (f"; a later stage changed the kept copy since (Jaccard of word 5-grams now {similarity:.3f})"
                                    if similarity < 1 else ""))
                else:
                    lines.append(f"  Jaccard similarity of word 5-grams with {other}{when}: {similarity:.3f}")
            if not kept_copy:
                lines.extend(_surviving_copy(out, other))
    else:
        lines.append("kept: it passed every stage")
    lines.extend(stage_lines(out, stats["stages"], doc_id, removed))
    added = {k: v for k, v in row.items() if k not in ("id", "text", "stage", "reason", "details") and _shown(v)}
    if added:
        lines.append("columns: " + ", ".join(f"{k}={shorten(v)}" for k, v in added.items()))
    text = row["text"]
    if text is None and removed:  # a document's text is never null (read-time check): the ledger did not keep it
        lines.append("text: not recorded (the run's ledger_text: none)")
    else:
        text = text or ""
        lines.append(f"text ({len(text):,} chars): {text[:SHOWN_LIMIT]!r}{' ...' if len(text) > SHOWN_LIMIT else ''}")
    return "\n".join(lines)


def _surviving_copy(out: OutputLayout, doc_id: str) -> list[str]:
    """What became of a duplicate's original when it is not in kept/ (a later stage removed it:
    an exact copy's original found a near duplicate itself): each removal along the chain of
    `duplicate_of`, to the copy that was kept."""
    lines, seen = [], {doc_id}
    while (row := find(out.removed, doc_id)) is not None:
        after = (json.loads(row["details"]) if row.get("details") else {}).get("duplicate_of")
        lines.append(f"  {doc_id} was removed too, by stage {row['stage']}: {row['reason']}"
                     + (f" (a duplicate of {after})" if after else ""))
        if not after or after in seen:
            return lines
        seen.add(after)
        doc_id = after
    return lines + ([f"  the copy kept: {doc_id}"] if find(out.kept, doc_id) else [])


def _shown(value) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def shorten(value) -> str:
    """A value as at most 80 characters of text (for one line of a terminal listing)."""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def stage_lines(out: OutputLayout, stages: list[dict], doc_id: str, removed: dict | None) -> list[str]:
    """Per stage: the decision, then each recorded value against the stage's thresholds."""
    lines = ["stages:"]
    gone = bool(removed and removed["stage"] == "read")  # set aside by the reader: no stage saw it
    for index, stage in enumerate(stages):
        head = f"  {index + 1:>2} {stage['name']} ({stage['kind']})"
        if gone:
            lines.append(f"{head}: not reached")
            continue
        record = find(out.metrics_dir(index, stage["name"]), doc_id)
        reason = record["reason"] if record else (removed["reason"] if removed and removed["stage"] == stage["name"] else None)
        if reason:
            gone = True
        lines.append(f"{head}: {'REMOVED ' + reason if reason else 'passed'}")
        rules = stage.get("thresholds", [])
        for key, value in (record or {}).items():
            if key in metrics.KEYS or not _shown(value):
                continue
            own = [rule for rule in rules if rule["metric"] == key]
            checks = [_check(value, rule, record) for rule in own]
            lines.append(f"       {key} = {_number(value, [_bound(rule, record) for rule in own])}"
                         + (f"   [{'; '.join(checks)}]" if checks else ""))
    return lines


def _measured_by_remover(out: OutputLayout, stages: list[dict], removed: dict) -> set[str]:
    """The metrics the removing stage recorded for the document (empty when it records none)."""
    for index, stage in enumerate(stages):
        if stage["name"] == removed["stage"]:
            record = find(out.metrics_dir(index, stage["name"]), removed["id"])
            if record and record["reason"]:
                return set(record)
    return set()


def _bound(rule: dict, record: dict) -> Any:
    """A threshold's bound for a document (one that varies per document is the document's own,
    recorded beside the value); None when the rule is off for it."""
    bound = record.get(rule["param"]) if rule["bound"] is None else rule["bound"]
    return None if bound is None or (isinstance(bound, float) and np.isnan(bound)) else bound


def _check(value, rule: dict, record: dict) -> str:
    """A value against one threshold of its stage."""
    bound = _bound(rule, record)
    if bound is None:
        return f"{rule['param']}: off for this document"
    sign = side_of(rule["side"]).keeps
    return f"{rule['param']}: needs {sign} {_number(bound)}: {'FAILS' if fails(value, bound, rule['side']) else 'ok'}"


def _number(value, bounds: list = ()) -> str:
    """A value as read by a person; with all the digits it takes to tell it from a bound it is
    compared with (a score of 0.6500001 against 0.65 is not "0.65 ... FAILS")."""
    if isinstance(value, float) and any(b is not None and b != value and _number(b) == _number(value) for b in bounds):
        return repr(value)
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
