"""Run datatrove's filters on a Parquet of (id, text); print decisions (and seconds) as JSON.

Runs in the peers' venv (benchmarks/setup_peers.sh), called by benchmarks/filters.py.
"""

import json
import sys
import time

import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter


def main(path: str) -> None:
    table = pq.read_table(path)
    docs = [(i, t) for i, t in zip(table["id"].to_pylist(), table["text"].to_pylist())]
    filters = {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4_quality": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
    }
    from datatrove.utils.text import split_into_words

    split_into_words("Loaded before timing, as our side loads its tables in setup().")
    result = {}
    for name, stage in filters.items():
        decisions = {}
        started = time.process_time()
        for doc_id, text in docs:
            verdict = stage.filter(Document(text=text, id=doc_id))
            decisions[doc_id] = None if verdict is True else (verdict[1] if isinstance(verdict, tuple) else "removed")
        result[name] = {"seconds": time.process_time() - started, "decisions": decisions}
    json.dump(result, sys.stdout)




# Per rule: each datatrove filter with every other rule switched off, on the given documents.
OFF_GOPHER = dict(min_doc_words=None, max_doc_words=None, min_avg_word_length=None, max_avg_word_length=None,
                  max_symbol_word_ratio=None, max_bullet_lines_ratio=None, max_ellipsis_lines_ratio=None,
                  max_non_alpha_words_ratio=None, min_stop_words=None)
OFF_REPETITION = dict(dup_line_frac=None, dup_para_frac=None, dup_line_char_frac=None, dup_para_char_frac=None,
                      top_n_grams=(), dup_n_grams=())
OFF_FINEWEB = dict(line_punct_thr=-1, short_line_thr=2, char_duplicates_ratio=2, new_line_ratio=1e9)


def rule_filters():
    for key, value in dict(min_doc_words=50, max_doc_words=100000, min_avg_word_length=3, max_avg_word_length=10,
                           max_symbol_word_ratio=0.1, max_bullet_lines_ratio=0.9, max_ellipsis_lines_ratio=0.3,
                           max_non_alpha_words_ratio=0.8, min_stop_words=2).items():
        yield "gopher_quality", key, GopherQualityFilter(**{**OFF_GOPHER, key: value})
    for key, value in dict(dup_line_frac=0.3, dup_para_frac=0.3, dup_line_char_frac=0.2, dup_para_char_frac=0.2).items():
        yield "gopher_repetition", key, GopherRepetitionFilter(**{**OFF_REPETITION, key: value})
    for n, value in {2: 0.2, 3: 0.18, 4: 0.16}.items():
        yield "gopher_repetition", f"top_{n}_gram", GopherRepetitionFilter(**{**OFF_REPETITION, "top_n_grams": ((n, value),)})
    for n, value in {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}.items():
        yield "gopher_repetition", f"duplicated_{n}_n_grams", GopherRepetitionFilter(**{**OFF_REPETITION, "dup_n_grams": ((n, value),)})
    for key, value in dict(line_punct_thr=0.12, short_line_thr=0.67, char_duplicates_ratio=0.01, new_line_ratio=0.3).items():
        yield "fineweb_quality", key, FineWebQualityFilter(**{**OFF_FINEWEB, key: value})


def per_rule(path: str, limit: int) -> None:
    table = pq.read_table(path)
    docs = list(zip(table["id"].to_pylist(), table["text"].to_pylist()))
    result = {}
    for stage, rule, instance in rule_filters():
        result[f"{stage}/{rule}"] = {i: instance.filter(Document(text=t, id=i)) is not True for i, t in docs}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    # datatrove_side.py DOCS.parquet          -> whole filters: decisions and CPU seconds
    # datatrove_side.py DOCS.parquet N        -> each rule alone (N: how many documents the file holds)
    if len(sys.argv) > 2:
        per_rule(sys.argv[1], int(sys.argv[2]))
    else:
        main(sys.argv[1])
