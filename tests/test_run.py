"""The default pipeline end to end on samples/: output folder, counts, invariant, pass-through."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import REPO, SAMPLES, output_ids, read_folder, run_pipeline
from dataprep import cli, ledger, pipeline
from dataprep.errors import ConfigError
from dataprep.run import run


@pytest.fixture(scope="module")
def default_run(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "out"
    spec = pipeline.load(REPO / "pipelines" / "default.yaml", {"output": str(out), "input": str(SAMPLES)})
    return run(spec), out


def test_output_folder_and_invariant(default_run, sample_docs):
    stats, out = default_run
    assert (out / "kept").is_dir() and (out / "removed").is_dir() and (out / "stats.json").is_file()
    assert stats["invariant_ok"], stats["problems"]
    assert stats["input"]["docs"] == sample_docs.num_rows
    assert json.loads((out / "stats.json").read_text()) == stats
    ids = output_ids(out)
    every = ids["kept"] + ids["removed"] + ids["quarantine"]
    assert Counter(every) == Counter(sample_docs["id"].to_pylist()), "each input document is in exactly one place"
    assert len(ids["kept"]) == stats["output"]["kept"] and len(ids["removed"]) == stats["output"]["removed"]


def test_ledger_says_why_and_keeps_user_columns(default_run, sample_docs):
    _, out = default_run
    removed = read_folder(out / "removed")
    assert removed is not None and removed.num_rows > 0
    assert {"id", "text", "stage", "reason", "details", "source", "lang_hint", "url"} <= set(removed.column_names)
    by_id = {r["id"]: r for r in sample_docs.to_pylist()}
    for row in removed.to_pylist():
        assert row["reason"].startswith(row["stage"] + ".")
        assert row["source"] == by_id[row["id"]]["source"], "user columns pass through untouched"
        details = json.loads(row["details"])
        if row["reason"] == "length.too_few_words":
            assert details["words"] < 5 and details["words"] == len(row["text"].split())
    kept = read_folder(out / "kept")
    assert {"source", "lang_hint", "url", "normalize_fixes"} <= set(kept.column_names)


def test_stage_counts_add_up(default_run):
    stats, _ = default_run
    stages = stats["stages"]
    assert [s["name"] for s in stages][:2] == ["normalize", "length"]
    for before, after in zip(stages, stages[1:]):
        assert after["in"] == before["kept"]
    for stage in stages:
        assert stage["in"] == stage["kept"] + sum(stage["removed"].values()) + stage["quarantined"]
    removed = {reason for s in stages for reason in s["removed"]}
    assert {"length.too_few_words", "language.not_wanted", "gopher_quality.short_doc"} <= removed
    assert stages[-1]["kept"] > 0


def test_check_catches_a_lost_document(default_run):
    stats, _ = default_run
    broken = json.loads(json.dumps(stats))
    last = broken["stages"][-1]
    last["kept"] -= 1
    problems = ledger.check(broken)
    assert any(p.startswith(f"{last['name']}: in") for p in problems) and any("output holds" in p for p in problems)


def test_stats_command_prints_the_table_again(default_run, capsys):
    stats, out = default_run
    assert cli.main(["stats", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "normalize" in printed and "length.too_few_words" in printed and "invariant OK" in printed
    assert f"{stats['output']['kept']:,}" in printed


def test_a_reader_that_stops_reading_is_no_failure(default_run):
    """`dataprep stats OUT | head -1`: the pipe closing is not a failed write to resume from
    (it said "stopped: reading or writing failed", exit 7, with a traceback file)."""
    import subprocess
    import sys

    reading = subprocess.Popen([sys.executable, "-m", "dataprep.cli", "stats", str(default_run[1])], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    reading.stdout.close()
    error = reading.stderr.read().decode()
    assert reading.wait(timeout=120) == 0 and error == ""


def test_same_command_again_resumes_to_the_same_result(default_run):
    stats, out = default_run
    spec = pipeline.load(REPO / "pipelines" / "default.yaml", {"output": str(out), "input": str(SAMPLES)})
    again = run(spec)
    assert again["output"] == stats["output"] and again["stages"] == stats["stages"]


def test_limit_takes_the_first_documents_in_file_order(ray_session, tmp_path, sample_docs):
    stats = run_pipeline([{"normalize": {}}], SAMPLES, tmp_path / "o", limit=400)
    assert stats["input"]["docs"] == 400 and stats["invariant_ok"]
    first, second = (pq.read_table(p)["id"].to_pylist() for p in sorted(SAMPLES.glob("*.parquet"))[:2])
    kept = set(output_ids(tmp_path / "o")["kept"])
    assert kept == set((first + second)[:400])


def test_every_output_folder_is_there_to_read_when_it_holds_nothing(ray_session, tmp_path):
    """A run that keeps nothing and quarantines nothing: kept/ and quarantine/ were missing, so
    reading them as README shows raised FileNotFoundError."""
    out = tmp_path / "o"
    stats = run_pipeline([{"length": {"min_words": 10**9}}], SAMPLES / "shard-00.parquet", out, limit=20)
    assert stats["output"] == {**stats["output"], "kept": 0, "removed": 20, "quarantined": 0}
    assert pq.read_table(out / "kept").num_rows == 0 and pq.read_table(out / "quarantine").num_rows == 0
    assert pq.read_table(out / "removed").num_rows == 20


def test_jsonl_input_with_other_text_column(ray_session, tmp_path, real_docs):
    import gzip

    rows = real_docs.slice(0, 40).to_pylist()
    with gzip.open(tmp_path / "pages.jsonl.gz", "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({"content": row["text"], "url": row["url"], "rank": 1}) + "\n")
    stats = run_pipeline([{"normalize": {}}], tmp_path / "pages.jsonl.gz", tmp_path / "o", text_column="content")
    kept = read_folder(tmp_path / "o" / "kept")
    assert stats["invariant_ok"] and kept.num_rows == 40
    assert kept["id"].to_pylist()[:2] == ["pages:0", "pages:1"]
    assert kept["url"].to_pylist() == [r["url"] for r in rows] and "text" in kept.column_names


def test_kept_and_removed_read_whole_with_every_column(ray_session, tmp_path, real_docs, sample_docs):
    """Inputs with different columns (a JSONL with its own field, Parquet files with and without
    `url`): each output folder reads as one dataset with every column, in every reader we have."""
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(sample_docs.slice(0, 40).select(["id", "text"]), folder / "a.parquet")
    pq.write_table(real_docs.slice(100, 40), folder / "b.parquet")  # other ids than a's where real_docs are samples/'s
    rows = [{"id": f"j{i}", "text": t, "note": f"n{i}"} for i, t in enumerate(real_docs.column("text").to_pylist()[140:160])]
    (folder / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "out"
    stats = run_pipeline([{"length": {"min_words": 60}}], folder, out, part_bytes=1)
    assert stats["invariant_ok"] and "schema_note" not in stats
    for name in ("kept", "removed"):
        table = pq.read_table(out / name)
        assert {"url", "note"} <= set(table.column_names), name
        assert table.num_rows == stats["output"][name]
        frame = pd.read_parquet(out / name)
        assert {"url", "note"} <= set(frame.columns) and len(frame) == table.num_rows
        for module, read in (("polars", lambda m, p: m.read_parquet(str(p / "*.parquet")).columns),
                             ("duckdb", lambda m, p: [c[0] for c in m.sql(f"select * from '{p}/*.parquet'").description])):
            reader = pytest.importorskip(module)
            assert {"url", "note"} <= set(read(reader, out / name)), (module, name)
        # Hugging Face datasets: the folder as one split, read offline into a cache of the test's own
        datasets = pytest.importorskip("datasets")
        split = datasets.load_dataset("parquet", data_files=str(out / name / "*.parquet"), split="train",
                                      cache_dir=str(tmp_path / "hf_cache"))
        assert {"url", "note"} <= set(split.column_names) and split.num_rows == table.num_rows, name


def test_notebook_api_apply_and_run(ray_session, tmp_path, sample_docs):
    """dp.apply decides like the stages do in a run; dp.Pipeline.run reads back as DataFrames."""
    import dataprep as dp

    docs = sample_docs.slice(0, 200).select(["id", "text"])
    decided = dp.apply([dp.stage("normalize"), dp.stage("length", min_words=30)], docs.to_pandas())
    result = dp.Pipeline([dp.stage("normalize"), dp.stage("length", min_words=30)]).run(_write(docs, tmp_path), tmp_path / "out")
    removed = result.removed("length")
    assert set(removed["id"]) == set(decided.loc[decided["removed_by"] == "length", "id"])
    assert set(result.kept()["id"]) == set(decided.loc[decided["reason"].isna(), "id"])
    assert (decided.loc[decided["removed_by"] == "length", "length.words"] < 30).all()
    assert result.stats.set_index("stage").loc["length", "removed"] == len(removed)
    assert "removed by stage length" in result.explain(removed["id"][0])
    with pytest.raises(ConfigError, match="did you mean 'min_words'"):
        dp.stage("length", min_word=3)
    with pytest.raises(ConfigError, match="needs the whole corpus"):
        dp.apply(dp.stage("exact_dedup"), ["a b c", "a b c"])


def _write(table, tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    return path


def test_repeated_groups_by_both_halves_of_a_key():
    """resolution.repeated finds the rows whose (high, low) key occurs more than once, against a
    dict: keys equal in one half only are apart, the int64 extremes sort as any other value, and
    groups at either end of the order, one row, all rows equal and no rows are right."""
    import numpy as np

    from dataprep import resolution

    extremes = [np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max]
    rng = np.random.default_rng(7)
    cases = [([], []), ([5], [5]), ([3] * 4, [9] * 4),
             ([1, 1, 2, 2], [7, 8, 7, 7]),  # same high, other low; same low, other high
             (extremes * 2 + [0], extremes * 2 + [1]),
             (list(rng.choice(extremes + [4], 300)), list(rng.choice(extremes + [4], 300)))]
    for high, low in cases:
        high, low = np.array(high, np.int64), np.array(low, np.int64)
        rows, group, size = resolution.repeated(high, low)
        counts = Counter(zip(high.tolist(), low.tolist()))
        assert sorted(rows.tolist()) == [i for i, key in enumerate(zip(high.tolist(), low.tolist())) if counts[key] > 1]
        assert all(counts[(high[r], low[r])] == s for r, s in zip(rows, size))
        assert (np.diff(group) >= 0).all()  # equal keys adjacent, groups rising
        by_group = {}
        for r, g in zip(rows.tolist(), group.tolist()):
            by_group.setdefault(g, set()).add((high[r], low[r]))
        assert all(len(keys) == 1 for keys in by_group.values()) and len(by_group) == sum(1 for c in counts.values() if c > 1)


@pytest.mark.parametrize("n", [1, 2, 7, 10])
def test_parquet_dataset_reads_every_file_once(ray_session, tmp_path, n):
    """A global stage's key files read by `n` tasks (consecutive files each): every row once,
    whatever `n` against the number of files, an empty file among them."""
    import pyarrow as pa

    from dataprep import run as runner

    paths, counts = [], []
    for i in range(7):
        counts.append(0 if i == 3 else 5 + i)
        paths.append(str(tmp_path / f"keys-{i}.parquet"))
        pq.write_table(pa.table({"file": pa.array([i] * counts[-1], pa.int64()), "row": pa.array(range(counts[-1]), pa.int64())}), paths[-1])
    ds = runner._parquet_dataset(paths, counts, n)
    got = sorted((r["file"], r["row"]) for r in ds.take_all())
    assert got == [(i, r) for i in range(7) if i != 3 for r in range(5 + i)]


def _first_words(docs):
    """Real documents' ids keyed by their first word (words of one document and of dozens), in 5
    blocks. (This module's functions go to Ray's workers by value: they cannot import it.)"""
    import sys

    import pyarrow as pa
    import pyarrow.compute as pc
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

    word = pc.utf8_lower(pc.struct_field(pc.extract_regex(docs["text"], r"^\W*(?P<word>\w+)"), [0]))
    rows = pa.table({"id": docs["id"], "word": word}).filter(pc.is_valid(word))
    sizes = Counter(rows["word"].to_pylist())
    assert max(sizes.values()) > 50 and len(sizes) > 200
    bounds = np.linspace(0, rows.num_rows, 6).astype(int)
    return rows, [rows.slice(a, b - a) for a, b in zip(bounds, bounds[1:])]


def _tagged(group):
    """A partition's rows, each with the name of the call that got them."""
    import uuid

    import pyarrow as pa

    return group.append_column("call", pa.array([uuid.uuid4().hex] * group.num_rows))


