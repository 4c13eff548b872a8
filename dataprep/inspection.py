"""`dataprep inspect PIPELINE.yaml --stage NAME --sample N`: one stage's effect on a sample.

The first N documents of the pipeline's input go through the stages before NAME, in this process
(a global stage among them resolves on the embedded Ray, over the sample only), then through NAME;
the documents it rewrote are printed as a line diff and those it removed with their reason and
measured values. Nothing is written to the pipeline's output folder: stages that write files of
their own (tokenizer, tokens) write into a temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import tempfile
from collections import Counter

import numpy as np
import pyarrow as pa

from dataprep import documents, ledger, resolution, runtime, storage
from dataprep.errors import ConfigError
from dataprep.layout import OutputLayout
from dataprep.explain import shorten
from dataprep.pipeline import Pipeline
from dataprep.stage_runner import PartResolution, apply_isolating, global_keys, run_stage
from dataprep.stages.base import Global, Stage, TextBatch

DIFF_LINES = 40  # diff lines shown per changed document
REMOVED_CHARS = 400  # characters of a removed document shown


def inspect(pipeline: Pipeline, stage_name: str, sample: int) -> str:
    names = [s.name for s in pipeline.stages]
    if stage_name.isdigit() and 1 <= int(stage_name) <= len(names):
        target = int(stage_name) - 1
    elif stage_name in names:
        target = names.index(stage_name)
    else:
        raise ConfigError(f"no stage {stage_name!r} in the pipeline; its stages: "
                          f"{', '.join(f'{i}. {n}' for i, n in enumerate(names, start=1))} (a name or a position)")
    if sample < 1:
        raise ConfigError(f"--sample must be at least 1, not {sample}")
    stages = pipeline.stages[:target + 1]
    opts = pipeline.options
    if not opts.input:
        raise ConfigError("no input: give --input or an 'input' key in the pipeline")
    read: Counter = Counter()
    batch = _sample(opts.input, opts.input_format, opts.text_column, opts.max_doc_bytes, sample, read)
    needs_ray = any(isinstance(s, Global) for s in stages)
    source = storage.public(opts.input)
    with tempfile.TemporaryDirectory(prefix="dataprep-inspect-") as scratch, \
            (runtime.session(opts.ray_address) if needs_ray else contextlib.nullcontext()):
        for stage in stages:
            stage.bind(OutputLayout.of(scratch))
            stage.setup()
        quarantined: list[dict] = []
        for stage in stages[:-1]:
            batch = run_stage(stage, batch, ledger.StageCounts(stage.name, stage.kind), [], quarantined, source,
                              _resolution(stage, batch, scratch))
        stage = stages[-1]
        decisions, failures = apply_isolating(stage, batch, source, _resolution(stage, batch, scratch))
    set_aside = f", {read['set aside']} set aside by the reader" if read["set aside"] else ""
    again = names.count(stage.name) > 1 and not stage_name.isdigit()
    header = [f"{stage.name} ({stage.kind}), stage {target + 1} of {len(names)}"
              + (f" (the first {stage.name}: --stage with a position names another)" if again else "") + f": {read['records']} records read "
              f"({read['quarantined']} quarantined{set_aside}), {batch.num_rows} reached it ({len(quarantined)} quarantined by the stages before it)"]
    if decisions is None:
        return "\n".join(header + [f"  every document failed: {failures[0]['error']}" if failures else ""])
    return "\n".join(header + _changes(stage, batch, decisions, failures))


def _sample(spec: str, input_format: str, text_column: str, max_doc_bytes: int, limit: int, tally: Counter) -> TextBatch:
    """The documents among the first `limit` records of the input, read as a run reads them (a
    column of different types in different files as text); `tally` counts what the read set apart."""
    tables = list(documents.read_documents(spec, text_column, limit, input_format, max_doc_bytes, tally))
    if not tables:
        raise ConfigError(f"no readable documents in {storage.public(spec)}")
    try:
        return TextBatch(pa.concat_tables(tables, promote_options="permissive"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a column of other types in other files (a run keeps such parts apart)
        types: dict[str, set[pa.DataType]] = {}
        for table in tables:
            for field in table.schema:
                types.setdefault(field.name, set()).add(field.type)
        tables = [pa.table({n: documents.as_text(t.column(n).to_pylist()) if len(types[n]) > 1 else t.column(n) for n in t.column_names})
                  for t in tables]
        return TextBatch(pa.concat_tables(tables, promote_options="permissive"))


def _resolution(stage: Stage, batch: TextBatch, scratch: str) -> PartResolution | None:
    """A global stage's corpus-wide result over the sample (on the embedded Ray, its shuffles'
    files in `scratch`); None otherwise."""
    if not isinstance(stage, Global):
        return None
    keys, unkeyed = global_keys(stage, [batch.table])
    keys = keys.append_column("part", pa.array([0] * keys.num_rows, pa.int32()))  # the sample is one part
    with resolution.shuffles(storage.join(scratch, "shuffle"), f"{stage.name} over the sample"):
        decisions = stage.resolve(runtime.data().from_arrow(keys) if keys.num_rows else None, 2)
        tables = [t for t in decisions.iter_batches(batch_format="pyarrow")] if decisions is not None else []
    return PartResolution(pa.concat_tables(tables).drop_columns(["part"]) if tables else stage.DECISIONS.empty_table(), unkeyed)


def _changes(stage: Stage, before: TextBatch, decisions, failures: list[dict]) -> list[str]:
    after = decisions.batch
    reasons = decisions.reasons
    ids = after.table.column("id").to_pylist()
    given = dict(zip(before.table.column("id").to_pylist(), before.text.to_pylist()))
    # by id: the stage's batch lacks the documents it failed on (quarantined), so positions differ
    old, new = [given[i] for i in ids], after.text.to_pylist()
    removed = reasons != None  # noqa: E711 (elementwise)
    changed = np.array([a != b for a, b in zip(old, new)]) & ~removed
    counts = Counter(reasons[removed].tolist())
    added = [c for c in after.table.column_names if c not in before.table.column_names]
    lines = [f"  kept {int((~removed).sum())} ({int(changed.sum())} with their text changed), removed {int(removed.sum())}"
             + "".join(f", {r} {n}" for r, n in counts.most_common()) + (f", quarantined {len(failures)}" if failures else "")]
    if added:
        lines.append(f"  columns added: {', '.join(added)}")
    for i in np.flatnonzero(removed | changed):
        if removed[i]:
            facts = json.dumps(decisions.details[i], ensure_ascii=False) if decisions.details[i] else ""
            text = old[i] or ""
            lines.append(f"\n--- REMOVED {ids[i]}: {reasons[i]} {facts}")
            lines.extend("  - " + line for line in text[:REMOVED_CHARS].splitlines())
            if len(text) > REMOVED_CHARS:
                lines.append(f"  ... ({len(text):,} characters)")
            continue
        extra = "".join(f" {c}={shorten(json.dumps(after.table.column(c)[i].as_py(), ensure_ascii=False, default=str))}" for c in added)
        lines.append(f"\n~~~ CHANGED {ids[i]}:{extra}")
        lines.extend(_what_changed(old[i] or "", new[i] or ""))
    for record in failures:
        lines.append(f"\n!!! QUARANTINED {record.get('id')}: {record['error']}")
    return lines


def _what_changed(old: str, new: str) -> list[str]:
    """A line diff of an edited text; a text made anew (most of its lines in no line before, as
    `extract` makes text of HTML) shown as it now is, where a diff buried it among hundreds of
    removed lines of markup."""
    before, after = old.splitlines(), new.splitlines()
    kept = set(before)
    if after and sum(line in kept for line in after) < len(after) / 2:
        shown = [f"  | {line}" for line in after[:DIFF_LINES]]
        more = f"  ... ({len(after) - DIFF_LINES} more lines)" if len(after) > DIFF_LINES else None
        return [f"  text made anew from {len(old):,} characters; it now reads ({len(new):,} characters):", *shown, *([more] if more else [])]
    diff = list(difflib.unified_diff(before, after, lineterm="", n=0))[2:]
    return ["  " + line for line in diff[:DIFF_LINES]] + ([f"  ... ({len(diff) - DIFF_LINES} more diff lines)"] if len(diff) > DIFF_LINES else [])
