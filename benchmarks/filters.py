"""Quality filters: our MB/s per core next to datatrove's, and where the decisions differ.

    bash benchmarks/setup_peers.sh                    # once: datatrove in its own venv
    python benchmarks/filters.py [--data ../shared/data] [--peers benchmarks/.peers/bin/python]

Both sides see the same documents: the real web text of shared/data after our `normalize`.
Each filter runs alone over all documents on one core (CPU time), ours with default
parameters. For every filter it prints docs/s and MB/s of both, the speed-up, and per file the
share of documents on which both keep or both remove (and give the same first reason); then the
commonest disagreements with one example id each. Then the word splitter alone: per language
(our `language` stage's tag), the share of documents whose word count and word lengths under
`spacy_rules` equal spaCy's own (`spacy.blank(lang)`, datatrove's splitter). `--whitespace` adds
the run with the whitespace splitter; `--per-rule-docs N` each rule alone on N documents.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.c4 import C4Quality  # noqa: E402
from dataprep.stages.fineweb import FinewebQuality  # noqa: E402
from dataprep.stages.gopher_quality import GopherQuality  # noqa: E402
from dataprep.stages.gopher_repetition import GopherRepetition  # noqa: E402
from dataprep.stages.normalize import Normalize  # noqa: E402

# datatrove's reason names -> ours (same rules, different spellings)
PEER_REASONS = {
    "gopher_short_doc": "short_doc", "gopher_long_doc": "long_doc", "gopher_below_avg_threshold": "short_mean_word",
    "gopher_above_avg_threshold": "long_mean_word", "gopher_too_many_hashes": "too_many_hashes",
    "gopher_too_many_ellipsis": "too_many_ellipses", "gopher_too_many_bullets": "too_many_bullet_lines",
    "gopher_too_many_end_ellipsis": "too_many_ellipsis_lines", "gopher_below_alpha_threshold": "few_alpha_words",
    "gopher_enough_stop_words": "few_stop_words", "dup_para_frac": "dup_para_fraction", "dup_para_char_frac": "dup_para_chars",
    "dup_line_frac": "dup_line_fraction", "dup_line_char_frac": "dup_line_chars", "char_dup_ratio": "dup_line_chars",
    "list_ratio": "newline_word_ratio", "empty": "empty",
    **{f"top_{n}_gram": f"top_{n}gram_chars" for n in (2, 3, 4)},
    **{f"duplicated_{n}_n_grams": f"dup_{n}gram_chars" for n in range(5, 11)},
}
STAGES = {"gopher_quality": GopherQuality, "gopher_repetition": GopherRepetition, "c4_quality": C4Quality,
          "fineweb_quality": FinewebQuality}


def load(data: Path) -> pa.Table:
    """All files' non-empty documents after `normalize`, with the file each came from."""
    tables = []
    for path in sorted(data.glob("*.parquet")):
        table = pq.read_table(path, columns=["id", "text"]).cast(pa.schema([("id", pa.string()), ("text", pa.large_string())]))
        tables.append(table.append_column("file", pa.array([path.name[:2]] * table.num_rows)))
    table = pa.concat_tables(tables)
    table = table.filter(pa.compute.greater(pa.compute.utf8_length(table["text"]), 0))
    return Normalize().apply(TextBatch(table)).batch.table.select(["id", "text", "file"])


def ours(table: pa.Table, batch_rows: int = 512, **params) -> dict[str, dict]:
    result = {}
    for name, cls in STAGES.items():
        stage = cls(**accepted(cls, params))
        stage.setup()  # models and tables load once per worker, before the first batch
        decisions = {}
        started = time.process_time()
        for offset in range(0, table.num_rows, batch_rows):
            batch = TextBatch(table.slice(offset, batch_rows))
            verdict = stage.apply(batch)
            for doc_id, reason in zip(batch.table["id"].to_pylist(), verdict.reasons):
                decisions[doc_id] = None if reason is None else reason.split(".", 1)[1]
        result[name] = {"seconds": time.process_time() - started, "decisions": decisions}
    return result