def _check_shuffled(got, rows, n) -> None:
    """Every row once, all rows of a word in one call, one call per partition that has rows."""
    from dataprep import resolution

    assert Counter(got["id"].to_pylist()) == Counter(rows["id"].to_pylist())
    calls_of_word: dict[str, set[str]] = {}
    for w, call in zip(got["word"].to_pylist(), got["call"].to_pylist()):
        calls_of_word.setdefault(w, set()).add(call)
    assert all(len(calls) == 1 for calls in calls_of_word.values())
    partitions = set(resolution.bucket(rows, ["word"], n).tolist())
    assert len(set(got["call"].to_pylist())) == len(partitions) and (n < 2000 or len(partitions) < n)


@pytest.mark.parametrize("n", [1, 3, 2000])
def test_shuffle_files_bring_equal_keys_to_one_call(ray_session, tmp_path, real_docs, n):
    """by_hash on Ray Data, through its files: real documents keyed by their first word meet,
    every row once, all rows of a word in one call, one call per partition that has rows (2,000
    partitions: most get none); one file per block while the shuffle lasts, none after."""
    import pyarrow as pa

    from dataprep import resolution, runtime

    rows, blocks = _first_words(real_docs)
    folder = tmp_path / "shuffle"
    with resolution.shuffles(str(folder)):
        got = pa.concat_tables(resolution.by_hash(runtime.data().from_arrow(blocks), ["word"], _tagged, n).iter_batches(
            batch_format="pyarrow", batch_size=None))
        assert len(list(folder.rglob("*.pieces"))) == 5
    assert not folder.exists()
    _check_shuffled(got, rows, n)


