"""Execute a pipeline: plan parts, check ids corpus-wide, run the fused stages, account for all.

The unit of work is a *part* (a few row groups of one input file). Ray runs one task
per part; inside it, the per-document stages run fused over Arrow batches (each stage's word and
line splits shared through `TextBatch`) and the part's kept, removed and quarantined documents
are written as three Parquet shards, then a completion marker with its counts. A killed run
started again skips the parts that have a marker and redoes the others (writes are atomic and
named by part, so redoing one is idempotent).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from dataprep import __version__, documents, ledger, outputs, resolution, runtime, storage
from dataprep.documents import Part
from dataprep.errors import ConfigError, StageOverBudget, TaskCrashed
from dataprep.layout import OutputLayout
from dataprep.pipeline import Pipeline, build_stage
from dataprep.progress import Progress
from dataprep.stage_runner import PartResolution, global_keys, run_stage
from dataprep.stages.base import Global, Stage, TextBatch


def run(pipeline: Pipeline, overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Run `pipeline` to completion (or resume it) and return its stats (also in stats.json)."""
    opts = pipeline.options
    if not opts.input:
        raise ConfigError("no input: give --input or an 'input' key in the pipeline")
    if not opts.output:
        raise ConfigError("no output folder: give --output or an 'output' key in the pipeline")
    started = time.time()
    files, passed_over, unread = documents.discover_all(opts.input, opts.input_format)
    if passed_over:
        print(f"dataprep: {storage.public(opts.input)} holds tables and {len(passed_over)} raw web files (e.g. "
              f"{storage.public(passed_over[0])}): reading the tables; --input-format warc, wet or html reads the others", file=sys.stderr)
    if unread and opts.input_format != "auto":  # said when a format is declared: the folder was meant to be of it
        print(f"dataprep: passed over {len(unread)} file(s) in {storage.public(opts.input)} whose names end in no suffix of "
              f"--input-format {opts.input_format} (e.g. {storage.public(unread[0])})", file=sys.stderr)
    identity = _identity(pipeline, files)
    layout = OutputLayout.of(opts.output, opts.work_dir, identity["fingerprint"])
    _check_apart(opts.input, files, layout)
    _prepare_output(layout, identity, overwrite)
    parts, file_quarantine = documents.plan(files, opts.text_column, opts.part_bytes, opts.limit, opts.input_format,
                                            documents.input_folder(opts.input))
    planned = {file: (size, mtime) for file, (_, size, mtime) in zip(files, identity["inputs"])}
    parts = [replace(p, versions=tuple(planned[path] for path in ([q for q, _ in p.bundle] if p.bundle else [p.path])))
             for p in parts]
    segments = _segments(pipeline)
    committed = set(storage.name(m) for m in layout.parts(layout.markers, "*.json"))
    resumed = committed  # the parts an interrupted run of this output had finished
    if all(layout.marker_name(index, part.key) in committed for index in range(len(segments)) for part in parts) \
            and storage.exists(layout.stats_json):  # written last: this very run has finished; keep its record
        finished = layout.finished_stats()
        mtime = storage.info(layout.stats_json).mtime
        finished_at = mtime.astimezone().strftime("%Y-%m-%d %H:%M:%S") if mtime else "an earlier run"
        if not storage.exists(layout.report_html):  # stopped between stats.json and the report
            _write_report(layout)
        return {**finished, "already_finished": True, "finished": finished_at}
    if file_quarantine:
        storage.write_parquet(pa.Table.from_pylist(file_quarantine, documents.QUARANTINE_SCHEMA), layout.plan_quarantine)
    if not storage.exists(layout.accepted(0)):  # reading is judged with segment 0, once (its files here, before any part runs)
        _check_files_read(file_quarantine, len(files), opts.error_budget)
    for stage in pipeline.stages:
        stage.bind(layout)
    with runtime.session(opts.ray_address, opts.num_cpus):
        attempts = _record_attempt(layout, started)  # once Ray is up: a command that never reached it attempted nothing
        duplicates = _duplicate_ids(parts, files, opts.text_column, opts.batch_rows, layout.ids_dir, layout.shuffle_dir)
        runtime.release_memory()  # after each phase: what the allocators kept of it (see there)
        bars = Progress([s.name for s in pipeline.stages], sum(p.max_rows or p.num_rows or 0 for p in parts)) if progress else None
        phase_seconds: dict[int, float] = {}
        first_stage = 0
        policy = ledger.text_policy(opts.ledger_text, [s.name for s in pipeline.stages], pipeline.specs)
        for index, segment in enumerate(segments):
            following = segments[index + 1][0] if index + 1 < len(segments) else None
            config = RunConfig(specs=tuple(spec for _, spec in segment), segment=index, last=index == len(segments) - 1,
                               first_stage=first_stage, layout=layout, text_column=opts.text_column,
                               batch_rows=opts.batch_rows, max_doc_bytes=opts.max_doc_bytes, ledger=policy,
                               duplicates=duplicates if index == 0 else None,
                               next_keys=following[1] if following and isinstance(following[0], Global) else None)
            if index:  # the parts this segment has left to run must find what the last one kept
                _check_work_kept(layout, index - 1, [p for p in parts if layout.marker_name(index, p.key) not in resumed], resumed)
            head = segment[0][0]
            if isinstance(head, Global):
                resolution, phase_seconds[first_stage] = _global_phases(head, parts, config, bars)
                config = replace(config, resolution=resolution)
                runtime.release_memory()
            committed = set(storage.name(m) for m in layout.parts(layout.markers, f"s{index}-*.json"))
            todo = [(i, p) for i, p in enumerate(parts) if layout.marker_name(index, p.key) not in committed]
            if bars and todo:
                bars.segment(index, len(segments), len(todo), len(parts))
            _execute(todo, config, bars)
            if not storage.exists(layout.accepted(index)):  # judged once: an accepted segment's documents went on, whatever the budget now
                _check_error_budget(layout, index, parts, [s for s, _ in segment], opts.error_budget, file_quarantine)
                storage.write_json({"error_budget": opts.error_budget}, layout.accepted(index))
            runtime.release_memory()
            first_stage += len(segment)
        if bars:
            bars.close()
        stage_outputs = {s.name: figures for s in pipeline.stages if (figures := s.finish()) is not None}
        cluster = runtime.describe()
    schema_note = outputs.unify_parts(layout.kept, layout.removed)
    for folder in (layout.kept, layout.removed, layout.quarantine):  # each read as a (maybe empty) dataset, as README shows
        storage.make_dirs(folder)
    stats = _summarise(pipeline, files, parts, file_quarantine, layout, len(segments), attempts, phase_seconds)
    stats["ray"] = cluster
    if passed_over or unread:
        stats["input"]["passed_over"] = len(passed_over) + len(unread)
    if schema_note:
        stats["schema_note"] = schema_note
    if stage_outputs:
        stats["outputs"] = stage_outputs
    for position, (entry, stage) in enumerate(zip(stats["stages"], pipeline.stages)):
        # with the other bounds the report's tuning table tries, each None where the stage refuses it
        entry["thresholds"] = [{**t._asdict(), **({} if (tried := pipeline.alternatives(position, t)) is None else {"alternatives": tried})}
                               for t in stage.threshold_rules()]
    storage.write_json(stats, layout.stats_json)
    runtime.release_memory()
    _write_report(layout)
    if not opts.keep_work:  # a rerun finds the run finished from its markers and stats.json alone; left in
        storage.delete_tree(layout.work)  # place, each segment's copy of a 10 TB corpus stayed in the store
    return stats


