"""Quality filters: our MB/s per core next to datatrove's, and where the decisions differ.

    bash benchmarks/setup_peers.sh                    # once: datatrove in its own venv
    python benchmarks/filters.py [--data ../shared/data] [--peers benchmarks/.peers/bin/python]

Both sides see the same documents: the real web text of shared/data after our `normalize`.
Each filter runs alone over all documents on one core (CPU time). For every filter it prints
docs/s and MB/s of both, the speed-up, the share of documents on which both keep or both
remove, and the share on which both give the same first reason; then the commonest
disagreements, (ours, datatrove's) reason pairs, with one example id each.
"""

from __future__ import annotations

import argparse
import json
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
    tables = [pq.read_table(p, columns=["id", "text"]) for p in sorted(data.glob("*.parquet"))]
    table = pa.concat_tables(tables).cast(pa.schema([("id", pa.string()), ("text", pa.large_string())]))
    table = table.filter(pa.compute.greater(pa.compute.utf8_length(table["text"]), 0))
    return Normalize().apply(TextBatch(table)).batch.table.select(["id", "text"])


def ours(table: pa.Table, batch_rows: int = 512, **params) -> dict[str, dict]:
    result = {}
    for name, cls in STAGES.items():
        stage = cls(**accepted(cls, params))
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


def our_rules(table: pa.Table, **params) -> dict[str, list[bool]]:
    """Each rule evaluated alone (from the stage's measured values), per document."""
    result = {}
    for name, codes in RULES.items():
        stage = STAGES[name](**accepted(STAGES[name], params))
        failed = dict(stage.checks(stage.measure(TextBatch(table))))
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
    mine = {"whitespace": our_rules(sample), "spacy+greedy": our_rules(sample, word_splitter="spacy", dup_ngram_count="greedy")}
    print(f"\nper rule, each alone, on {len(ids):,} documents (every k-th): share of documents with the same verdict")
    print(f"{'rule':<45} {'words?':>6} {'datatrove removes':>18} {'whitespace':>11} {'spacy+greedy':>13}")
    for key, verdicts in theirs.items():
        peer = [verdicts[i] for i in ids]
        cells = [sum(a == b for a, b in zip(mine[m][key], peer)) / len(ids) for m in mine]
        words = "yes" if key.split("/")[1] in WORD_RULES else "no"
        print(f"{key:<45} {words:>6} {sum(peer):>18} {cells[0]:>11.2%} {cells[1]:>13.2%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--peers", default=str(REPO / "benchmarks" / ".peers" / "bin" / "python"))
    parser.add_argument("--per-rule-docs", type=int, default=800, help="documents for the rule-by-rule comparison")
    args = parser.parse_args()
    table = load(args.data)
    megabytes = pa.compute.sum(pa.compute.binary_length(table["text"])).as_py() / 1e6
    print(f"{table.num_rows:,} documents, {megabytes:.1f} MB of normalized text from {args.data}; one core, CPU seconds")
    compatible = {"word_splitter": "spacy", "dup_ngram_count": "greedy"}
    runs = {"whitespace (default)": ours(table), "spacy + greedy (FineWeb-compatible)": ours(table, **compatible)}
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(table, f"{tmp}/docs.parquet")
        peer_run = subprocess.run([args.peers, str(REPO / "benchmarks" / "datatrove_side.py"), f"{tmp}/docs.parquet"],
                                  capture_output=True, text=True)
    if peer_run.returncode:
        raise SystemExit(f"datatrove side failed (run benchmarks/setup_peers.sh?):\n{peer_run.stderr[-2000:]}")
    theirs = json.loads(peer_run.stdout)
    for splitter, mine in runs.items():
        print(f"\n== our word splitter: {splitter}")
        compare(mine, theirs, megabytes)
    ours_only(table, megabytes)
    per_rule_table(table, args.peers, args.per_rule_docs)


def compare(mine: dict, theirs: dict, megabytes: float) -> None:
    print(f"{'filter':<18} {'ours MB/s':>10} {'datatrove MB/s':>15} {'speed-up':>9} {'keep/remove agree':>18} {'same reason':>12}")
    disagreements = {}
    for name in STAGES:
        a, b = mine[name], theirs[name]
        ids = list(a["decisions"])
        peer = {i: (None if r is None else PEER_REASONS.get(r, r)) for i, r in b["decisions"].items()}
        same_verdict = sum((a["decisions"][i] is None) == (peer[i] is None) for i in ids) / len(ids)
        same_reason = sum(a["decisions"][i] == peer[i] for i in ids) / len(ids)
        print(f"{name:<18} {megabytes / a['seconds']:>10.2f} {megabytes / b['seconds']:>15.2f} {b['seconds'] / a['seconds']:>8.1f}x "
              f"{same_verdict:>17.2%} {same_reason:>12.2%}")
        disagreements[name] = Counter((a["decisions"][i], peer[i]) for i in ids if a["decisions"][i] != peer[i])
        examples = {(a["decisions"][i], peer[i]): i for i in ids if a["decisions"][i] != peer[i]}
        disagreements[name] = [(pair, n, examples[pair]) for pair, n in disagreements[name].most_common(6)]
    print("\ncommonest disagreements (ours, datatrove): count, example id")
    for name, rows in disagreements.items():
        for (mine_reason, peer_reason), count, example in rows:
            print(f"  {name:<18} ({mine_reason}, {peer_reason}): {count}  e.g. {example}")


if __name__ == "__main__":
    main()
