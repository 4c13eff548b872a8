"""A run killed with SIGKILL and started again gives the same output as an uninterrupted run."""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import REPO, SAMPLES, read_folder, run_pipeline

# a global stage after a per-document one: normalize's tasks write exact_dedup's keys, which the
# killed run leaves for some parts only
PIPELINE = "name: resume\nstages:\n  - normalize: {}\n  - exact_dedup: {}\n  - length: {min_words: 8}\n"
FILES = 80


def contents(out):
    """kept/ and removed/ as sorted row lists (the order of parts on disk is irrelevant)."""
    result = {}
    for folder in ("kept", "removed"):
        table = read_folder(out / folder)
        result[folder] = sorted(table.to_pylist(), key=lambda r: r["id"])
    return result


def working_in(folder: Path) -> list[str]:
    """The command lines of the processes whose working folder is `folder` (from /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(proc / "cwd") == str(folder):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone, or not ours to read
            continue
    return found


def command(yaml_path, inputs, out):
    return [sys.executable, "-m", "dataprep.cli", "run", str(yaml_path), "--input", str(inputs), "--output", str(out), "--no-progress"]


@pytest.mark.parametrize("sent", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_kill_and_resume(ray_session, tmp_path, sample_docs, sent):
    """SIGKILL, or the SIGTERM a batch scheduler sends to the job's processes (which stops the
    run with one line, as Ctrl-C does), then the same command: the output of an uninterrupted run."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    per_file = -(-sample_docs.num_rows // FILES)
    for i in range(FILES):
        pq.write_table(sample_docs.slice(i * per_file, per_file), inputs / f"shard-{i:03d}.parquet")
    yaml_path = tmp_path / "p.yaml"
    yaml_path.write_text(PIPELINE)

    reference = tmp_path / "reference"
    stats = run_pipeline([{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 8}}], inputs, reference, name="resume")
    assert sum(stats["stages"][1]["removed"].values()) > 0

    out = tmp_path / "killed"
    here = tmp_path / "cwd"  # the killed run's processes are those working here
    here.mkdir()
    launched = time.time()
    proc = subprocess.Popen(command(yaml_path, inputs, out), start_new_session=True, cwd=here,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        done = len(list((out / "_parts").glob("*.json"))) if (out / "_parts").exists() else 0
        if done >= 3:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, sent)
    _, err = proc.communicate(timeout=120)
    ended = time.time()  # a task in flight may still commit its part after the signal, not after the processes end
    if sent == signal.SIGTERM:
        assert proc.returncode == 130 and err.strip().splitlines()[-1] == "dataprep: interrupted; run the same command again to resume", err
        assert "SIGTERM received" not in err
        # the embedded node's processes end with the run (the raylet's agents outlived it a minute or more)
        time.sleep(1)
        assert not working_in(here), working_in(here)
    done = len(list((out / "_parts").glob("*.json")))
    assert 3 <= done < FILES, f"the kill must land mid-run ({done} of {FILES} parts were done)"
    assert not (out / "stats.json").exists()

    finished = subprocess.run(command(yaml_path, inputs, out), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "invariant OK" in finished.stdout
    assert contents(out) == contents(reference)
    assert not list(out.rglob("*.tmp")), "half-written files of the killed run are cleaned up"
    # the run's time adds the killed attempt's, until its last committed part
    first, second = json.loads((out / "stats.json").read_text())["attempts"]
    assert 0 < first < ended - launched and second > 0


def test_a_resolve_that_would_fill_the_disk_stops_before_its_shuffle_and_resumes(ray_session, tmp_path, sample_docs, monkeypatch):
    """The free space of the work folder's disk (read for real) is checked against what the
    resolve's shuffles will write, before they start: a resolve that cannot fit stops with
    NoSpace (the CLI's one line, exit status 6) and writes nothing; the same run then resumes to
    the output of an undisturbed one."""
    from dataprep import resolution, storage
    from dataprep.cli import STOPPED_STATUS
    from dataprep.errors import NoSpace

    monkeypatch.setattr("dataprep.stages.exact_dedup.ExactDedup.resolves_tables", False)  # the shuffles on Ray Data
    stages = [{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 8}}]
    reference = tmp_path / "reference"
    run_pipeline(stages, sample_docs_file(sample_docs, tmp_path), reference)
    assert storage.free_bytes(str(tmp_path / "not" / "yet")) > 0 and storage.free_bytes("s3://bucket/work") is None

    out = tmp_path / "out"
    monkeypatch.setattr(resolution, "SHUFFLE_SPACE", 2.0**80)  # keys x 2^80 bytes: more than any disk holds
    with pytest.raises(NoSpace) as stopped:
        run_pipeline(stages, sample_docs_file(sample_docs, tmp_path), out)
    message = str(stopped.value)
    assert message.startswith("exact_dedup's resolve writes about ") and "GiB free" in message and "--work-dir" in message
    assert STOPPED_STATUS[NoSpace] == 6 and "\n" not in message
    assert not (out / "_work" / "shuffle").exists(), "nothing of the shuffle was written"
    assert list((out / "_parts").glob("s0-*.json")), "normalize's parts are kept for the resume"
    monkeypatch.setattr(resolution, "SHUFFLE_SPACE", 2.5)
    stats = run_pipeline(stages, sample_docs_file(sample_docs, tmp_path), out)
    assert stats["invariant_ok"] and sum(stats["stages"][1]["removed"].values()) > 0
    assert contents(out) == contents(reference)