def _write_report(layout: OutputLayout) -> None:
    from dataprep import report  # here: a worker unpickling this module's tasks need not import the report (pyarrow.dataset, pandas)

    report.write(layout)


def _check_apart(input_spec: str, files: list[str], layout: OutputLayout) -> None:
    """The output and work folders must not hold the input, nor lie inside its folder: a run would
    write over its input (and --overwrite delete it), or a rerun read its own output."""
    prefix = input_spec.split("*")[0].split("?")[0].split("[")[0] if input_spec else ""
    glob_folder = prefix if prefix.endswith(("/", os.sep)) else storage.parent(prefix)  # `in/*.parquet`, `in/shard-*`
    base = storage.real(storage.normalize(glob_folder if prefix != input_spec else prefix)) if prefix else ""
    resolved = storage.real_files(files)  # as the layout's folders are: where their links lead
    for folder, what in ((layout.root, "--output"), (layout.work, "--work-dir")):
        held = next((f for f, r in zip(files, resolved) if storage.within(r, folder)), None)
        if held is not None:
            raise ConfigError(f"{what} {storage.public(folder)} holds the input file {storage.public(held)}; "
                              "choose a folder apart from the input (--overwrite would delete it)")
        if base and storage.is_dir(base) and storage.within(folder, base):
            raise ConfigError(f"{what} {storage.public(folder)} lies inside the input folder {storage.public(base)}: "
                              "a rerun would read the run's own output; choose a folder apart from the input")
    # inside another run's output: its kept/ or removed/ read as a dataset would take in this run's files
    outer = next((folder for folder in storage.ancestors(layout.root) if _holds_a_run(folder)), None)
    if outer is not None:
        raise ConfigError(f"--output {storage.public(layout.root)} lies inside the output of another run, {storage.public(outer)}: "
                          "reading that run's folders would read this one's files; choose a folder apart from it")


def _holds_a_run(folder: str) -> bool:
    """Whether a folder is a run's output. One the store will not let us look into (access granted
    only to a prefix below it) counts as none: this check must not stop a run the store allows."""
    try:
        return storage.is_file(OutputLayout.at(folder).run_json)
    except OSError:
        return False


#: parts of a resumed segment whose previous segment's documents are looked for in the work folder
WORK_CHECKS = 3


def _check_work_kept(layout: OutputLayout, segment: int, parts: list[Part], resumed: set[str]) -> None:
    """On a resume, the work folder must still hold what the interrupted run's segment kept of `parts`
    (a cleaned scratch disk would otherwise read as parts that kept nothing; another --work-dir is
    refused before, by run.json's record). A few such parts are looked at (WORK_CHECKS): a lost folder lacks them all."""
    done = [p for p in parts if layout.marker_name(segment, p.key) in resumed]
    checked = 0
    for part in done:
        passed = storage.read_json(layout.marker(segment, part.key))["stages"][-1]["kept"]
        if not passed:
            continue
        if not storage.exists(layout.segment_part(segment, part.key)):
            raise ConfigError(f"the work folder {storage.public(layout.work)} lacks what the interrupted run kept of part {part.key} "
                              f"({passed} documents): it was cleaned since; rerun with --overwrite to start again")
        checked += 1
        if checked == WORK_CHECKS:
            return


@dataclass(frozen=True)
class RunConfig:
    """What every Ray task of one segment needs: pickled into each task, never changed there."""

    specs: tuple[dict[str, Any], ...]  # the segment's stages as [{name: params}] (secrets included)
    segment: int
    last: bool  # the last segment writes kept/; the others write the work folder
    first_stage: int  # position in the pipeline of the segment's first stage
    layout: OutputLayout
    text_column: str
    batch_rows: int
    max_doc_bytes: int
    ledger: dict[str, Any]  # ledger.text_policy
    duplicates: str | None = None  # segment 0: the folder of each part's repeated ids (_duplicate_ids)
    resolution: str | None = None  # a global stage's folder of per-part decisions
    next_keys: dict[str, Any] | None = None  # the next segment's global stage: its keys of what this segment keeps


def _segments(pipeline: Pipeline) -> list[list[tuple[Stage, dict[str, Any]]]]:
    """(stage, spec) pairs grouped into segments: runs of per-document stages (fused), and each global stage alone."""
    segments: list[list[tuple[Stage, dict[str, Any]]]] = []
    for stage, spec in zip(pipeline.stages, pipeline.specs):
        if isinstance(stage, Global) or not segments or isinstance(segments[-1][0][0], Global):
            segments.append([(stage, spec)])
        else:
            segments[-1].append((stage, spec))
    return segments


