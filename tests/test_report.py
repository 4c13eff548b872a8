"""report.html on a real run of samples/: rendered by headless Chromium with no network, recorded
metrics that cover every document, thresholds that reproduce the filters' own decisions, and a
tuning table that agrees with an actual rerun at the other threshold."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from conftest import SAMPLES, read_folder, run_pipeline
from dataprep import cli, highlight, metrics, report
from dataprep.errors import ConfigError
from dataprep.pipeline import build_stage
from dataprep.stages.base import REGISTRY, SIDES, TextBatch, fails, tuning_bounds
from dataprep.stages.normalize import Normalize

SHARDS = str(SAMPLES / "shard-*.parquet")  # the real-text shards (samples/ holds other files too)
STAGES = [
    {"normalize": {}},
    {"length": {"min_words": 5}},
    {"language": {"languages": ["en"], "min_score": 0.65}},
    {"gopher_quality": {}},
    {"gopher_repetition": {}},
    {"c4_quality": {}},
    {"fineweb_quality": {}},
    {"exact_dedup": {}},
    {"minhash_dedup": {}},
]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  # no network at all: every host name fails to resolve, every proxy connection is refused
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]


@pytest.fixture(scope="module")
def sample_run(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    return run_pipeline(STAGES, SHARDS, out), out


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("headless Chromium is needed: apt-get update && apt-get install -y chromium (as .ci/run does)")
    profile = tmp_path / "chromium-profile"
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium_without_network(sample_run, tmp_path):
    stats, out = sample_run
    page = out / "report.html"
    assert page.is_file(), "the run writes report.html"
    source = page.read_text(encoding="utf-8")
    # self-contained: no script, style, image or link fetched from anywhere
    assert not re.search(r"""<(script|link|img|iframe)[^>]*\b(src|href)=""", source)
    assert "@import" not in source and "url(" not in source

    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()).stdout
    for section in ("waterfall", "stages", "metadata"):
        assert f'<section id="{section}">' in dom
    waterfall = re.search(r'<section id="waterfall">(.*?)</section>', dom, re.S).group(1)
    kept_bars = [float(w) for w in re.findall(r'<rect class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', waterfall)]
    assert len(kept_bars) == 2 * (len(STAGES) + 1), "documents and bytes: input plus one bar per stage"
    assert all(w > 0 for w in kept_bars)
    histograms = re.findall(r'<svg class="chart histogram".*?</svg>', dom, re.S)
    assert len(histograms) >= 30, "every measured value of every filter gets a chart"
    assert all(re.search(r'<rect class="bin"[^>]*height="(?!0\b)[\d.]+"', h) for h in histograms)
    assert sum('class="threshold"' in h for h in histograms) >= 20, "thresholds drawn on the charts"
    assert "#c8553d" in "".join(histograms), "removed part coloured"
    # the slider script ran: at the configured value it reports what the stage removed
    tuned = re.findall(r'<output class="tuned">([^<]*)</output>', dom)
    assert tuned and all(re.fullmatch(r"[-\d.e+]+: ~?[\d,]+ \(\+0\)", t) for t in tuned), tuned[:5]
    # sampled removed documents with their offending parts highlighted
    for reason in stats["stages"][4]["removed"]:  # gopher_repetition
        assert f"<summary>{reason}:" in dom
    assert dom.count("<mark") >= 10
    assert "minhash_dedup" in re.search(r'<section id="metadata">(.*?)</section>', dom, re.S).group(1)

    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1280,4000", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_metrics_cover_every_document_a_stage_decided_on(sample_run):
    stats, out = sample_run
    removed = read_folder(out / "removed")
    for index, stage in enumerate(stats["stages"]):
        table = metrics.read(out, index, stage["name"])
        if table is None:
            assert stage["name"] in ("normalize", "exact_dedup"), f"{stage['name']} recorded no values"
            continue
        assert table.num_rows == stage["in"] - stage["quarantined"]
        gone = {i for i, r in zip(table["id"].to_pylist(), table["reason"].to_pylist()) if r}
        ledger = {i for i, s in zip(removed["id"].to_pylist(), removed["stage"].to_pylist()) if s == stage["name"]}
        assert gone == ledger
        for threshold in stage["thresholds"]:
            assert threshold["metric"] in table.column_names


def test_thresholds_reproduce_each_filters_decisions(sample_docs):
    """Every numeric rule a filter declares, applied to its own recorded values, removes exactly
    the documents the filter removed for that rule's reason (the rest have other reasons)."""
    batch = Normalize().apply(TextBatch(sample_docs.select(["id", "text"]))).batch
    stages = [REGISTRY[name](**params) for name, params in [
        ("length", {"min_words": 20, "max_chars": 5000}), ("language", {"languages": ["en", "de"], "min_score": 0.8}),
        ("gopher_quality", {}), ("gopher_repetition", {}), ("fineweb_quality", {}), ("c4_quality", {}), ("perplexity", {"max_perplexity": 3000})]]
    for stage in stages:
        stage.setup()
        decisions = stage.apply(batch)
        rules = stage.threshold_rules()
        assert rules, stage.name
        reasons = decisions.reasons
        for rule in rules:
            failing = fails(decisions.metrics[rule.metric], rule.bound, rule.side)
            assert not np.any((reasons == f"{stage.name}.{rule.code}") & ~failing), f"{stage.name}.{rule.code}"
            kept = reasons == None  # noqa: E711
            assert not np.any(kept & failing), f"{stage.name}: a kept document fails {rule.param}"


