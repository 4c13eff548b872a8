"""`dataprep explain` and `dataprep inspect` on samples/, checked against what a real run did."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO, SAMPLES, read_folder, run_pipeline
from dataprep import cli

SHARDS = str(SAMPLES / "shard-*.parquet")  # the real-text shards (samples/ holds other files too)
SAMPLE = 700  # documents: enough for repetition, C4 and exact-duplicate removals among them
STAGES = [
    {"normalize": {}},
    {"length": {"min_words": 5}},
    {"language": {"languages": ["en"], "min_score": 0.65}},
    {"gopher_repetition": {}},
    {"c4_quality": {}},
    {"exact_dedup": {}},
]
NAMES = [next(iter(s)) for s in STAGES]


@pytest.fixture(scope="module")
def sample_run(ray_session, tmp_path_factory):
    """The stages run on the first SAMPLE documents, and the same pipeline as a YAML for inspect."""
    root = tmp_path_factory.mktemp("explain")
    stats = run_pipeline(STAGES, SHARDS, root / "out", limit=SAMPLE)
    yaml_path = root / "pipeline.yaml"
    yaml_path.write_text(yaml.safe_dump({"name": "inspect-test", "input": SHARDS, "stages": STAGES}))
    return stats, root / "out", yaml_path, read_folder(root / "out" / "removed").to_pylist()


def explain(out, doc_id, capsys) -> str:
    assert cli.main(["explain", str(out), "--id", doc_id]) == 0
    return capsys.readouterr().out


def stage_line(text: str, name: str) -> str:
    return re.search(rf"^ +\d+ {name} \(\w+\): .*$", text, re.M).group(0)


def test_explain_a_repetition_removal(sample_run, capsys):
    _, out, _, removed = sample_run
    row = next(r for r in removed if r["stage"] == "gopher_repetition")
    text = explain(out, row["id"], capsys)
    code = row["reason"].split(".")[1]
    assert stage_line(text, "gopher_repetition").endswith(f"REMOVED {row['reason']}")
    for name in ("normalize", "length", "language"):
        assert stage_line(text, name).endswith("passed")
    for name in ("c4_quality", "exact_dedup"):
        assert stage_line(text, name).endswith("not reached")
    # the failing rule's value, as the ledger recorded it, against its threshold
    line = re.search(rf"^ +{code} = ([\d.,e+-]+) +\[(.*)\]$", text, re.M)
    assert line and "FAILS" in line.group(2)
    assert float(line.group(1).replace(",", "")) == pytest.approx(json.loads(row["details"])[code], rel=1e-3)
    # every value the stage measured is listed, each against its own threshold; the n-gram rules
    # come after the line and paragraph rules and, as in datatrove, are measured only where those keep
    measured = 13 if re.match(r"(top|dup)_\d+gram", code) else 4
    assert len(re.findall(r"^ +(dup|top)_\w+ = \S+ +\[\w+(\.\d+)?: needs <= [\d.]+: (ok|FAILS)\]$", text, re.M)) == measured
    words = int(re.search(r"^ +words = ([\d,]+)", text, re.M).group(1).replace(",", ""))
    assert words == len(row["text"].split())  # length's word count is the whitespace split of the text


def test_explain_a_kept_document(sample_run, capsys):
    _, out, _, _ = sample_run
    kept = read_folder(out / "kept").to_pylist()[0]
    text = explain(out, kept["id"], capsys)
    assert text.startswith(f"id: {kept['id']}\nkept: it passed every stage")
    assert "FAILS" not in text and "REMOVED" not in text
    assert all(stage_line(text, name).endswith("passed") for name in NAMES)
    sentences = int(re.search(r"^ +sentences = ([\d,]+) +\[min_sentences: needs >= 5: ok\]$", text, re.M).group(1))
    assert sentences >= 5


def test_explain_an_exact_duplicate(sample_run, capsys):
    _, out, _, removed = sample_run
    row = next(r for r in removed if r["reason"] == "exact_dedup.exact_dup")
    text = explain(out, row["id"], capsys)
    assert stage_line(text, "exact_dedup").endswith("REMOVED exact_dedup.exact_dup")
    original = json.loads(row["details"])["duplicate_of"]
    assert f"duplicate_of: {original}" in text
    assert f"  the same normalized text as {original} when exact_dedup compared them\n" in text and "Jaccard" not in text


def test_explain_says_an_exact_duplicate_was_exact_when_a_later_stage_changed_the_kept_copy(ray_session, tmp_path, capsys):
    """pii redacted the kept copy's names after exact_dedup: explain printed "Jaccard similarity
    ... 0.771" for a document exact_dedup had found identical."""
    text = max(pq.read_table(SAMPLES / "shard-00.parquet", columns=["text"])["text"].to_pylist()[:40], key=len)
    text = "Alice Johnson and Robert Miller wrote this page in Chicago.\n" + text
    inputs = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a1", "a2"], "text": [text, text]}), inputs)
    out = tmp_path / "out"
    run_pipeline([{"exact_dedup": {}}, {"pii": {}}], inputs, out)
    shown = explain(out, "a2", capsys)
    similarity = float(re.search(r"  the same normalized text as a1 when exact_dedup compared them; a later stage changed the "
                                 r"kept copy since \(Jaccard of word 5-grams now ([0-9.]+)\)", shown).group(1))
    assert similarity < 1, shown


