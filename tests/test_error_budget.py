"""A stage that quarantines more than the error budget stops the run with one line; the run
resumes once the budget or the stage is changed. A finished run, run again, says so."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SAMPLES, read_folder, run_pipeline

from dataprep.errors import StageOverBudget

FLAKY = '''
import numpy as np
import pyarrow.compute as pc
from dataprep.stages import Filter


class ChokesOnDigits(Filter):
    """A stage with a bug: it cannot measure documents that hold a digit."""

    name = "chokes_on_digits"

    def measure(self, batch):
        if pc.any(pc.match_substring_regex(batch.text, "[0-9]")).as_py():
            raise ValueError("cannot measure digits")
        return {"chars": np.asarray(pc.utf8_length(batch.text))}

    def checks(self, metrics):
        return [("empty", metrics["chars"] == 0)]
'''


def dataprep(args: list[str], site) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-m", "dataprep.cli", *args, "--num-cpus", "1"], env=env, capture_output=True,
                          text=True, timeout=300)


def over_budget(tmp_path, out_name: str = "out"):
    """The flaky stage's run, stopped over the budget: (its arguments, the site its code is in, the output)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "flaky.py").write_text(FLAKY)
    inputs = tmp_path / "in.parquet"
    pq.write_table(pq.read_table(SAMPLES / "shard-00.parquet").slice(0, 300), inputs)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: budget\nstages:\n  - normalize: {}\n  - flaky:ChokesOnDigits: {}\n")
    out = tmp_path / out_name
    args = ["run", str(pipeline), "--input", str(inputs), "--output", str(out), "--batch-rows", "16"]
    stopped = dataprep(args, site)
    assert stopped.returncode == 4, stopped.stderr[-1500:]
    return args, site, out, stopped


def test_stage_over_budget_stops_then_resumes_with_a_larger_budget(tmp_path):
    args, site, out, stopped = over_budget(tmp_path)
    message = stopped.stderr.strip().splitlines()[-1]
    assert message.startswith("dataprep: stopped: stage chokes_on_digits quarantined ")
    assert "error_budget 1.0%" in message and "ValueError: cannot measure digits" in message and "Traceback" not in stopped.stderr
    assert not (out / "stats.json").exists()
    resumed = dataprep([*args, "--error-budget", "1"], site)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["stages"][1]["quarantined"] > 3
    quarantine = read_folder(out / "quarantine").to_pylist()
    assert all("cannot measure digits" in q["error"] for q in quarantine)
    again = dataprep([*args, "--error-budget", "1"], site)
    assert again.returncode == 0 and "had already finished" in again.stdout
    assert json.loads((out / "stats.json").read_text())["seconds"] == stats["seconds"], "the recorded run time is kept"


def test_fixing_the_stage_resumes_and_processes_what_it_had_quarantined(tmp_path):
    args, site, out, _ = over_budget(tmp_path)
    (site / "flaky.py").write_text(FLAKY.replace('raise ValueError("cannot measure digits")', "pass"))  # the bug fixed
    resumed = dataprep(args, site)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["stages"][1]["quarantined"] == 0 and stats["output"]["quarantined"] == 0
    assert not list(out.glob("quarantine/*.parquet")), "the quarantine the stopped run wrote is gone with its parts"
    assert stats["output"]["kept"] + stats["output"]["removed"] == 300


TWO_BUGS = FLAKY.replace('if pc.any(', 'if os.environ.get("CHOKE") and pc.any(').replace("import numpy as np", "import os\n\nimport numpy as np") + '''

class ChokesAlways(ChokesOnDigits):
    """A bug on every document: a later segment's stage."""

    name = "chokes_always"

    def measure(self, batch):
        if os.environ.get("CHOKE"):
            raise ValueError("cannot measure anything")
        return {"chars": np.asarray(pc.utf8_length(batch.text))}
'''