def sample_docs_file(sample_docs, tmp_path):
    path = tmp_path / "in.parquet"
    if not path.exists():
        pq.write_table(sample_docs, path, row_group_size=200)  # several parts
    return path


def test_an_output_that_holds_or_lies_in_the_input_is_refused(ray_session, tmp_path, sample_docs):
    """Writing into the input folder would overwrite it (and --overwrite delete it); an output
    inside it would be read as input by the rerun. The same through a link to the input's folder
    (once outputs were resolved through links, the input as typed no longer matched them, and
    --overwrite deleted the input)."""
    from dataprep import pipeline
    from dataprep.errors import ConfigError
    from dataprep.run import run

    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(sample_docs.slice(0, 50), inputs / "shard.parquet")
    link = tmp_path / "link"
    link.symlink_to(inputs)
    for spelled, output, overwrite, refusal in ((inputs, inputs, True, "holds the input file"),
                                                (inputs, inputs / "out", False, "lies inside the input folder"),
                                                (f"{inputs}/*.parquet", inputs / "out", False, "lies inside the input folder"),
                                                (inputs, tmp_path, True, "holds the input file"),
                                                (link, link, True, "holds the input file"), (inputs, link, True, "holds the input file"),
                                                (link, inputs / "out", False, "lies inside the input folder")):
        spec = {"name": "apart", "input": str(spelled), "output": str(output), "stages": [{"length": {}}]}
        with pytest.raises(ConfigError, match=refusal):
            run(pipeline.from_dict(spec), overwrite=overwrite)
        assert (inputs / "shard.parquet").exists()

    # inside another run's output: reading that run's kept/ as a dataset read this run's report.html
    first = run(pipeline.from_dict({"name": "outer", "input": str(inputs), "output": str(tmp_path / "outer"), "stages": [{"length": {}}]}))
    assert first["invariant_ok"]
    for inner in (tmp_path / "outer" / "kept" / "nested", tmp_path / "outer" / "again"):
        with pytest.raises(ConfigError, match=f"lies inside the output of another run, {tmp_path / 'outer'}:"):
            run(pipeline.from_dict({"name": "inner", "input": str(inputs), "output": str(inner), "stages": [{"length": {}}]}))
        assert not inner.exists()