def inspect(yaml_path, stage, capsys) -> tuple[str, dict[str, str], set[str]]:
    """inspect's output, the ids it lists as removed (with reasons) and as changed."""
    assert cli.main(["inspect", str(yaml_path), "--stage", stage, "--sample", str(SAMPLE)]) == 0
    text = capsys.readouterr().out
    removed = dict(re.findall(r"^--- REMOVED (\S+): (\S+)", text, re.M))
    changed = set(re.findall(r"^~~~ CHANGED (\S+):(?: |$)", text, re.M))
    return text, removed, changed


@pytest.mark.parametrize("stage", ["gopher_repetition", "c4_quality", "exact_dedup"])
def test_inspect_shows_what_the_run_removed(sample_run, stage, capsys):
    stats, _, yaml_path, ledger = sample_run
    text, removed, changed = inspect(yaml_path, stage, capsys)
    counts = stats["stages"][NAMES.index(stage)]
    assert text.startswith(f"{stage} (")
    assert f"{SAMPLE} records read (0 quarantined), {counts['in']} reached it" in text.splitlines()[0]
    assert removed == {r["id"]: r["reason"] for r in ledger if r["stage"] == stage}
    assert removed, f"{stage} removes something from {SAMPLE} sample documents"
    if stage != "c4_quality":
        assert not changed, "a filter or dedup stage does not rewrite text"


def test_inspect_diffs_the_lines_c4_removed(sample_run, capsys):
    _, out, yaml_path, _ = sample_run
    text, _, changed = inspect(yaml_path, "c4_quality", capsys)
    trimmed = {r["id"]: r["c4_lines_removed"] for r in read_folder(out / "kept").to_pylist() if r["c4_lines_removed"] > 0}
    assert trimmed and set(trimmed) <= changed
    blocks = re.split(r"^(?=~~~ |--- )", text, flags=re.M)
    for block in blocks:
        match = re.match(r"~~~ CHANGED (\S+): c4_lines_removed=(\d+)", block)
        if match and match.group(1) in trimmed:
            assert int(match.group(2)) == trimmed[match.group(1)]
            assert re.search(r"^  -", block, re.M), "the removed lines are shown"