def test_the_tuning_counts_fail_as_the_stages_do():
    """The slider's counts (sorted values, counted by bisection) are what `fails` decides at each
    stop, on every side, ties included."""
    values = np.sort(np.random.default_rng(0).integers(0, 20, 500).astype(float))
    stops = np.arange(-1.0, 22.0, 0.5)
    for side in SIDES:
        expected = [int(fails(values, stop, side).sum()) for stop in stops]
        assert report._failing_at(values, stops, side).tolist() == expected, side


def test_tuning_a_score_that_must_exceed_its_bound_agrees_with_the_stage(sample_docs):
    """language's min_score (side "above"): every slider stop and alternative of the tuning table
    counts what the stage decides at that value, also when the bound equals a document's score."""
    batch = Normalize().apply(TextBatch(sample_docs.select(["id", "text"]))).batch
    measured = REGISTRY["language"](languages=["en"]).measure(batch)
    scores = np.unique(measured["language_score"][measured["language"] == "en"])
    for min_score in (0.65, float(scores[len(scores) // 2])):  # the second: a tie with a document's score
        language = REGISTRY["language"](languages=["en"], min_score=min_score)
        reasons = language.reasons(measured, batch.num_rows)
        recorded = pa.table({"reason": reasons.tolist(), **measured})
        (row,) = report._tuning(recorded, "language", [t._asdict() for t in language.threshold_rules()])
        assert min_score in row["stops"]
        for bound, count in [*zip(row["stops"], row["counts"]), *row["alternatives"]]:
            if 0 <= bound < 1:
                again = REGISTRY["language"](languages=["en"], min_score=bound).reasons(measured, batch.num_rows)
                assert count == int((again != None).sum()), (min_score, bound)  # noqa: E711


def test_tuning_table_agrees_with_a_rerun(sample_run, ray_session, tmp_path):
    stats, out = sample_run
    index = 3
    stage = stats["stages"][index]
    assert stage["name"] == "gopher_quality"
    rows = report._tuning(metrics.read(out, index, stage["name"]), stage["name"], stage["thresholds"])
    min_words = next(r for r in rows if r["param"] == "min_words")
    assert min_words["now"] == sum(stage["removed"].values())
    bound, predicted = min_words["alternatives"][-1]  # x2: min_words 100
    assert bound == 100 and predicted > min_words["now"]
    stages = [*STAGES[:3], {"gopher_quality": {"min_words": bound}}]
    rerun = run_pipeline(stages, SHARDS, tmp_path / "rerun")
    assert sum(rerun["stages"][index]["removed"].values()) == predicted


def test_a_looser_bound_on_a_stage_that_skips_removed_documents_gives_a_range_the_rerun_falls_in(sample_run, tmp_path):
    """gopher_repetition measures its n-gram rules only on documents its line and paragraph rules
    keep (as datatrove does): a looser line bound lets some documents through to n-gram rules
    never measured on them. The table gave the least count as exact; the rerun removed more."""
    stats, out = sample_run
    index = 4
    stage = stats["stages"][index]
    assert stage["name"] == "gopher_repetition"
    rows = report._tuning(metrics.read(out, index, stage["name"]), stage["name"], stage["thresholds"])
    row, (bound, least), unsure = max(((r, a, u) for r in rows for a, u in zip(r["alternatives"], r["unmeasured"])),
                                      key=lambda found: found[2])
    assert unsure > 0, "some document a looser bound lets through was never measured by the n-gram rules"
    assert row["param"].startswith("max_dup_") and bound > row["bound"]
    rerun = run_pipeline([*STAGES[:index], {"gopher_repetition": {row["param"]: bound}}], SHARDS, tmp_path / "rerun")
    assert least <= sum(rerun["stages"][index]["removed"].values()) <= least + unsure
    assert f"{bound:g}: {least:,}–{least + unsure:,}" in (out / "report.html").read_text()


def test_the_tuning_table_offers_only_values_the_stages_accept(sample_run):
    """Each alternative bound the run records is one its stage takes, and one it refuses is
    recorded as None and shown as a dash: twice language's min_score 0.65 would be 1.3, a score no
    document can exceed (the stage refuses any bound from 1 up)."""
    stats, out = sample_run
    checked = 0
    for position, stage in enumerate(stats["stages"]):
        params = next(iter(STAGES[position].values()))
        for t in stage["thresholds"]:
            if t["bound"] is None:  # each document's own bound (per language): tuned as a factor on it
                assert "alternatives" not in t
                continue
            if "." in t["param"]:  # one entry of a mapping (gopher_repetition's top_ngrams.2), each at most 0.4 here
                assert t["alternatives"] == tuning_bounds(t["bound"], False), t["param"]
                continue
            whole = t["param"] in ("min_chars", "min_words", "max_words", "min_stop_words", "min_sentences")  # counts
            for tried, bound in zip(tuning_bounds(t["bound"], whole), t["alternatives"]):
                if bound is None:
                    with pytest.raises(ConfigError):
                        build_stage(stage["name"], {**params, t["param"]: tried}, "tuning")
                else:
                    assert bound == tried
                    build_stage(stage["name"], {**params, t["param"]: bound}, "tuning")
                checked += 1
    assert checked > 60
    (language,) = stats["stages"][2]["thresholds"]
    assert language["alternatives"] == [0.325, 0.4875, 0.8125, 0.975, None]
    # a parameter that takes fractions is tuned in fractions even where its bound is a whole number
    # (the English profile's min_mean_word_length 3 read 2, 2, 4, 4, 6)
    (mean,) = [t for t in stats["stages"][3]["thresholds"] if t["param"] == "min_mean_word_length"]
    assert mean["bound"] == 3 and mean["alternatives"] == [1.5, 2.25, 3.75, 4.5, 6]
    row = re.search(r"<tr class=tune><td>min_score \(above\).*?</tr>", (out / "report.html").read_text(), re.S).group(0)
    assert "0.975: " in row and "1.3" not in row and "<td title='a value the stage refuses'>—</td>" in row


def test_above_report_rows_the_report_reads_a_seeded_sample(sample_run, monkeypatch):
    """The process writing the report holds at most REPORT_ROWS records per stage whatever the
    corpus size: a uniform sample over all parts, the same for the same output, whose tuning
    counts estimate the exact ones, and the page says it is a sample."""
    import pyarrow.parquet as pq

    stats, out = sample_run
    index = 3
    stage = stats["stages"][index]
    whole = metrics.read(out, index, stage["name"])
    rows = whole.num_rows // 2
    table, total = metrics.sample(out, index, stage["name"], rows)
    assert total == whole.num_rows and table.num_rows == rows
    assert table.equals(metrics.sample(out, index, stage["name"], rows)[0]), "seeded"
    # uniform within every part, not its first rows: sampled rows sit on average mid-part
    sizes = [pq.ParquetFile(f).metadata.num_rows for f in sorted((out / "metrics").glob(f"{index:02d}-*/part-*.parquet"))]
    assert len(sizes) > 1
    position = {doc: i for i, doc in enumerate(whole["id"].to_pylist())}
    starts = np.cumsum([0, *sizes])
    at = np.array([position[doc] for doc in table["id"].to_pylist()])
    part = np.searchsorted(starts, at, side="right") - 1
    within = (at - starts[part]) / np.array(sizes)[part]
    assert len(set(at)) == rows and 0.4 < within.mean() < 0.6 and within.max() > 0.9
    exact = report._tuning(whole, stage["name"], stage["thresholds"])
    estimated = report._tuning(table, stage["name"], stage["thresholds"], total / table.num_rows, stage["removed"])
    assert exact and len(estimated) == len(exact)
    for e, x in zip(estimated, exact):
        assert (e["now"], e["by_rule"]) == (x["now"], x["by_rule"]), "the configured values' counts are the run's own"
        assert [a[0] for a in e["alternatives"]] == [b[0] for b in x["alternatives"]]  # the same bounds offered
        assert all(abs(a[1] - b[1]) <= 0.1 * b[1] + 10 for a, b in zip(e["alternatives"], x["alternatives"]) if b[1] is not None), e["param"]
    monkeypatch.setattr(report, "REPORT_ROWS", rows)
    page = report.render(out)
    assert f"a sample of {rows:,} of {total:,} documents" in page and "estimated from the recorded values of" in page
    # removed documents shown: at most SAMPLES_PER_REASON per reason, for every reason of the ledger
    ledger = Counter(read_folder(out / "removed")["reason"].to_pylist())
    samples = report._sampled_removals(report.OutputLayout.at(out))
    assert set(samples) == set(ledger)
    assert all(len(samples[r]) == min(report.SAMPLES_PER_REASON, n) for r, n in ledger.items())
    assert samples == report._sampled_removals(report.OutputLayout.at(out)), "seeded"


def test_report_command(sample_run, capsys):
    _, out = sample_run
    (out / "report.html").unlink()
    assert cli.main(["report", str(out)]) == 0
    assert (out / "report.html").is_file() and "report.html" in capsys.readouterr().out
    assert cli.main(["report", str(out / "nothing-here")]) == 2
    assert "no stats.json" in capsys.readouterr().err


def test_tokens_in_the_waterfall_when_a_manifest_exists(sample_run, tmp_path):
    _, out = sample_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "tokens").mkdir()
    (copy / "tokens" / "manifest.json").write_text(json.dumps({"documents": 80, "tokens": 123456}))
    assert "123,456 tokens" in report.render(copy)
    assert "tokens" not in re.search(r'<section id="?waterfall"?>(.*?)</section>', report.render(out), re.S).group(1).lower()


def test_highlights_mark_the_offending_parts(sample_run):
    """On the run's real removals: highlighted lines repeat an earlier line, highlighted n-grams
    cover the marked words, and a duplicate's marked words all occur in the document it duplicates."""
    _, out = sample_run
    removers = {next(iter(spec)): highlight.stage_of(spec) for spec in json.loads((out / "run.json").read_text())["stages"]}
    checked = Counter()
    for row in read_folder(out / "removed").to_pylist():
        text, reason, details = row["text"], row["reason"], json.loads(row["details"] or "{}")
        spans = highlight.spans(text, reason, details, *removers[row["stage"]])
        if reason.endswith(("dup_line_fraction", "dup_line_chars")):
            assert spans
            for start, end, _ in spans:
                assert text[start:end] in text[:start].split("\n")
            checked["lines"] += 1
        elif re.search(r"dup_\dgram", reason):
            n = int(re.search(r"(\d+)gram", reason).group(1))
            assert spans
            words = text.split()
            grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
            for start, end, _ in spans:
                marked = text[start:end].split()
                assert len(marked) >= n
                repeated = [i for i in range(len(marked) - n + 1) if grams[tuple(marked[i:i + n])] >= 2]
                covered = {j for i in repeated for j in range(i, i + n)}
                assert covered == set(range(len(marked))), "every marked word is inside a repeated n-gram"
            checked["ngrams"] += 1
        elif reason == "exact_dedup.exact_dup":
            original = next(r for r in read_folder(out / "kept").to_pylist() if r["id"] == details["duplicate_of"])
            shared = highlight.shared_ngram_spans(text, original["text"])
            assert shared and all(text[a:b] in original["text"] for a, b, _ in shared)
            checked["duplicates"] += 1
    assert checked["lines"] and checked["ngrams"] and checked["duplicates"], checked


def test_short_lines_highlighted_by_the_runs_own_bound(sample_docs):
    """fineweb_quality marks the lines its rule counted as short: with the run's short_line_chars,
    not a copy of the default."""
    text = next(t for t in sample_docs.column("text").to_pylist() if t.count("\n") > 20)
    for short in (10, 30, 80):
        cls, params = highlight.stage_of({"fineweb_quality": {"short_line_chars": short}})
        marked = {text[a:b] for a, b, _ in highlight.spans(text, "fineweb_quality.short_line_ratio", {}, cls, params)}
        lines = [line for line in text.split("\n") if line.strip()]
        assert marked == {line for line in lines if len(line) <= short}
    assert len(marked) > 0


def test_metrics_survive_a_resume(ray_session, tmp_path):
    """A part redone on resume rewrites its metrics (no duplicates); finished parts keep theirs."""
    stages = [{"normalize": {}}, {"length": {"min_words": 5}}, {"gopher_repetition": {}}]
    out = tmp_path / "out"
    first = run_pipeline(stages, SHARDS, out, part_bytes=200_000)
    markers = sorted((out / "_parts").glob("s0-*.json"))
    assert len(markers) > 1
    markers[0].unlink()  # as if the run had been killed before this part finished
    (out / "report.html").unlink()
    again = run_pipeline(stages, SHARDS, out, part_bytes=200_000)
    def counts(stats):
        return [{k: v for k, v in s.items() if k != "seconds"} for s in stats["stages"]]

    assert again["invariant_ok"] and counts(again) == counts(first)
    for index, stage in enumerate(again["stages"][1:], start=1):
        ids = metrics.read(out, index, stage["name"]).column("id").to_pylist()
        assert len(ids) == len(set(ids)) == stage["in"]
    assert (out / "report.html").is_file()


def test_per_language_bounds_are_tuned_as_a_factor_on_each_documents_own(sample_docs):
    """With `language: auto` a gopher bound is each document's own (its language's profile): the
    tuning table left those rules out, the rule that removed most web pages among them. They are
    tuned as a factor on each document's bound: at x1 the stage's removals, fewer at a looser
    factor, more at a stricter one."""
    import pyarrow as pa

    batch = Normalize().apply(TextBatch(sample_docs.select(["id", "text"]))).batch
    language = REGISTRY["language"](languages=["en", "de", "fr", "es", "ru", "zh"], min_score=0.0)
    language.setup()
    batch = language.apply(batch).batch
    stage = REGISTRY["gopher_quality"](language="auto")
    stage.setup()
    decisions = stage.apply(batch)
    table = pa.table({"reason": pa.array(decisions.reasons.tolist(), pa.string()),
                      **{k: pa.array(np.asarray(v, dtype=float)) for k, v in decisions.metrics.items()}})
    thresholds = [t._asdict() for t in stage.threshold_rules()]
    per_document = [t for t in thresholds if t["bound"] is None]
    assert per_document
    rows = {r["param"]: r for r in report._tuning(table, stage.name, thresholds)}
    removed = int((decisions.reasons != None).sum())  # noqa: E711
    for t in per_document:
        row = rows[t["param"]]
        assert row["bound"] == 1.0 and row["metric"].endswith(f"/ own {t['param']}") and row["now"] == removed
        looser, stricter = (0.5, 2.0) if t["side"] == "min" else (2.0, 0.5)
        assert dict(row["alternatives"])[looser] <= removed <= dict(row["alternatives"])[stricter]
    assert rows["min_alpha_words_ratio"]["by_rule"] > 0
    assert dict(rows["min_alpha_words_ratio"]["alternatives"])[2.0] > removed  # twice each language's ratio: more fail