def test_a_resume_refuses_a_work_folder_that_lost_the_interrupted_runs_documents(ray_session, tmp_path, sample_docs):
    """A run stopped after its first segment, whose work folder was then cleaned (or given as
    another --work-dir), would read every part as having kept nothing: it is refused instead;
    --overwrite starts again. A finished run that lost its report (stopped just before writing
    it) gets it back when run again."""
    from dataprep import pipeline
    from dataprep.errors import ConfigError
    from dataprep.run import run

    stages = [{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 8}}]
    out = tmp_path / "out"
    spec = {"name": "work", "input": str(sample_docs_file(sample_docs, tmp_path)), "output": str(out), "stages": stages,
            "keep_work": True}  # kept, as a run stopped before its end leaves it
    finished, before = run(pipeline.from_dict(spec)), contents(out)
    (out / "report.html").unlink()
    again = run(pipeline.from_dict(spec))
    assert again["already_finished"] and (out / "report.html").exists()

    # as a kill after the first segment leaves it: no stats, no later markers; then the scratch is cleaned
    (out / "stats.json").unlink()
    for marker in (out / "_parts").glob("s[12]-*.json"):
        marker.unlink()
    for kept in (out / "_work" / "s0").glob("part-*.parquet"):
        kept.unlink()
    with pytest.raises(ConfigError, match="lacks what the interrupted run kept of part"):
        run(pipeline.from_dict(spec))
    redone = run(pipeline.from_dict(spec), overwrite=True)
    assert redone["invariant_ok"] and contents(out) == before and redone["output"] == finished["output"]


def test_the_same_files_spelled_otherwise_are_the_same_run_and_overwrite_clears_the_old_work_folder(ray_session, tmp_path, sample_docs):
    """A finished run is recognised whether --input names the folder with or without its slash or
    by a glob; --overwrite deletes the replaced run's work folder, under whichever --work-dir it had."""
    from dataprep import pipeline
    from dataprep.run import run

    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(sample_docs.slice(0, 300), inputs / "shard.parquet")
    work = tmp_path / "work"
    stages = [{"normalize": {}}, {"exact_dedup": {}}]
    spec = {"name": "spelled", "output": str(tmp_path / "out"), "work_dir": str(work), "stages": stages,
            "keep_work": True}  # kept, as a run stopped before its end leaves it
    first = run(pipeline.from_dict({**spec, "input": f"{inputs}/"}))
    for spelled in (str(inputs), f"{inputs}/*.parquet"):
        assert run(pipeline.from_dict({**spec, "input": spelled})).get("already_finished"), spelled
    (old,) = [p.name for p in work.iterdir()]
    replaced = run(pipeline.from_dict({**spec, "input": str(inputs), "stages": [{"normalize": {}}, {"length": {}}, {"exact_dedup": {}}]}),
                   overwrite=True)
    assert first["invariant_ok"] and replaced["invariant_ok"]
    assert old not in [p.name for p in work.iterdir()], "the replaced run's work folder is deleted"
    (kept,) = list(work.iterdir())
    elsewhere = tmp_path / "other_work"
    again = run(pipeline.from_dict({**spec, "input": str(inputs), "work_dir": str(elsewhere)}), overwrite=True)
    assert again["invariant_ok"] and not kept.exists(), "the work folder under the replaced run's own --work-dir is deleted"
    (moved,) = list(elsewhere.iterdir())
    inside = run(pipeline.from_dict({k: v for k, v in spec.items() if k != "work_dir"} | {"input": str(inputs)}), overwrite=True)
    assert inside["invariant_ok"] and not moved.exists() and (tmp_path / "out" / "_work").is_dir()