def test_inspect_errors_are_one_line(sample_run, capsys):
    _, _, yaml_path, _ = sample_run
    assert cli.main(["inspect", str(yaml_path), "--stage", "no_such_stage", "--sample", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no stage 'no_such_stage'" in err and "gopher_repetition" in err


def test_inspect_reaches_a_stage_the_pipeline_holds_twice_by_its_position(tmp_path, capsys):
    """`--stage length` could only reach the first of two length stages."""
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: t\nstages:\n  - length: {min_words: 1}\n  - normalize: {}\n  - length: {min_words: 200}\n")
    shard = str(SAMPLES / "shard-00.parquet")
    assert cli.main(["inspect", str(pipeline), "--stage", "length", "--input", shard, "--sample", "40"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("length (filter), stage 1 of 3 (the first length: --stage with a position names another)")
    assert cli.main(["inspect", str(pipeline), "--stage", "3", "--input", shard, "--sample", "40"]) == 0
    second = capsys.readouterr().out
    assert second.startswith("length (filter), stage 3 of 3: 40 records read") and "length.too_few_words" in second
    assert "length.too_few_words" not in first.split("\n")[1]
    assert cli.main(["inspect", str(pipeline), "--stage", "4", "--input", shard]) == 2
    assert "no stage '4' in the pipeline; its stages: 1. length, 2. normalize, 3. length" in capsys.readouterr().err


def test_inspect_on_another_input(sample_run, capsys):
    _, _, yaml_path, _ = sample_run
    shard = SAMPLES / "shard-02.parquet"
    assert cli.main(["inspect", str(yaml_path), "--stage", "length", "--sample", "50", "--input", str(shard)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("length (filter), stage 2 of 6: 50 records read (0 quarantined), 50 reached it")
    ids = set(pq.read_table(shard, columns=["id"]).column("id").to_pylist()[:50])
    removed = re.findall(r"^--- REMOVED (\S+): length\.too_few_words \{\"chars\": \d+, \"words\": [0-4]\}$", text, re.M)
    assert removed and set(removed) <= ids
    assert len(removed) == text.count("--- REMOVED")


def test_a_value_is_shown_apart_from_the_bound_it_passes_or_fails():
    """A language score of 0.6500000357627869 passes `min_score: 0.65` (it must exceed it) and
    0.6499999761581421 (0.65 as float32) fails it: four digits showed both as 0.65."""
    from dataprep.explain import _check, _number

    rule = {"param": "min_score", "metric": "language_score", "bound": 0.65, "side": "above"}
    above, at = float(np.float32(0.65000004)), float(np.float32(0.65))
    shown = {value: (_number(value, [0.65]), _check(value, rule, {})) for value in (above, at)}
    assert shown[above][0] != "0.65" and shown[above][1].endswith("ok")
    assert shown[at][0] != "0.65" and shown[at][1].endswith("FAILS")
    assert _number(0.8, [0.65]) == "0.8" and _number(0.6500000357627869) == "0.65"


def test_control_characters_of_a_page_do_not_reach_the_terminal():
    """A page's text or title may hold escape sequences (one sets the terminal's title, others
    its colours or hide text): explain and inspect write them as \\xNN."""
    from dataprep.cli import printable

    assert printable("title=\x1b]0;owned\x07 ok\x9b\r") == "title=\\x1b]0;owned\\x07 ok\\x9b\\x0d"
    assert printable("lines\n\tstay") == "lines\n\tstay"


def test_inspect_shows_the_text_extract_made_not_a_diff_of_markup(capsys):
    """A page turned into text is shown as the text it now is: a line diff buried it among
    hundreds of removed lines of markup (`-<meta ...>`)."""
    pipeline = REPO / "pipelines" / "web.yaml"
    assert cli.main(["inspect", str(pipeline), "--stage", "extract", "--sample", "30"]) == 0
    text = capsys.readouterr().out
    blocks = [b for b in re.split(r"^(?=~~~ |--- )", text, flags=re.M) if b.startswith("~~~ CHANGED")]
    assert blocks and all("text made anew from" in b and re.search(r"^  \| \S", b, re.M) for b in blocks)
    assert not re.search(r"^  -<", text, re.M), "no markup diff"


def test_inspect_reads_what_a_run_reads_and_counts_it(tmp_path, capsys):
    """Files whose column has other types (a run keeps their parts apart: it was an internal
    error here), and rows the read quarantines, counted as records read."""
    texts = pq.read_table(SAMPLES / "shard-00.parquet", columns=["text"]).column("text").to_pylist()[:6]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    pq.write_table(pa.table({"text": texts[:3], "x": [1, 2, 3]}), mixed / "a.parquet")
    pq.write_table(pa.table({"text": [None, *texts[3:]], "x": ["a", "b", "c", "d"]}), mixed / "b.parquet")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: t\nstages:\n  - length: {min_words: 1}\n")
    assert cli.main(["inspect", str(pipeline), "--stage", "length", "--input", str(mixed)]) == 0
    assert capsys.readouterr().out.startswith("length (filter), stage 1 of 1: 7 records read (1 quarantined), 6 reached it")


def test_inspect_quarantines_a_repeated_id_as_a_run_does(ray_session, tmp_path, capsys):
    """Ids repeated within and across files: inspect read them all, a filter then showed one as
    text "made anew" (the other record's text under the same id) and exact_dedup removed a
    document twice, with the wrong text. It quarantines the later records of an id, as a run."""
    texts = pq.read_table(SAMPLES / "shard-00.parquet", columns=["text"]).column("text").to_pylist()[:4]
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["d1", "d1", "d2"], "text": [texts[0], texts[1], texts[2]]}), folder / "a.parquet")
    pq.write_table(pa.table({"id": ["d2", "d3"], "text": [texts[3], texts[2]]}), folder / "b.parquet")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: t\nstages:\n  - length: {min_words: 1}\n  - exact_dedup: {}\n")
    assert cli.main(["inspect", str(pipeline), "--stage", "length", "--input", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("length (filter), stage 1 of 2: 5 records read (2 quarantined), 3 reached it") and "CHANGED" not in shown
    assert cli.main(["inspect", str(pipeline), "--stage", "exact_dedup", "--input", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert shown.count("--- REMOVED") == 1 and "--- REMOVED d3: exact_dedup.exact_dup" in shown and '"duplicate_of": "d2"' in shown
    stats = run_pipeline([{"length": {"min_words": 1}}, {"exact_dedup": {}}], folder, tmp_path / "out", error_budget=1.0)
    assert stats["quarantine"]["read_rows"] == 2 and stats["stages"][1]["removed"] == {"exact_dedup.exact_dup": 1}


@pytest.mark.parametrize("ledger_text", ["full", "none"])
def test_explain_follows_a_duplicate_whose_original_was_removed_later(ray_session, tmp_path, capsys, ledger_text):
    """An exact copy of a page that minhash then removed as a near duplicate of a third: explain
    named only the page it copied; it follows the chain to the copy kept. Without ledger text it
    printed a similarity of 0.000 for an identical copy: it says nothing was measured."""
    text = max(pq.read_table(SAMPLES / "shard-00.parquet", columns=["text"])["text"].to_pylist(), key=len)
    near = text + "\nOne more line, added at the end of the near copy of the page."
    inputs = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["g1a", "g1b", "zcopy"], "text": [text, near, near]}), inputs)
    out = tmp_path / "out"
    run_pipeline([{"exact_dedup": {}}, {"minhash_dedup": {}}], inputs, out, ledger_text=ledger_text)
    shown = explain(out, "zcopy", capsys)
    assert "duplicate_of: g1b" in shown and "g1b was removed too, by stage minhash_dedup" in shown, shown
    assert "(a duplicate of g1a)" in shown and "the copy kept: g1a" in shown, shown
    if ledger_text == "none":  # it printed `text (0 chars): ''`, as for an empty document
        assert "Jaccard" not in shown and "similarity not measured" in shown, shown
        assert "text: not recorded (the run's ledger_text: none)" in shown and "0 chars" not in shown, shown
    else:
        assert "the same normalized text as g1b when exact_dedup compared them\n" in shown, shown