def test_a_segment_an_earlier_attempt_accepted_is_not_judged_again(tmp_path, monkeypatch):
    """Run with a loose budget until a later segment stops, then with the default budget, then
    with the bugs fixed: the first segment (accepted under the loose budget, its documents gone
    on) was judged again and uncommitted, and the fixed run lost its documents (invariant broken)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "flaky.py").write_text(TWO_BUGS)
    inputs = tmp_path / "in.parquet"
    pq.write_table(pq.read_table(SAMPLES / "shard-00.parquet").slice(0, 300), inputs)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: budget\nstages:\n  - normalize: {}\n  - flaky:ChokesOnDigits: {}\n  - exact_dedup: {}\n"
                        "  - flaky:ChokesAlways: {}\n")
    args = ["run", str(pipeline), "--input", str(inputs), "--output", str(tmp_path / "out"), "--batch-rows", "16"]
    monkeypatch.setenv("CHOKE", "1")
    loose = dataprep([*args, "--error-budget", "0.6"], site)
    assert loose.returncode == 4 and "stage chokes_always quarantined" in loose.stderr, loose.stderr[-1500:]
    default = dataprep(args, site)
    assert default.returncode == 4 and "stage chokes_always quarantined" in default.stderr, default.stderr[-1500:]
    monkeypatch.delenv("CHOKE")
    fixed = dataprep(args, site)
    assert fixed.returncode == 0, fixed.stderr[-1500:]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["input"]["docs"] == 300
    assert stats["stages"][1]["quarantined"] > 100 and stats["stages"][3]["quarantined"] == 0  # the first kept as accepted


def test_a_segment_whose_judgement_was_interrupted_is_judged_on_resume(tmp_path):
    """Every part committed, then the run stopped before the budget was checked (a SIGTERM while
    the driver read the markers): the resumed run had no part left to run, judged nothing, and
    finished with 55% quarantined under a 1% budget."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "flaky.py").write_text(FLAKY)
    pq.write_table(pq.read_table(SAMPLES / "shard-00.parquet").slice(0, 300), tmp_path / "in.parquet")
    (tmp_path / "p.yaml").write_text("name: budget\nstages:\n  - normalize: {}\n  - flaky:ChokesOnDigits: {}\n")
    args = ["run", str(tmp_path / "p.yaml"), "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out"),
            "--batch-rows", "16", "--num-cpus", "1"]
    stopped_before_judging = (
        "import sys\n"
        "from dataprep import cli, run\n"
        "def interrupted(*args): raise KeyboardInterrupt\n"
        "run._check_error_budget = interrupted\n"
        f"sys.argv = ['dataprep', *{args!r}]\n"
        "sys.exit(cli.main())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    first = subprocess.run([sys.executable, "-c", stopped_before_judging], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 130 and len(list((tmp_path / "out" / "_parts").glob("*.json"))) == 1, first.stderr[-1500:]
    resumed = dataprep(args[:-2], site)
    assert resumed.returncode == 4 and "stage chokes_on_digits quarantined 165 of 300" in resumed.stderr, resumed.stderr[-1500:]


UNKEYABLE = '''
import pyarrow.compute as pc
from dataprep.stages.exact_dedup import ExactDedup


class KeysChokeOnDigits(ExactDedup):
    """A global stage with a bug in its keys: it cannot key documents that hold a digit."""

    name = "keys_choke_on_digits"

    def keys(self, batch):
        if batch is not None and pc.any(pc.match_substring_regex(batch.text, "[0-9]")).as_py():
            raise ValueError("cannot key digits")
        return super().keys(batch)
'''


def unkeyable_run(tmp_path, first: bool, budget: list[str]):
    """The run of a global stage whose keys raise on documents with a digit, over 150 documents
    and 50 exact copies of some: (its result, its arguments, the site its code is in, the output,
    the ids with a digit)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "unkeyable.py").write_text(UNKEYABLE)
    texts = pq.read_table(SAMPLES / "shard-00.parquet").column("text").to_pylist()[:150]
    texts += texts[:50]  # 50 exact duplicates, some holding digits
    inputs = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [f"d{i:03d}" for i in range(len(texts))], "text": texts}), inputs)
    digits = {f"d{i:03d}" for i, t in enumerate(texts) if re.search("[0-9]", t)}
    assert 10 < len(digits) < 150
    stages = "  - unkeyable:KeysChokeOnDigits: {}\n" if first else "  - length: {min_words: 1}\n  - unkeyable:KeysChokeOnDigits: {}\n"
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: unkeyable\nstages:\n" + stages)
    out = tmp_path / "out"
    args = ["run", str(pipeline), "--input", str(inputs), "--output", str(out), "--batch-rows", "16"]
    return dataprep([*args, *budget], site), args, site, out, digits


@pytest.mark.parametrize("first", [True, False], ids=["keys-pass", "keys-from-the-previous-segment"])
def test_documents_a_global_stage_cannot_key_are_quarantined_and_the_rest_deduplicated(tmp_path, first):
    """A global stage whose keys raise on some documents: those are quarantined with the error
    (the rest of their batch keyed, deduplicated and kept), whether its keys come from its own
    pass (the stage opens the pipeline) or from the previous segment's tasks; never exit 3."""
    done, _, _, out, digits = unkeyable_run(tmp_path, first, ["--error-budget", "1"])
    assert done.returncode == 0, done.stderr[-1500:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["stages"][-1]["quarantined"] == len(digits)
    quarantine = read_folder(out / "quarantine").to_pylist()
    assert {q["id"] for q in quarantine} == digits
    assert all("stage keys_choke_on_digits failed on its keys: ValueError: cannot key digits" in q["error"] for q in quarantine)
    kept = set(read_folder(out / "kept").column("id").to_pylist())
    clean = [i for i in range(150) if f"d{i:03d}" not in digits]
    assert kept == {f"d{i:03d}" for i in clean}, "every document with keys is kept once, its later copy removed"


@pytest.mark.parametrize("first", [True, False], ids=["keys-pass", "keys-from-the-previous-segment"])
def test_a_global_stage_over_the_budget_on_its_keys_resumes_fixed(tmp_path, first):
    """Over the budget on its keys, the run stops; once the stage is fixed, the same command keys
    the documents it had failed on and resolves again: nothing quarantined, every copy found
    (its first keys and decisions were kept, and quarantined the same documents again)."""
    stopped, args, site, out, digits = unkeyable_run(tmp_path, first, [])
    assert stopped.returncode == 4 and "stage keys_choke_on_digits quarantined" in stopped.stderr, stopped.stderr[-1500:]
    (site / "unkeyable.py").write_text(UNKEYABLE.replace("raise ValueError", "pass  #"))
    fixed = dataprep(args, site)
    assert fixed.returncode == 0, fixed.stderr[-1500:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["stages"][-1]["quarantined"] == 0
    assert set(read_folder(out / "kept").column("id").to_pylist()) == {f"d{i:03d}" for i in range(150)}
    assert len(read_folder(out / "removed")) == 50


def _with_nulls(tmp_path, nulls: int) -> tuple[list[str], Path]:
    """A CLI run's arguments over a folder of 300 real documents, `nulls` of them without text."""
    table = pq.read_table(SAMPLES / "shard-00.parquet").slice(0, 300).select(["id", "text"])
    texts = table.column("text").to_pylist()
    texts[:nulls] = [None] * nulls
    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(table.set_column(1, "text", pa.array(texts, pa.string())), inputs / "a.parquet")
    (tmp_path / "p.yaml").write_text("name: budget\nstages:\n  - normalize: {}\n")
    out = tmp_path / "out"
    return ["run", str(tmp_path / "p.yaml"), "--input", str(inputs), "--output", str(out)], out


def test_reading_that_quarantines_over_the_budget_stops_then_resumes_with_a_larger_budget(tmp_path):
    """Reading is judged as a stage is: a text column that is mostly null (the wrong column, a
    broken export) must not quietly quarantine a corpus and exit 0."""
    args, out = _with_nulls(tmp_path, 30)
    stopped = dataprep(args, tmp_path)
    assert stopped.returncode == 4, stopped.stderr[-1500:]
    message = stopped.stderr.strip().splitlines()[-1]
    assert message.startswith("dataprep: stopped: reading the input quarantined 30 of 300 documents (10.0%, error_budget 1.0%)")
    assert "most common error, in 30 of them: text is null" in message and "--text-column" in message, message
    assert not (out / "stats.json").exists() and not list((out / "_parts").glob("s0-*.json")), "the part is done again"
    resumed = dataprep([*args, "--error-budget", "0.1"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["quarantine"]["read_rows"] == 30 and stats["stages"][0]["in"] == 270


def test_reading_within_the_budget_goes_on(tmp_path):
    args, out = _with_nulls(tmp_path, 87)
    done = dataprep([*args, "--error-budget", "0.29"], tmp_path)  # 29% of 300 documents: not more than the budget (0.29 * 300 < 87 in floats)
    assert done.returncode == 0, done.stderr[-1500:]
    assert json.loads((out / "stats.json").read_text())["quarantine"]["read_rows"] == 87


def test_the_stop_names_the_error_that_cost_the_most_documents(ray_session, tmp_path):
    """Errors of one kind grouped however their details differ (where each duplicate was first
    seen), and counted in documents: a file without the text column is 300 documents, not one."""
    table = pq.read_table(SAMPLES / "shard-00.parquet").slice(0, 300).select(["id", "text"])
    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(table, inputs / "a.parquet")
    copies = pa.concat_tables([table.slice(0, 40), table.slice(40, 60).set_column(0, "id", pa.array([f"b{i}" for i in range(60)]))])
    pq.write_table(copies, inputs / "b-copies.parquet")  # 40 duplicate ids, each first seen at another row
    pq.write_table(table.rename_columns(["id", "body"]).slice(0, 250).set_column(0, "id", pa.array([f"n{i}" for i in range(250)])),
                   inputs / "c-no-text.parquet")
    with pytest.raises(StageOverBudget) as stopped:
        run_pipeline([{"normalize": {}}], inputs, tmp_path / "out", error_budget=0.4)
    assert "quarantined 290 of 650 documents (44.6%, error_budget 40.0%)" in str(stopped.value), str(stopped.value)
    assert "most common error, in 250 of them: no column 'text'" in str(stopped.value), str(stopped.value)
    (inputs / "c-no-text.parquet").unlink()
    with pytest.raises(StageOverBudget) as stopped:
        run_pipeline([{"normalize": {}}], inputs, tmp_path / "out2")
    assert "most common error, in 40 of them: duplicate id;" in str(stopped.value), str(stopped.value)


def test_crawl_files_of_garbage_count_against_the_pages_read(ray_session, tmp_path):
    """Files read only in the parts (WARC, JSONL) yield one quarantined record each when they
    are garbage; set beside the pages read, not beside every record of the crawl (two in three
    of its records are requests and metadata, set aside), two such files beside a crawl of 119
    pages are over the budget. They had passed as 2 quarantined records among 368."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.warc.gz").write_bytes((SAMPLES / "_web" / "debian-faq.warc.gz").read_bytes())
    (inputs / "b.warc.gz").write_bytes(bytes(range(256)) * 200)
    (inputs / "c.warc").write_text("this is not a warc file\n" * 500)
    with pytest.raises(StageOverBudget) as stopped:
        run_pipeline([{"extract": {}}], inputs, tmp_path / "out")
    assert "reading the input quarantined 2 of 121 documents (1.7%" in str(stopped.value), str(stopped.value)
    assert "most common error, in 2 of them: unreadable WARC record at byte N" in str(stopped.value), str(stopped.value)


def test_input_files_unreadable_over_the_budget_stop_before_any_part_runs(tmp_path):
    args, out = _with_nulls(tmp_path, 0)
    (tmp_path / "in" / "b.parquet").write_bytes(b"not a parquet file, by a broken export")
    stopped = dataprep(args, tmp_path)
    assert stopped.returncode == 4, stopped.stderr[-1500:]
    message = stopped.stderr.strip().splitlines()[-1]
    assert message.startswith("dataprep: stopped: reading the input quarantined 1 of 2 files (50.0%"), message
    assert "cannot read Parquet file" in message and "Traceback" not in stopped.stderr
    assert not list(out.glob("_parts/*.json")), "no part ran"
    resumed = dataprep([*args, "--error-budget", "0.5"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["quarantine"]["files"] == 1 and stats["output"]["kept"] + stats["output"]["removed"] == 300