def test_a_resume_with_another_work_dir_is_refused_before_any_part_runs(ray_session, tmp_path, sample_docs):
    """An interrupted run resumed with another --work-dir ran the first segment's remaining parts
    into the new folder before its check refused; resumed then with the right one, the global
    stage missed those parts' documents (the invariant broke: 442 documents lost). It is refused
    before any part runs, and the right --work-dir then finishes the run as if never stopped."""
    from dataprep import pipeline
    from dataprep.errors import ConfigError
    from dataprep.run import run

    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(4):
        pq.write_table(sample_docs.slice(i * 100, 100), inputs / f"shard-{i}.parquet")
    out = tmp_path / "out"
    spec = {"name": "moved", "input": str(inputs), "output": str(out), "work_dir": str(tmp_path / "a"), "keep_work": True,
            "stages": [{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 8}}]}
    finished = run(pipeline.from_dict(spec))
    before = contents(out)
    (out / "stats.json").unlink()  # as if stopped in the first segment: two of its parts done, nothing after
    markers = sorted((out / "_parts").glob("*.json"))
    for marker in [m for m in markers if not m.name.startswith("s0-")] + [m for m in markers if m.name.startswith("s0-")][2:]:
        marker.unlink()
    left = sorted(p.name for p in (out / "_parts").glob("*.json"))
    for elsewhere in ({**spec, "work_dir": str(tmp_path / "b")}, {k: v for k, v in spec.items() if k != "work_dir"}):
        with pytest.raises(ConfigError, match="holds an unfinished run that kept its work under --work-dir"):
            run(pipeline.from_dict(elsewhere))
        assert sorted(p.name for p in (out / "_parts").glob("*.json")) == left, "no part ran"
    resumed = run(pipeline.from_dict(spec))
    assert resumed["invariant_ok"] and contents(out) == before and resumed["output"] == finished["output"]


def test_work_folders_and_outputs_reached_through_links_are_the_folders_behind_them(ray_session, tmp_path, sample_docs):
    """A --work-dir link pointed elsewhere since the run began is another folder (run.json records
    where it led: the resume ran parts into the new target, and 816 documents were lost); the
    folder it led to is the same one. --overwrite of an output given as a link replaces the run
    behind it and keeps the link (it replaced the link, and the new run's resume was refused)."""
    from dataprep import pipeline
    from dataprep.errors import ConfigError
    from dataprep.run import run

    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        pq.write_table(sample_docs.slice(i * 100, 100), inputs / f"shard-{i}.parquet")
    (tmp_path / "scratch_a").mkdir()
    (tmp_path / "scratch_b").mkdir()
    link = tmp_path / "scratch"
    link.symlink_to(tmp_path / "scratch_a")
    real = tmp_path / "real_out"
    real.mkdir()
    out = tmp_path / "out"
    out.symlink_to(real)
    spec = {"name": "linked", "input": str(inputs), "output": str(out), "work_dir": str(link), "keep_work": True,
            "stages": [{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 8}}]}
    run(pipeline.from_dict(spec))
    before = contents(out)
    (out / "stats.json").unlink()  # stopped in the first segment, one part done
    for marker in sorted((out / "_parts").glob("*.json"))[1:]:
        marker.unlink()
    link.unlink()
    link.symlink_to(tmp_path / "scratch_b")
    with pytest.raises(ConfigError, match="holds an unfinished run that kept its work under"):
        run(pipeline.from_dict(spec))
    assert run(pipeline.from_dict({**spec, "work_dir": str(tmp_path / "scratch_a")}))["invariant_ok"] and contents(out) == before
    replaced = run(pipeline.from_dict({**spec, "work_dir": str(tmp_path / "scratch_a"), "stages": spec["stages"][:2]}), overwrite=True)
    assert replaced["invariant_ok"] and out.is_symlink() and (real / "run.json").is_file()
    (work,) = [p.name for p in (tmp_path / "scratch_a").iterdir()]  # the replaced run's is gone
    assert work.startswith(json.loads((real / "run.json").read_text())["fingerprint"] + "-")


def test_a_run_whose_output_was_deleted_by_hand_starts_afresh_and_a_damaged_record_is_overwritten(ray_session, tmp_path, sample_docs):
    """An output deleted by hand, its work folder elsewhere kept: the next run reused that stale
    work (its tokenizer gone with the output), quarantined every kept document and exited 0. A
    fresh run clears its work folder. A damaged run.json is a one-line refusal, and --overwrite
    replaces it (it raised an internal error)."""
    import shutil

    from dataprep import pipeline
    from dataprep.errors import ConfigError
    from dataprep.run import run

    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(sample_docs.slice(0, 200), inputs / "shard.parquet")
    out = tmp_path / "out"
    spec = {"name": "deleted", "input": str(inputs), "output": str(out), "work_dir": str(tmp_path / "work"),
            "stages": [{"normalize": {}}, {"length": {"min_words": 8}}, {"train_tokenizer": {"model_type": "byte_level_bpe", "vocab_size": 300}},
                       {"tokenize": {}}]}
    first = run(pipeline.from_dict(spec))
    before = contents(out)
    shutil.rmtree(out)
    again = run(pipeline.from_dict(spec))
    assert again["invariant_ok"] and again["output"] == first["output"] and first["output"]["quarantined"] == 0 and contents(out) == before
    (out / "run.json").write_text('{"fingerprint": "77fd', encoding="utf-8")
    with pytest.raises(ConfigError, match="holds a damaged run.json; pass --overwrite"):
        run(pipeline.from_dict(spec))
    assert run(pipeline.from_dict(spec), overwrite=True)["invariant_ok"] and contents(out) == before