def _build(specs: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[Stage]:
    return [build_stage(name, params, name) for spec in specs for name, params in spec.items()]


def _identity(pipeline: Pipeline, files: list[str]) -> dict[str, Any]:
    """What makes two runs the same run: stages, options that change output, input files and
    the files stages read (written to run.json: URIs as storage.public gives them)."""
    opts = {k: storage.public(v) if k == "input" and v else v for k, v in asdict(pipeline.options).items()
            if k not in ("ray_address", "num_cpus", "output", "work_dir", "error_budget", "keep_work")}
    body = {"stages": pipeline.public_specs(), "options": opts, "inputs": _versions(files)}
    if stage_files := _stage_files(pipeline):  # only then: a run whose stages read no file keeps its fingerprint of 0.2.3
        body["stage_files"] = stage_files
    # the files, not how --input spelled them (a trailing slash, a glob): recorded, not hashed
    hashed = {**body, "options": {k: v for k, v in opts.items() if k != "input"}}
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {"fingerprint": digest, "pipeline": pipeline.options.name, "version": __version__, **body}


def _versions(files: list[str]) -> list[list[Any]]:
    """[file, size, mtime_ns] of each file: which version of it a run read."""
    return [[storage.public(f), i.size, i.mtime_ns] for f, i in zip(files, storage.each(storage.info, files))]


def _stage_files(pipeline: Pipeline) -> list[list[Any]]:
    """[stage, file, size, mtime_ns] of every file the stages read (each file of a folder)."""
    named = [(stage.name, file) for stage in pipeline.stages for path in stage.read_files()
             for file in (storage.walk(path) if storage.is_dir(path) else [path])]
    return [[name, *version] for (name, _), version in zip(named, _versions([file for _, file in named]))]


def _prepare_output(layout: OutputLayout, identity: dict[str, Any], overwrite: bool) -> None:
    out = storage.public(layout.root)
    if storage.is_file(layout.root):
        raise ConfigError(f"output {out} is a file, not a folder; choose a folder for --output")
    if overwrite:
        if (replaced := _recorded_run(layout)).get("fingerprint"):
            _delete_replaced_work(_replaced_work(layout, replaced))
        storage.delete_tree(layout.root)
    elif storage.list_files(layout.root):
        if not storage.exists(layout.run_json):
            raise ConfigError(f"output folder {out} is not empty and holds no dataprep run; choose another --output or pass --overwrite")
        previous = _recorded_run(layout)
        if not previous:
            raise ConfigError(f"output folder {out} holds a damaged run.json; pass --overwrite to start again")
        if previous.get("version") != identity["version"] and not storage.exists(layout.stats_json):
            # an unfinished run of another version: its parts and this version's may differ (ids, columns, decisions)
            raise ConfigError(f"output folder {out} holds a run started by dataprep {previous.get('version')}, and this is "
                              f"{identity['version']}: a resume would mix their outputs; finish it with that version, "
                              "or pass --overwrite to start again")
        if previous.get("fingerprint") != identity["fingerprint"]:
            raise ConfigError(f"output folder {out} holds a different run (pipeline {previous.get('pipeline')!r}, "
                              f"fingerprint {previous.get('fingerprint')}{_what_differs(previous, identity)}); choose another "
                              "--output or pass --overwrite")
        if previous.get("work_dir") != layout.work_dir and not storage.exists(layout.stats_json):
            # before any part runs: a resume that wrote its parts' documents to another work folder lost them to the next segment
            raise ConfigError(f"output folder {out} holds an unfinished run that kept its work under {_named(previous.get('work_dir'))}, "
                              f"and this command gives {_named(layout.work_dir)}; run it with the interrupted run's, or pass "
                              "--overwrite to start again")
        for folder in {layout.root, layout.work}:
            storage.delete_leftovers(folder)  # half-written by a killed attempt
        return  # the same run: resume it
    if not layout.work_is_inside:  # left by a run of this output deleted by hand: another run's, stale (its tokenizer gone)
        storage.delete_tree(layout.work)
    storage.write_json({**identity, "work_dir": layout.work_dir}, layout.run_json)


def _what_differs(previous: dict[str, Any], identity: dict[str, Any]) -> str:
    """What sets a recorded run apart from this one (`_identity`'s parts), said first where it is
    a file: the same pipeline over a changed input read as a mystery ("a different run")."""
    def versions(record: dict[str, Any], key: str) -> dict[str, list[Any]]:
        return {entry[-3]: entry[-2:] for entry in record.get(key) or []}  # file -> [size, mtime_ns]

    for key, what in (("inputs", "input file"), ("stage_files", "file a stage reads")):
        before, now = versions(previous, key), versions(identity, key)
        changed = sorted(f for f in before.keys() | now.keys() if before.get(f) != now.get(f))
        if changed:
            more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
            return f": {what} {changed[0]}{more} changed, came or went since"
    if previous.get("stages") != identity["stages"]:
        return ": other stages or parameters"
    options = [k for k in identity["options"] if k != "input" and (previous.get("options") or {}).get(k) != identity["options"][k]]
    return f": other {', '.join(options)}" if options else ""


def _recorded_run(layout: OutputLayout) -> dict[str, Any]:
    """The output's run.json, or {} when there is none or it is damaged (cut short, not an object)."""
    try:
        recorded = storage.read_json(layout.run_json) if storage.exists(layout.run_json) else {}
    except ValueError:
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _delete_replaced_work(work: str) -> None:
    try:
        storage.delete_tree(work)
    except OSError as exc:
        raise OSError(f"--overwrite could not delete the replaced run's work folder {storage.public(work)} (run.json's "
                      f"work_dir): {exc}") from None


def _named(work_dir: str | None) -> str:
    return f"--work-dir {storage.public(work_dir)}" if work_dir else "no --work-dir (inside the output)"


def _replaced_work(layout: OutputLayout, replaced: dict[str, Any]) -> str:
    """The work folder of the run --overwrite replaces: the one named by its fingerprint and this
    output, under the --work-dir its run.json records (that run may have had another, or none)."""
    work_dir = replaced.get("work_dir", layout.work_dir)  # (run.json of 0.2.1 and before: no record; unfinished, refused)
    return OutputLayout.of(layout.root, work_dir, replaced["fingerprint"]).work


#: an input of at most this many rows, all in Parquet files or HTML files, has its ids checked on
#: the driver, in one table (28 bytes a row): an id column, or a file name, is cheap to read, and a
#: task of the Ray pass would hold as many rows (resolution.PARTITION_ROWS), so no process holds more
DRIVER_ID_ROWS = resolution.PARTITION_ROWS


def _duplicate_ids(parts: list[Part], files: list[str], text_column: str, batch_rows: int, folder: str, shuffle_folder: str) -> str:
    """Find the ids that occur more than once in the input; returns the folder where, per part,
    the repeated ids it holds are written with their first location (`_part_duplicate_ids`).

    A hash-partitioned group-by on Ray Data over 128-bit id digests (two int64), so no process
    holds all ids, and each part's task later reads only its own repeated ids. A small input whose
    ids are cheap to read (`DRIVER_ID_ROWS`) is checked on the driver instead, with the same sort
    over one table (resolution.repeated): the same result without a pass of Ray tasks before the
    first stage. The ids are read by as many tasks as the shuffle has partitions (consecutive
    parts each; see _parquet_dataset for why), or one per part when the parts' row counts are not
    known before reading (gzipped WARC, JSONL): `n` then says nothing of their size.
    """
    if resolution.finished(folder):
        return folder
    rows = sum(p.max_rows or p.num_rows or len(p.bundle or ()) for p in parts)
    if all(p.bundle is not None or (p.row_groups is not None and p.num_rows is not None) for p in parts) and rows <= DRIVER_ID_ROWS:
        digests = [_part_id_digests(p, i, text_column, batch_rows) for i, p in enumerate(parts)]
        repeated = _repeated_ids(pa.concat_tables(digests), files) if digests else None
        resolution.write_decisions_table(repeated, folder, [p.key for p in parts])
        return folder
    n = resolution.partitions(rows)
    items = [{"part": json.dumps(asdict(p)), "index": i} for i, p in enumerate(parts)]
    known = all(p.max_rows or p.num_rows is not None or p.bundle is not None for p in parts)
    readers = max(1, min(len(items), n) if known else len(items))
    digests = resolution.ray_map(runtime.data().from_items(items, override_num_blocks=readers), _id_digests, batch_size=1,
                                 text_column=text_column, batch_rows=batch_rows)
    with resolution.shuffles(shuffle_folder, "the id check"):
        repeated = resolution.by_hash(digests, ["high", "low"], _repeated_ids, n, files=files) if parts else None
        resolution.write_decisions(repeated, folder, [p.key for p in parts], n)
    return folder


_ID_SCHEMA = pa.schema([("part", pa.int32()), ("high", pa.int64()), ("low", pa.int64()), ("loc", pa.int64())])


def _id_digests(batch: pa.Table, text_column: str, batch_rows: int) -> pa.Table:
    """Every readable row's id digest and location, with its part's index (a Ray Data batch of parts)."""
    return pa.concat_tables([_part_id_digests(Part(**json.loads(text)), index, text_column, batch_rows)
                             for text, index in zip(batch["part"].to_pylist(), batch["index"].to_pylist())])


def _part_id_digests(part: Part, index: int, text_column: str, batch_rows: int) -> pa.Table:
    keys, locations = documents.part_ids(part, text_column, batch_rows)
    halves = np.frombuffer(bytes.fromhex("".join(keys)), dtype=np.int64).reshape(-1, 2)
    return pa.table({"part": np.full(len(keys), index, np.int32), "high": halves[:, 0], "low": halves[:, 1],
                     "loc": np.asarray(locations, np.int64)}, schema=_ID_SCHEMA)


def _repeated_ids(digests: pa.Table, files: list[str]) -> pa.Table:
    """The rows of one hash partition whose id occurs more than once, each with the id's first
    location and that location's file."""
    taken, group, _ = resolution.repeated(digests["high"].to_numpy(), digests["low"].to_numpy())
    rows = digests.take(pa.array(taken))
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else np.empty(0, np.int64)
    first = np.repeat(np.minimum.reduceat(rows["loc"].to_numpy(), starts), np.diff(np.r_[starts, len(group)])) if len(group) \
        else np.empty(0, np.int64)
    return pa.table({"part": rows["part"], "high": rows["high"], "low": rows["low"], "first": first,
                     "first_file": pa.array([storage.public(files[f >> 40]) for f in first.tolist()], pa.string())})


def _part_duplicate_ids(folder: str | None, part: Part) -> tuple[dict[str, int], dict[int, str]]:
    """The repeated ids of one part (their digests as documents.id_keys spells them) -> first
    location, and the files of those locations."""
    if folder is None:
        return {}, {}
    table = resolution.part_decisions(folder, part.key, pa.schema([("high", pa.int64()), ("low", pa.int64())]))
    if table.num_rows == 0:
        return {}, {}
    digests = np.stack([table["high"].to_numpy(), table["low"].to_numpy()], axis=1).tobytes().hex()
    keys = [digests[i:i + 32] for i in range(0, len(digests), 32)]
    firsts = table["first"].to_pylist()
    return dict(zip(keys, firsts)), {f >> 40: path for f, path in zip(firsts, table["first_file"].to_pylist())}


def _execute(parts: list[tuple[int, Part]], config: RunConfig, bars: Progress | None) -> None:
    """One Ray task per part (with its index in the plan); the bars move as parts finish."""
    for stats in _on_workers(process_part, [(p, i) for i, p in parts], config):
        if bars:
            bars.update(stats)


#: how long the driver waits inside Ray at a time for a task to finish (signals wait for Python)
WAIT_SECONDS = 0.05


def _on_workers(fn: Callable[..., Any], calls: list[tuple[Any, ...]], config: RunConfig) -> Iterator[Any]:
    """`fn(*call, config)` for every call, each a Ray task of one CPU, at most two per CPU of the
    cluster in flight; results as the tasks finish.

    Plain Ray tasks rather than a Ray Data map: a list of parts gains nothing from Ray Data's
    streaming executor, whose actors (its stats and autoscaling coordinator, two more worker
    processes importing Ray Data) cost a run seconds before its first part. Like Ray Data's map
    tasks, they are retried when their worker or node dies; a part's writes are idempotent and
    its marker is written last, so a retry redoes it whole. Unlike Ray Data's map (which retries
    without limit), a part that kills its worker on every one of CRASH_RETRIES retries stops the
    run with one line naming it, instead of running forever.
    """
    import ray

    from dataprep.runtime import CRASH_RETRIES, killed_its_worker, worker_lost

    task = ray.remote(num_cpus=1, max_retries=CRASH_RETRIES)(fn)
    shared = ray.put(config)
    in_flight = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    waiting, pending, calls_of = list(reversed(calls)), [], {}
    while waiting or pending:
        while waiting and len(pending) < in_flight:
            call = waiting.pop()
            pending.append(task.remote(*call, shared))
            calls_of[pending[-1]] = call
        done = []
        while not done:  # back in Python every WAIT_SECONDS: a SIGTERM is acted on at once, before Ray's own reaction to its
            done, pending = ray.wait(pending, num_returns=1, timeout=WAIT_SECONDS)  # processes' deaths can end this one
        try:
            yield ray.get(done[0])
        except worker_lost() as exc:
            part = calls_of[done[0]][0]
            raise TaskCrashed(killed_its_worker(f"part {part.key} ({storage.public(part.path)})", exc)
                              + "; fix the cause (memory, or the input) and rerun to resume") from None
        del calls_of[done[0]]


#: markers the driver reads per round, in parallel (storage.each): it holds this many at a time
MARKERS_AT_ONCE = 1024


def _markers(layout: OutputLayout, segment: int, parts: list[Part]) -> Iterator[tuple[Part, dict[str, Any]]]:
    """Each part's marker of the segment, read MARKERS_AT_ONCE at a time in parallel."""
    for start in range(0, len(parts), MARKERS_AT_ONCE):
        chunk = parts[start:start + MARKERS_AT_ONCE]
        yield from zip(chunk, storage.each(storage.read_json, [layout.marker(segment, p.key) for p in chunk]))


def _check_files_read(file_quarantine: list[dict[str, Any]], files: int, budget: float) -> None:
    """Stop when more than the budget's share of the input files were quarantined whole at
    planning (no Parquet footer, no text column), before any part runs."""
    ledger.check_budget("reading the input", len(file_quarantine), files, "files", budget,
                        lambda: ((ledger.error_kind(q["error"].replace(q["source"], "<file>"), None), 1) for q in file_quarantine),
                        ledger.READ_REMEDY)


def _check_error_budget(layout: OutputLayout, segment: int, parts: list[Part], stages: list[Stage], budget: float,
                       file_quarantine: list[dict[str, Any]]) -> None:
    """Stop over the budget (ledger.check_error_budget; in segment 0, reading the input first: the
    documents quarantined among those read, with the rows of the files quarantined whole at
    planning, and without the WARC records set aside as no page, which are not read as
    documents), uncommitting the parts that quarantined: the same command then does them again,
    so a fixed stage processes their documents."""
    taken: Counter = Counter()
    failed: Counter = Counter()
    quarantining = []
    file_rows = sum(q["rows"] or 0 for q in file_quarantine)
    read, read_failed = file_rows, file_rows
    for part, marker in _markers(layout, segment, parts):
        read += marker["docs"] - sum(marker.get("read_removed", {}).values())
        read_failed += marker["read_quarantined"]
        for stage in marker["stages"]:
            taken[stage["name"]] += stage["in"]
            failed[stage["name"]] += stage["quarantined"]
        if marker["read_quarantined"] or any(stage["quarantined"] for stage in marker["stages"]):
            quarantining.append(part)
    quarantine = layout.parts(layout.quarantine, f"part-*-s{segment}.parquet")
    try:
        if segment == 0:
            plan = [layout.plan_quarantine] if file_quarantine else []
            ledger.check_budget("reading the input", read_failed, read, "documents", budget,
                                lambda: ledger.quarantine_errors(plan + quarantine, None), ledger.READ_REMEDY)
        ledger.check_error_budget(taken, failed, [s.name for s in stages], budget, quarantine)
    except StageOverBudget:
        keyed = isinstance(stages[0], Global)
        unkeyed = [path for path in (layout.keys_part(segment, p.key) for p in quarantining) if keyed and _unkeyed(path)]
        if unkeyed:  # keys failed: once fixed, the stage keys those documents, which changes its resolution, so every part is redone
            storage.each(storage.delete, unkeyed)
            storage.delete_tree(layout.decisions_dir(segment))
            quarantining = parts
        storage.each(storage.delete, [layout.marker(segment, part.key) for part in quarantining])
        raise


def _global_phases(stage: Global, parts: list[Part], config: RunConfig, bars: Progress | None = None) -> tuple[str, float]:
    """Keys and resolve phases of a global stage; returns the folder of its per-part decisions
    and the phases' wall time (kept across a resume in the work folder, so a resumed run reports
    the whole time).

    Keys: every part's documents (as the previous segment kept them) -> the stage's small
    per-document records with the part's index, one Parquet file per part (kept across a
    resume). The previous segment's tasks write them as they write what they keep
    (`RunConfig.next_keys`), so this pass reads only the parts that have none: all of them when
    the stage opens the pipeline, none otherwise (unless resuming a run of an older version). Resolve: the stage's shuffles over all records as one Ray Data dataset, ending in
    per-document decisions written one file per part (dataprep/resolution.py); a stage that
    `resolves_tables`, with keys that fit one shuffle partition (resolution.PARTITION_ROWS rows,
    PARTITION_BYTES bytes in Arrow, as the keys writer recorded them), resolves them on the driver as that one partition instead. Otherwise the driver holds file
    names and row counts only.
    """
    started = time.perf_counter()
    layout, segment = config.layout, config.segment
    folder = layout.decisions_dir(segment)
    if not resolution.finished(folder):
        done = set(layout.parts(layout.keys_dir(segment)))
        todo = [(i, p) for i, p in enumerate(parts) if layout.keys_part(segment, p.key) not in done]
        for done_now, _ in enumerate(_on_workers(_keys_of_part, [(p, i) for i, p in todo], config), 1):
            if bars:
                bars.phase(stage.name, f"keys of parts {len(parts) - len(todo) + done_now}/{len(parts)}", done_now == len(todo))
        key_files = [layout.keys_part(segment, p.key) for p in parts]
        sizes = storage.each(_rows_and_arrow_bytes, key_files)  # footers are ~15 KB each: only their figures are kept
        file_rows, size = [rows for rows, _ in sizes], sum(nbytes for _, nbytes in sizes)
        rows = sum(file_rows)
        n = resolution.partitions(rows)
        on_driver = stage.resolves_tables and rows <= resolution.PARTITION_ROWS and size <= resolution.PARTITION_BYTES
        if bars:
            bars.phase(stage.name, f"resolving {rows:,} keys {'on the driver' if on_driver else f'in {n:,} partitions'}", True)
        if not on_driver:
            resolution.check_space(layout.shuffle_dir, size, f"{stage.name}'s resolve")
        with resolution.shuffles(layout.shuffle_dir, f"{stage.name}'s resolve"):
            if on_driver:  # no shuffle
                # the table is one partition; n is for a step that goes to Ray Data. The keys are
                # passed unnamed: only the stage holds them, so it can drop them when done (train_tokenizer)
                decided = stage.resolve(pa.concat_tables([storage.read_table(f) for f in key_files]) if rows else None, n)
                if decided is None or isinstance(decided, pa.Table):
                    resolution.write_decisions_table(decided, folder, [p.key for p in parts])
                else:  # the stage went to Ray Data after all (minhash_dedup's components above its driver budget)
                    resolution.write_decisions(decided, folder, [p.key for p in parts], n)
            else:
                records = _parquet_dataset(key_files, file_rows, n) if rows else None
                resolution.write_decisions(stage.resolve(records, n), folder, [p.key for p in parts], n)
    timing = layout.phases(segment)
    spent = time.perf_counter() - started + (storage.read_json(timing)["seconds"] if storage.exists(timing) else 0.0)
    storage.write_json({"seconds": spent, "committed_at": round(time.time(), 3)}, timing)  # kept work: counts in its attempt's time
    return folder, spent


def _parquet_dataset(paths: list[str], rows: list[int], n: int):
    """A Ray Dataset of Parquet files of `rows` rows each, read by at most `n` Ray tasks
    (consecutive files each, as many rows each as the files' sizes allow: `n` is the shuffle's
    partition count, so a task reads about PARTITION_ROWS rows, one file at a time).

    Not a task per file: a task per part made as many Ray tasks as parts for a few MB of keys
    each (and, when shuffles went through Ray's object store, a piece per part and partition
    that the driver owned: 73,134 objects at once in MinHash's resolve at 5 M documents).

    Not ray.data.read_parquet: its path resolution imports fsspec's HTTP filesystem, which
    recent fsspec releases no longer provide.
    """
    items = [{"paths": [paths[i] for i in group]} for group in row_balanced_groups(rows, n)]
    return resolution.ray_map(runtime.data().from_items(items, override_num_blocks=len(items)), _read_parquet_files, batch_size=1)


def row_balanced_groups(rows: list[int], n: int) -> list[list[int]]:
    """At most `n` groups of consecutive file indices with about equal row totals: each file goes
    to the group its middle row falls in."""
    counts = np.asarray(rows, np.int64)
    group = (2 * np.cumsum(counts) - counts) * n // max(1, 2 * int(counts.sum()))
    return [np.flatnonzero(group == g).tolist() for g in np.unique(group)]


def _read_parquet_files(batch: pa.Table) -> Iterator[pa.Table]:
    for paths in batch.column("paths").to_pylist():
        for path in paths:  # a table per file: a task holds one file's rows at a time
            yield storage.read_table(path)


def _keys_of_part(part: Part, index: int, config: RunConfig) -> int:
    """A global stage's keys of one part's documents, read for this alone (`_write_keys`); returns the row count."""
    (stage,) = _worker_stages(config.specs, config.layout)
    batches = (t for t, *_ in _source_batches(part, config) if t is not None)  # one batch of documents at a time
    return _write_keys(stage, batches, part, index, config.layout, config.segment)


def _write_keys(stage: Global, tables: Iterable[pa.Table], part: Part, index: int, layout: OutputLayout, segment: int) -> int:
    """A global stage's keys of a part's documents (batches in order), with the part's index ->
    WORK/sK/keys/ (segment K being the stage's); returns the row count. Keys are per document
    (or per document's line, in document order), so batches cut anywhere give the same rows."""
    keys, unkeyed = global_keys(stage, tables)
    keys = keys.append_column("part", pa.array(np.full(keys.num_rows, index, np.int32)))
    # their size in memory, for the driver's bound (the footer's sizes are after dictionary encoding);
    # the documents without keys, for the stage's decide pass to quarantine (in the same file: one commit)
    metadata = {resolution.ARROW_BYTES: str(keys.nbytes)} | ({resolution.UNKEYED: json.dumps(unkeyed)} if unkeyed else {})
    keys = keys.replace_schema_metadata(metadata)
    storage.write_parquet(keys, layout.keys_part(segment, part.key))
    return keys.num_rows


# ---- inside a Ray worker -------------------------------------------------------------------

_WORKER_STAGES: dict[str, list[Stage]] = {}


def _worker_stages(specs: tuple[dict[str, Any], ...] | list[dict[str, Any]], layout: OutputLayout) -> list[Stage]:
    """Stages built and set up once per worker process and run (models load once, not once per part)."""
    key = json.dumps([specs, layout.root], sort_keys=True, default=str)
    if key not in _WORKER_STAGES:
        stages = _build(specs)
        for stage in stages:
            stage.bind(layout)
            stage.setup()
        _WORKER_STAGES[key] = stages
    return _WORKER_STAGES[key]


def _part_resolution(stage: Global, config: RunConfig, part: Part) -> PartResolution:
    """A global stage's decisions about one part (the only ones its task reads), and the part's
    documents whose keys it failed on."""
    unkeyed = _unkeyed(config.layout.keys_part(config.segment, part.key))
    return PartResolution(resolution.part_decisions(config.resolution, part.key, stage.DECISIONS), unkeyed)


def _unkeyed(keys_file: str) -> dict[str, str]:
    """The documents of a part whose keys its global stage failed on: id -> error (from the
    part's keys file's footer)."""
    footer = storage.parquet_file(keys_file).schema_arrow.metadata or {}
    return json.loads(footer[resolution.UNKEYED]) if resolution.UNKEYED in footer else {}


def _paths(part: Part, config: RunConfig) -> dict[str, str]:
    """Where a part's shards go in a segment: kept (final or intermediate), removed, quarantine."""
    layout, segment = config.layout, config.segment
    return {"kept": layout.kept_part(part.key) if config.last else layout.segment_part(segment, part.key),
            "removed": layout.removed_part(part.key, segment),
            "quarantine": layout.quarantine_part(part.key, segment)}


def _check_unchanged(part: Part) -> None:
    """A part's files must be the versions the run planned and fingerprinted: one replaced midway
    (the same shape, other records) gave a run of two files' records that ended "invariant OK"."""
    paths = [path for path, _ in part.bundle] if part.bundle else [part.path]
    for path, planned, now in zip(paths, part.versions, storage.each(storage.info, paths) if part.versions else []):
        if (now.size, now.mtime_ns) != tuple(planned):
            size = "gone" if now.type == pafs.FileType.NotFound else f"{now.size:,} bytes"
            raise ConfigError(f"the input file {storage.public(path)} changed during the run ({planned[0]:,} bytes -> {size}, "
                              "or its modification time): the parts read from it so far are of its earlier version; run again "
                              "with --overwrite to read the new one")


def _source_batches(part: Part, config: RunConfig):
    """(documents, quarantine records, rows read, records set aside by the reader) batches of a
    part as its segment sees them.

    The first segment reads and conforms the input (a WARC reader sets aside requests, images,
    404s... with a reason, for the ledger); later ones read what the previous segment kept
    (already documents).
    """
    if config.segment == 0:
        _check_unchanged(part)
        duplicates = _part_duplicate_ids(config.duplicates, part)
        for raw, rows, bad in documents.read_part(part, config.text_column, config.batch_rows):
            read = sum(r["rows"] or 0 for r in bad) + (raw.num_rows if raw is not None else 0)
            if raw is None:
                yield None, bad, read, None
                continue
            table, rejected = documents.conform(raw, rows, part, config.text_column, config.max_doc_bytes, *duplicates)
            table, set_aside = outputs.split_read_removals(table)
            yield table, bad + rejected, read, set_aside
        return
    previous = config.layout.segment_part(config.segment - 1, part.key)
    if storage.exists(previous):
        for batch in storage.parquet_file(previous).iter_batches(batch_size=config.batch_rows):
            yield pa.Table.from_batches([batch]), [], 0, None


def process_part(part: Part, index: int, config: RunConfig) -> dict[str, Any]:
    """Run one segment's stages over one part, write its shards (and the next global stage's
    keys of what it keeps), then its marker (the commit: on an object store, where nothing
    renames atomically, a part without a marker is redone and its files overwritten)."""
    stages = _worker_stages(config.specs, config.layout)
    paths = _paths(part, config)
    measured_paths = [config.layout.metrics_part(config.first_stage + i, s.name, part.key) for i, s in enumerate(stages)]
    # the marker first: an attempt that wrote it and lost its worker before returning must not
    # leave a marker over the files this retry deletes
    storage.delete(config.layout.marker(config.segment, part.key))
    for path in [*paths.values(), *measured_paths]:
        storage.delete(path)
    decided = _part_resolution(stages[0], config, part) if config.resolution else None
    for stage in stages:
        stage.start_part(part.key)
    counts = [ledger.StageCounts(s.name, s.kind) for s in stages]
    kept: list[pa.Table] = []
    removed: list[pa.Table] = []
    quarantined: list[dict[str, Any]] = []
    measured: list[list[pa.Table]] = [[] for _ in stages]
    docs = read_quarantined = 0
    read_removed: Counter = Counter()
    for table, bad, read, set_aside in _source_batches(part, config):
        docs += read
        read_quarantined += sum(r["rows"] or 0 for r in bad)
        quarantined.extend(bad)
        if set_aside is not None:
            removed.append(set_aside)
            read_removed.update(set_aside.column("reason").to_pylist())
        if table is None:
            continue
        batch = TextBatch(table)
        for stage, count, records in zip(stages, counts, measured):
            batch = run_stage(stage, batch, count, removed, quarantined, storage.public(part.path), decided, records)
        kept.append(batch.table)
    if kept:
        storage.write_parquet(pa.concat_tables(kept, promote_options="default"), paths["kept"])
    if removed:
        storage.write_parquet(_ledger_text(pa.concat_tables(removed, promote_options="default"), config), paths["removed"])
    if quarantined:
        storage.write_parquet(pa.Table.from_pylist(quarantined, documents.QUARANTINE_SCHEMA), paths["quarantine"])
    for records, path in zip(measured, measured_paths):
        if records:
            storage.write_parquet(pa.concat_tables(records, promote_options="default"), path)
    keys_seconds = None
    if config.next_keys is not None:  # while the kept documents are here: the next stage's keys pass need not read them again
        keys_started = time.perf_counter()
        (following,) = _worker_stages([config.next_keys], config.layout)
        _write_keys(following, kept, part, index, config.layout, config.segment + 1)
        keys_seconds = time.perf_counter() - keys_started  # the next stage's time (_summarise adds it there)
    for stage in stages:
        stage.finish_part(part.key)
    stats = {"part": part.key, "docs": docs, "read_quarantined": read_quarantined, "read_removed": dict(read_removed),
             "first_stage": config.first_stage, "committed_at": round(time.time(), 3),
             "stages": [c.to_dict() for c in counts]}
    if keys_seconds is not None:
        stats["keys_seconds"] = round(keys_seconds, 4)
    storage.write_json(stats, config.layout.marker(config.segment, part.key))
    return stats


def _ledger_text(removed: pa.Table, config: RunConfig) -> pa.Table:
    """The ledger's text as the `ledger_text` option says (the redacting pii stage built once per worker)."""
    policy = config.ledger
    redactor = _worker_stages([policy["redactor"]], config.layout)[0] if policy["mode"] == "redacted" else None
    return ledger.with_text(removed, policy, redactor)


# ---- after the parts ------------------------------------------------------------------------

def _record_attempt(layout: OutputLayout, started: float) -> list[float]:
    """Add this attempt's start to the run's record; the starts of all its attempts so far."""
    attempts = storage.read_json(layout.attempts)["started"] if storage.exists(layout.attempts) else []
    attempts.append(round(started, 3))
    storage.write_json({"started": attempts}, layout.attempts)
    return attempts


def _attempt_seconds(attempts: list[float], commits: list[float], now: float) -> list[float]:
    """Each attempt's wall time: the last one's until now; an interrupted one's until the last
    part or global resolve it committed (what it did after that was lost, and done again, but
    for a global stage's keys files, kept without a commit time), 0 if it committed none. The
    times are the machines' own clocks: a worker's that is off the driver's moves a commit
    between attempts by as much."""
    ends = attempts[1:] + [float("inf")]
    spent = [max((c for c in commits if start <= c < end), default=start) - start for start, end in zip(attempts, ends)]
    spent[-1] = now - attempts[-1]
    return spent


def _summarise(pipeline: Pipeline, files: list[str], parts: list[Part], file_quarantine: list[dict[str, Any]],
               layout: OutputLayout, segments: int, attempts: list[float], phase_seconds: dict[int, float] | None = None) -> dict[str, Any]:
    """The run's stats from the parts' markers. A global stage's `seconds` add its corpus-wide
    time (`corpus_seconds`) to its per-part decisions: the keys and resolve phases
    (`phase_seconds`, by stage position) and the keys the previous segment's tasks wrote for it
    (their markers' `keys_seconds`). The run's `seconds` add up its `attempts` (see _attempt_seconds)."""
    counts = [ledger.StageCounts(s.name, s.kind) for s in pipeline.stages]
    corpus: Counter = Counter(phase_seconds or {})
    docs = read_quarantined = 0
    read_removed: Counter = Counter()
    commits: list[float] = []
    for segment in range(segments):
        if storage.exists(layout.phases(segment)):  # a global stage's finished resolve, kept across a resume
            commits.append(storage.read_json(layout.phases(segment)).get("committed_at", 0.0))
        for _, marker in _markers(layout, segment, parts):
            commits.append(marker.get("committed_at", 0.0))  # a marker of an older version has none
            docs += marker["docs"]
            read_quarantined += marker["read_quarantined"]
            read_removed.update(marker.get("read_removed", {}))
            for offset, stage in enumerate(marker["stages"]):
                counts[marker["first_stage"] + offset].add(ledger.StageCounts.from_dict(stage))
            if "keys_seconds" in marker:  # the next segment's global stage's keys, written by this task
                corpus[marker["first_stage"] + len(marker["stages"])] += marker["keys_seconds"]
    file_rows = sum(r["rows"] or 0 for r in file_quarantine)
    stages = [c.to_dict() for c in counts]
    for position, seconds in corpus.items():
        stages[position]["corpus_seconds"] = round(seconds, 3)
        stages[position]["seconds"] = round(stages[position]["seconds"] + seconds, 4)
    spent = _attempt_seconds(attempts, commits, time.time())
    stats = {
        "pipeline": pipeline.options.name,
        "version": __version__,
        "seconds": round(sum(spent), 3),
        "attempts": [round(x, 3) for x in spent],
        "input": {"files": len(files), "parts": len(parts), "docs": docs + file_rows, "removed": dict(sorted(read_removed.items()))},
        "quarantine": {"files": len(file_quarantine), "file_rows": file_rows, "read_rows": read_quarantined},
        "stages": stages,
        "output": {
            "kept": _rows_on_disk(layout.kept),
            "removed": _rows_on_disk(layout.removed),
            "quarantined": _rows_on_disk(layout.quarantine, count_column="rows"),
        },
    }
    stats["problems"] = ledger.check(stats)
    stats["invariant_ok"] = not stats["problems"]
    return stats


def _rows_and_arrow_bytes(path: str) -> tuple[int, int]:
    footer = storage.parquet_file(path).metadata
    return footer.num_rows, resolution.arrow_bytes(footer)


def _rows_on_disk(folder: str, count_column: str | None = None) -> int:
    """Documents in a folder's shards, read from Parquet footers (or a count column). Called once
    every part has its marker, so every part file is whole."""
    if count_column:
        def rows(path: str) -> int:
            return sum(v or 0 for v in storage.read_table(path, columns=[count_column]).column(0).to_pylist())
    else:
        def rows(path: str) -> int:
            return storage.parquet_file(path).metadata.num_rows
    return sum(storage.each(rows, OutputLayout.parts(folder)))