@pytest.mark.parametrize("side", ["map", "partition"])
def test_a_worker_killed_mid_shuffle_is_retried_to_the_same_groups(ray_session, tmp_path, real_docs, side):
    """SIGKILL of the Ray worker running a shuffle's task, once, as a map task writes its pieces
    or as a partition's task reads them: Ray Data runs the task again, and the calls get the
    same rows, every row once (the dead attempt's half-written file is named by no one)."""
    import os
    import signal

    import pyarrow as pa

    from dataprep import resolution, runtime

    rows, blocks = _first_words(real_docs)
    marker = tmp_path / "killed"

    def killed_once(table: pa.Table) -> pa.Table:
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return table

    source = runtime.data().from_arrow(blocks)
    if side == "map":
        source = source.map_batches(killed_once, batch_format="pyarrow")
    with resolution.shuffles(str(tmp_path / "shuffle")):
        got = pa.concat_tables(resolution.by_hash(source, ["word"], lambda t: _tagged(killed_once(t)) if side == "partition" else _tagged(t), 3)
                               .iter_batches(batch_format="pyarrow", batch_size=None))
    assert marker.exists() and int(marker.read_text()) != os.getpid()
    _check_shuffled(got, rows, 3)


def test_a_shuffle_task_that_kills_its_worker_every_time_stops_with_one_line(ray_session, tmp_path, real_docs):
    """A partition's task whose worker dies on every attempt (memory, a crash in a C library)
    stops the run after runtime.CRASH_RETRIES retries with one line naming what it was doing,
    where Ray Data's own default retries it forever; its files are deleted."""
    import os
    import signal

    from dataprep import resolution, runtime
    from dataprep.errors import TaskCrashed

    _, blocks = _first_words(real_docs)

    def always_killed(table):
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(TaskCrashed) as stopped, resolution.shuffles(str(tmp_path / "shuffle"), "the test's shuffle"):
        resolution.by_hash(runtime.data().from_arrow(blocks), ["word"], always_killed, 3).take_all()
    message = str(stopped.value)
    assert "\n" not in message and "WorkerCrashedError" in message, message
    assert f"a task of the test's shuffle killed its worker {runtime.CRASH_RETRIES + 1} times" in message
    assert not (tmp_path / "shuffle").exists()