def test_a_command_that_never_reached_ray_is_no_attempt(ray_session, tmp_path, sample_docs):
    """A run whose Ray address answered nothing was counted as an attempt of 0 s in stats.json."""
    from dataprep import pipeline
    from dataprep.errors import ConfigError
    from dataprep.run import run

    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(sample_docs.slice(0, 50), inputs / "shard.parquet")
    spec = {"name": "unreached", "input": str(inputs), "output": str(tmp_path / "out"), "stages": [{"length": {}}]}
    with pytest.raises(ConfigError, match="nothing answers there"):
        run(pipeline.from_dict({**spec, "ray_address": "127.0.0.1:9"}))
    assert len(run(pipeline.from_dict(spec))["attempts"]) == 1


def test_a_sigterm_while_ray_starts_is_one_line(tmp_path):
    """A SIGTERM that lands while Ray starts (here: right after its node is up, before the run
    sets its own handler) aborted the process (status 134, an empty log): Ray's crash handler
    took it. It is held until Ray has started, then stops the run as Ctrl-C does."""
    script = (
        "import os, signal, sys\n"
        "from dataprep import cli, runtime\n"
        "started = runtime._start_embedded\n"
        "def then_terminated(*args, **kwargs):\n"
        "    started(*args, **kwargs)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "runtime._start_embedded = then_terminated\n"
        f"sys.argv = ['dataprep', 'run', {str(REPO / 'pipelines' / 'dedup.yaml')!r}, '--input', {str(SAMPLES / 'shard-00.parquet')!r},"
        f" '--output', {str(tmp_path / 'out')!r}, '--no-progress']\n"
        "sys.exit(cli.main())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 130, (result.returncode, result.stderr[-2000:])
    assert result.stderr.strip().splitlines() == ["dataprep: interrupted; run the same command again to resume"]


def test_an_unfinished_run_of_another_version_is_not_resumed(ray_session, tmp_path, sample_docs):
    """Parts written by another dataprep version may differ from this one's (HTML ids kept their
    suffix in 0.2.0): a resume would mix them, so it is refused in one line; a finished run of
    another version is reported as finished."""
    from dataprep import pipeline
    from dataprep.errors import ConfigError
    from dataprep.run import run

    pq.write_table(sample_docs.slice(0, 100), tmp_path / "in.parquet")
    spec = pipeline.from_dict({"name": "versions", "input": str(tmp_path / "in.parquet"), "output": str(tmp_path / "out"),
                               "stages": [{"normalize": {}}]})
    run(spec)
    record = tmp_path / "out" / "run.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "version": "0.0.9"}))
    assert run(spec).get("already_finished")
    (tmp_path / "out" / "stats.json").unlink()  # as if stopped before the end
    with pytest.raises(ConfigError, match=r"holds a run started by dataprep 0\.0\.9, and this is .*pass --overwrite"):
        run(spec)
    assert run(spec, overwrite=True)["invariant_ok"]


def test_an_output_reached_through_a_link_has_the_same_work_folder(tmp_path):
    """The work folder under --work-dir is named by the output folder itself: reached through a
    link it is the same run, whose resume must find what it kept."""
    from dataprep.layout import OutputLayout

    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    work = str(tmp_path / "scratch")
    assert OutputLayout.of(str(tmp_path / "alias" / "out"), work, "f").work == OutputLayout.of(str(tmp_path / "real" / "out"), work, "f").work
    assert OutputLayout.of(str(tmp_path / "real" / "other"), work, "f").work != OutputLayout.of(str(tmp_path / "real" / "out"), work, "f").work


def test_a_finished_run_deletes_its_work_folder_unless_told_to_keep_it(ray_session, tmp_path, sample_docs):
    """A finished run left what each segment kept (a copy of the corpus per segment) and the global
    stages' keys in its work folder, on a store for good under --work-dir: it deletes them, and a
    rerun still finds the run finished; keep_work keeps them."""
    from dataprep import pipeline
    from dataprep.run import run

    stages = [{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 8}}]
    scratch = tmp_path / "scratch"
    for work_dir in (None, str(scratch)):
        spec = {"name": "clean", "input": str(sample_docs_file(sample_docs, tmp_path)), "work_dir": work_dir, "stages": stages}
        cleaned, kept = (tmp_path / f"{name}-{bool(work_dir)}" for name in ("cleaned", "kept"))
        finished = run(pipeline.from_dict({**spec, "output": str(cleaned)}))
        kept_run = run(pipeline.from_dict({**spec, "output": str(kept), "keep_work": True}))
        assert finished["invariant_ok"] and finished["output"] == kept_run["output"] and contents(cleaned) == contents(kept)
        if work_dir is None:
            assert not (cleaned / "_work").exists() and list((kept / "_work").glob("s0/part-*.parquet"))
        else:  # one folder per output under the shared --work-dir: the kept run's alone is left
            (left,) = scratch.iterdir()
            assert list(left.glob("s0/part-*.parquet")), "keep_work keeps each segment's documents"
        assert run(pipeline.from_dict({**spec, "output": str(cleaned)}))["already_finished"]