def ours_only(table: pa.Table, megabytes: float, batch_rows: int = 512) -> None:
    """Stages with no offline datatrove twin: our speed alone (language ID first, as in a pipeline)."""
    from dataprep.stages.c4_badwords import C4Badwords
    from dataprep.stages.keywords import Keywords
    from dataprep.stages.language import Language
    from dataprep.stages.perplexity import Perplexity

    tagged = pa.concat_tables([Language().apply(TextBatch(table.slice(o, batch_rows))).batch.table
                               for o in range(0, table.num_rows, batch_rows)])
    print(f"\n{'stage (no datatrove twin)':<26} {'docs/s':>9} {'MB/s':>7}")
    for stage in (Language(), Keywords(), C4Badwords(language="auto"), Perplexity()):
        stage.setup()
        started = time.process_time()
        for offset in range(0, table.num_rows, batch_rows):
            stage.apply(TextBatch(tagged.slice(offset, batch_rows)))
        seconds = time.process_time() - started
        print(f"{stage.name:<26} {table.num_rows / seconds:>9,.0f} {megabytes / seconds:>7.2f}")


def accepted(cls: type, params: dict) -> dict:
    """The subset of `params` that the stage class takes."""
    return {k: v for k, v in params.items() if k in cls.__init__.__code__.co_varnames}


# datatrove rule (its constructor argument) -> our reason codes for the same rule
RULES = {
    "gopher_quality": {"min_doc_words": ["short_doc"], "max_doc_words": ["long_doc"], "min_avg_word_length": ["short_mean_word"],
                       "max_avg_word_length": ["long_mean_word"], "max_symbol_word_ratio": ["too_many_hashes", "too_many_ellipses"],
                       "max_bullet_lines_ratio": ["too_many_bullet_lines"], "max_ellipsis_lines_ratio": ["too_many_ellipsis_lines"],
                       "max_non_alpha_words_ratio": ["few_alpha_words"], "min_stop_words": ["few_stop_words"]},
    "gopher_repetition": {"dup_line_frac": ["dup_line_fraction"], "dup_para_frac": ["dup_para_fraction"],
                          "dup_line_char_frac": ["dup_line_chars"], "dup_para_char_frac": ["dup_para_chars"],
                          **{f"top_{n}_gram": [f"top_{n}gram_chars"] for n in (2, 3, 4)},
                          **{f"duplicated_{n}_n_grams": [f"dup_{n}gram_chars"] for n in range(5, 11)}},
    "fineweb_quality": {"line_punct_thr": ["line_punct_ratio"], "short_line_thr": ["short_line_ratio"],
                        "char_duplicates_ratio": ["dup_line_chars"], "new_line_ratio": ["newline_word_ratio"]},
}
#: rules whose measure involves words (so the word splitter can change them)
WORD_RULES = {"min_doc_words", "max_doc_words", "min_avg_word_length", "max_avg_word_length", "max_symbol_word_ratio",
              "max_non_alpha_words_ratio", "min_stop_words", "new_line_ratio",
              *(f"top_{n}_gram" for n in (2, 3, 4)), *(f"duplicated_{n}_n_grams" for n in range(5, 11))}


#: the rules that come first: switched off, the stage measures its word rules on every document
EARLIER_RULES_OFF = {"gopher_repetition": dict(max_dup_line_fraction=None, max_dup_para_fraction=None, max_dup_line_chars=None,
                                               max_dup_para_chars=None),
                     "fineweb_quality": dict(min_line_punct_ratio=None, max_short_line_ratio=None, max_dup_line_chars=None)}