def test_key_files_are_grouped_by_rows_not_by_count():
    """Parts of short documents hold more key rows: the tasks that read a resolve's key files
    get consecutive files with about equal row totals, every file once."""
    from dataprep.run import row_balanced_groups

    rows = [1000, 1000, 10, 10, 10, 10, 0, 10]
    assert row_balanced_groups(rows, 2) == [[0], [1, 2, 3, 4, 5, 6, 7]]  # by count: 2,020 rows against 30
    for n in (1, 3, 5, 8, 20):
        groups = row_balanced_groups(rows, n)
        assert [i for g in groups for i in g] == list(range(len(rows))) and len(groups) <= n
    many = np.random.default_rng(1).integers(1, 5000, 400).tolist()
    totals = [sum(many[i] for i in g) for g in row_balanced_groups(many, 8)]
    assert len(totals) == 8 and max(totals) - min(totals) <= 2 * max(many)


def test_a_batch_log_counts_the_parts_an_interrupted_attempt_finished(capsys):
    """A batch job's log line names the segment and counts the parts done before a resume: a
    resumed segment with 3 of its 10 parts left said "parts 1/3" after its first."""
    from dataprep.progress import Progress

    bars = Progress(["normalize", "length"], total=100, every=0.0)
    bars.segment(0, 2, left=3, parts=10)
    for _ in range(3):
        bars.update({"first_stage": 0, "stages": [{"in": 5}, {"in": 4}]})
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[:2] for line in lines[:2]] == [["dataprep: normalize: segment 1/2", " parts 8/10 (7 by an earlier attempt)"],
                                                           ["dataprep: length: segment 1/2", " parts 8/10 (7 by an earlier attempt)"]]
    # the documents are this attempt's (parts 457/1100 beside 636 docs, two a part, read as a miscount)
    assert lines[-1].startswith("dataprep: length: segment 1/2, parts 10/10 (7 by an earlier attempt), 12 docs in this attempt, ")
    assert lines[-1].endswith("ETA of the segment 0 s")
    fresh = Progress(["normalize"], total=100, every=0.0)
    fresh.segment(0, 1, left=2, parts=2)
    fresh.update({"first_stage": 0, "stages": [{"in": 5}]})
    assert capsys.readouterr().err.startswith("dataprep: normalize: parts 1/2, 5 docs, ")
    quiet = Progress(["exact_dedup"], total=100, every=3600.0)
    quiet.phase("exact_dedup", "keys of parts 1/51", False)  # a global stage's phases: silent no longer, at most every `every` s
    quiet.phase("exact_dedup", "keys of parts 51/51", True)
    assert capsys.readouterr().err.splitlines() == ["dataprep: exact_dedup: keys of parts 51/51"]


def test_a_terminals_bars_end_full_at_what_reached_each_stage(monkeypatch, capsys):
    """Every bar's total was the input's count, so a stage after a filter ended at 75%, 60%, 54%
    with an ETA, though the run had finished."""
    import sys

    from dataprep.progress import Progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bars = Progress(["normalize", "length"], total=10, every=0.0)
    bars.segment(0, 1, left=2, parts=2)
    for _ in range(2):
        bars.update({"first_stage": 0, "stages": [{"in": 5}, {"in": 3}]})
    assert [(b.n, b.total) for b in bars.bars] == [(10, 10), (6, 10)]
    bars.close()
    assert [(b.n, b.total) for b in bars.bars] == [(10, 10), (6, 6)]
    assert "6/6" in capsys.readouterr().err