def test_an_input_file_replaced_during_the_run_stops_it(ray_session, tmp_path, sample_docs):
    """An input object overwritten midway by one of the same shape gave a run of two files'
    records that ended "invariant OK": each part's files (a bundle's pages each) are checked
    against the versions planned (and fingerprinted in run.json) before they are read."""
    from dataclasses import replace

    from dataprep import documents
    from dataprep.errors import ConfigError
    from dataprep.run import _check_unchanged, _versions

    path = tmp_path / "in.parquet"
    pq.write_table(sample_docs.slice(0, 50), path)
    (part,), _ = documents.plan([str(path)], "text", documents.PART_BYTES, None)
    part = replace(part, versions=(tuple(_versions([str(path)])[0][1:]),))
    size, mtime = part.versions[0]
    _check_unchanged(part)  # as planned: read
    os.utime(path, ns=(mtime, mtime + 10**9))  # the same bytes, written again
    with pytest.raises(ConfigError, match=f"the input file {path} changed during the run .* run again with --overwrite"):
        _check_unchanged(part)
    pq.write_table(sample_docs.slice(50, 60), path)
    with pytest.raises(ConfigError, match=rf"\({size:,} bytes -> {path.stat().st_size:,} bytes"):
        _check_unchanged(part)
    path.unlink()
    with pytest.raises(ConfigError, match=rf"\({size:,} bytes -> gone"):
        _check_unchanged(part)
    pages = tmp_path / "pages"
    pages.mkdir()
    for name in ("a.html", "b.html"):
        (pages / name).write_text(f"<html><body><p>{sample_docs['text'][0].as_py()}</p></body></html>")
    files = sorted(str(p) for p in pages.iterdir())
    (bundle,), _ = documents.plan(files, "text", documents.PART_BYTES, None)
    bundle = replace(bundle, versions=tuple(tuple(v[1:]) for v in _versions(files)))
    _check_unchanged(bundle)
    (pages / "b.html").write_text("<html><body><p>another page</p></body></html>")
    with pytest.raises(ConfigError, match=f"the input file {pages / 'b.html'} changed during the run"):
        _check_unchanged(bundle)
    # a real run sets each part's versions, and reads an unchanged input through
    out = tmp_path / "out"
    stats = run_pipeline([{"extract": {}}], pages, out, input_format="html")
    assert stats["invariant_ok"] and stats["input"]["docs"] == 2