def our_rules(table: pa.Table, **params) -> dict[str, list[bool]]:
    """Each rule evaluated alone (from the stage's measured values), per document."""
    result = {}
    for name, codes in RULES.items():
        failed = {}
        for extra in ({}, EARLIER_RULES_OFF.get(name, {})):
            stage = STAGES[name](**accepted(STAGES[name], {**params, **extra}))
            failed.update(stage.checks(stage.measure(TextBatch(table))))
        for rule, ours_codes in codes.items():
            result[f"{name}/{rule}"] = np.any([failed[c] for c in ours_codes], axis=0).tolist()
    return result


def per_rule_table(table: pa.Table, peers: str, limit: int) -> None:
    sample = table.take(np.arange(0, table.num_rows, -(-table.num_rows // limit)))  # every k-th: all five files
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(sample, f"{tmp}/docs.parquet")
        peer_run = subprocess.run([peers, str(REPO / "benchmarks" / "datatrove_side.py"), f"{tmp}/docs.parquet", str(limit)],
                                  capture_output=True, text=True)
    if peer_run.returncode:
        raise SystemExit(peer_run.stderr[-2000:])
    theirs = json.loads(peer_run.stdout)
    ids = sample["id"].to_pylist()
    mine = {"default": our_rules(sample), "whitespace": our_rules(sample, word_splitter="whitespace")}
    print(f"\nper rule, each alone, on {len(ids):,} documents (every k-th): share of documents with the same verdict")
    print(f"{'rule':<45} {'words?':>6} {'datatrove removes':>18} {'default':>11} {'whitespace':>13}")
    for key, verdicts in theirs.items():
        peer = [verdicts[i] for i in ids]
        cells = [sum(a == b for a, b in zip(mine[m][key], peer)) / len(ids) for m in mine]
        words = "yes" if key.split("/")[1] in WORD_RULES else "no"
        print(f"{key:<45} {words:>6} {sum(peer):>18} {cells[0]:>11.2%} {cells[1]:>13.2%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--peers", default=str(REPO / "benchmarks" / ".peers" / "bin" / "python"))
    parser.add_argument("--whitespace", action="store_true", help="also run with word_splitter: whitespace")
    parser.add_argument("--per-rule-docs", type=int, default=0, help="documents for the rule-by-rule comparison")
    args = parser.parse_args()
    table = load(args.data)
    megabytes = pa.compute.sum(pa.compute.binary_length(table["text"])).as_py() / 1e6
    print(f"{table.num_rows:,} documents, {megabytes:.1f} MB of normalized text from {args.data}; one core, CPU seconds; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs = {"spacy_rules (default)": ours(table)}
    if args.whitespace:
        runs["whitespace"] = ours(table, word_splitter="whitespace")
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(table.select(["id", "text"]), f"{tmp}/docs.parquet")
        peer_run = subprocess.run([args.peers, str(REPO / "benchmarks" / "datatrove_side.py"), f"{tmp}/docs.parquet"],
                                  capture_output=True, text=True)
    if peer_run.returncode:
        raise SystemExit(f"datatrove side failed (run benchmarks/setup_peers.sh?):\n{peer_run.stderr[-2000:]}")
    theirs = json.loads(peer_run.stdout)
    files = dict(zip(table["id"].to_pylist(), table["file"].to_pylist()))
    for splitter, mine in runs.items():
        print(f"\n== our word splitter: {splitter}")
        compare(mine, theirs, megabytes, files)
    splitter_agreement(table)
    ours_only(table, megabytes)
    if args.per_rule_docs:
        per_rule_table(table.select(["id", "text"]), args.peers, args.per_rule_docs)
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def splitter_agreement(table: pa.Table, batch_rows: int = 512) -> None:
    """Per language tag: documents whose spacy_rules words have spaCy's count and lengths."""
    from dataprep import spacy_rules, text as textutil
    from dataprep.stages.language import Language

    language = np.concatenate([Language().measure(TextBatch(table.slice(o, batch_rows)))["language"]
                               for o in range(0, table.num_rows, batch_rows)])
    print("\nword splitter spacy_rules vs spaCy itself (spacy.blank(lang)): documents with equal word counts and lengths")
    print(f"{'documents':<34} {'rules':>5} {'docs':>6} {'agree':>7}  {'spacy_rules MB/s':>16} {'spaCy MB/s':>10}")
    groups = [("all (the filters' default, en)", "en", np.arange(table.num_rows))]
    groups += [(f"tagged {code}", code, np.flatnonzero(language == code)) for code in spacy_rules.LANGUAGES]
    for label, code, rows in groups:
        text = table["text"].combine_chunks().take(pa.array(rows))
        if len(text) == 0:
            continue
        mb = pa.compute.sum(pa.compute.binary_length(text)).as_py() / 1e6
        spacy_rules.rules(code)
        started = time.process_time()
        fast = [textutil.split_words_by("spacy_rules", text.slice(o, batch_rows), code) for o in range(0, len(text), batch_rows)]
        fast_seconds = time.process_time() - started
        started = time.process_time()
        reference = [textutil.split_words_by("spacy", text.slice(o, batch_rows), code) for o in range(0, len(text), batch_rows)]
        spacy_seconds = time.process_time() - started
        agree = sum(_same_words(a, b).sum() for a, b in zip(fast, reference))
        print(f"{label:<34} {code:>5} {len(text):>6} {agree / len(text):>7.2%}  {mb / fast_seconds:>16.2f} {mb / spacy_seconds:>10.2f}")


def _same_words(a: pa.ListArray, b: pa.ListArray) -> np.ndarray:
    """Per document: same number of words and the same length for each."""
    from dataprep import text as textutil

    same = textutil.list_lengths(a) == textutil.list_lengths(b)
    la, lb = textutil.char_lengths(pa.compute.list_flatten(a)), textutil.char_lengths(pa.compute.list_flatten(b))
    parent = pa.compute.list_parent_indices(a).to_numpy()
    if same.all() and len(la) == len(lb):
        differs = np.bincount(parent[la != lb], minlength=len(a)) > 0
        return ~differs
    out = np.zeros(len(a), dtype=bool)
    for i in np.flatnonzero(same):  # only when counts differ somewhere: compare lengths per document
        out[i] = textutil.char_lengths(a[i].values).tolist() == textutil.char_lengths(b[i].values).tolist()
    return out


def compare(mine: dict, theirs: dict, megabytes: float, files: dict[str, str]) -> None:
    print(f"{'filter':<18} {'ours MB/s':>10} {'datatrove MB/s':>15} {'speed-up':>9}  keep/remove agree (same reason) per file")
    disagreements = {}
    for name in STAGES:
        a, b = mine[name], theirs[name]
        ids = list(a["decisions"])
        peer = {i: (None if r is None else PEER_REASONS.get(r, r)) for i, r in b["decisions"].items()}
        cells = []
        for file in sorted(set(files.values())):
            chosen = [i for i in ids if files[i] == file]
            verdict = sum((a["decisions"][i] is None) == (peer[i] is None) for i in chosen) / len(chosen)
            reason = sum(a["decisions"][i] == peer[i] for i in chosen) / len(chosen)
            cells.append(f"{file}: {verdict:.3f} ({reason:.3f})")
        print(f"{name:<18} {megabytes / a['seconds']:>10.2f} {megabytes / b['seconds']:>15.2f} {b['seconds'] / a['seconds']:>8.1f}x  "
              + "  ".join(cells))
        pairs = Counter((a["decisions"][i], peer[i]) for i in ids if (a["decisions"][i] is None) != (peer[i] is None))
        examples = {(a["decisions"][i], peer[i]): i for i in ids if a["decisions"][i] != peer[i]}
        disagreements[name] = [(pair, n, examples[pair]) for pair, n in pairs.most_common(6)]
    print("\nkeep/remove disagreements (ours, datatrove): count, example id")
    for name, rows in disagreements.items():
        for (mine_reason, peer_reason), count, example in rows:
            print(f"  {name:<18} ({mine_reason}, {peer_reason}): {count}  e.g. {example}")


if __name__ == "__main__":
    main()
