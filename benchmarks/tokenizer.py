"""Tokenizers trained by `train_tokenizer`, side by side: training time and peak memory against the
sample size, encoding speed on one core, and fertility and bytes per token per language.

    python benchmarks/tokenizer.py [--data ../shared/data] [--sizes 1,4,12] [--vocab 8000]

Corpus: the real web text of shared/data (16 MB, mostly German and English, 166 languages thinly),
each document's language from the project's `language` stage (fastText lid.176). One document in
five (by a hash of its id) is held out; the tokenizers are trained on language-balanced samples
(alpha 0.3, as the stage draws them) of the rest and measured on the held-out text.

Training runs in a forked process per tokenizer, with the sample already in memory; its peak
memory is the highest resident size a 10 ms poller saw minus the size at the start. The
trainers use both cores (SentencePiece `num_threads`, tokenizers' Rayon pool); encoding is timed
on one thread, as each Ray task runs it. The machine is shared: expect noise of +-20 %.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # encoding on one core; training still uses both
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # this file's name is also a stdlib module's
REPO = HERE.parent
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.language import Language  # noqa: E402
from dataprep.stages.train_tokenizer import TextFeed, TrainTokenizer, probability_of, temperature_probabilities  # noqa: E402
from dataprep.tokenizer import Tokenizer  # noqa: E402

FAMILIES = ("unigram", "bpe", "byte_level_bpe")


def load(data: Path) -> pa.Table:
    tables = [pq.read_table(f, columns=["id", "text"]) for f in sorted(data.glob("*.parquet"))]
    table = pa.concat_tables(tables).cast(pa.schema([("id", pa.string()), ("text", pa.large_string())]))
    table = table.filter(pc.greater(pc.utf8_length(table["text"]), 0))
    stage = Language()
    stage.setup()
    return stage.apply(TextBatch(table)).batch.table


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sample(train: pa.Table, size: int, trainer: TrainTokenizer) -> pa.Array:
    """The stage's draw: hash of the id against the language's temperature probability."""
    sizes = pa.table({"language": train["language"], "bytes": pc.binary_length(train["text"])})
    totals = sizes.group_by("language").aggregate([("bytes", "sum")])
    probability = temperature_probabilities(dict(zip(totals["language"].to_pylist(), totals["bytes_sum"].to_pylist())),
                                            size, trainer.alpha)
    chosen = trainer.draws(train["id"].combine_chunks()) < probability_of(train["language"].combine_chunks(), probability)
    return train["text"].combine_chunks().filter(pa.array(chosen))


def _train_child(trainer: TrainTokenizer, text: pa.Array, conn) -> None:
    start, peak, done = rss_mb(), [rss_mb()], threading.Event()

    def poll() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss_mb())

    threading.Thread(target=poll, daemon=True).start()
    began = time.perf_counter()
    name, model = trainer.train(TextFeed(iter([text.slice(i, 256) for i in range(0, len(text), 256)])))
    seconds = time.perf_counter() - began
    done.set()
    conn.send((name, model, seconds, max(peak[0], rss_mb()) - start))
    conn.close()


def train(trainer: TrainTokenizer, text: pa.Array) -> tuple[str, bytes, float, float]:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_train_child, args=(trainer, text, child))
    process.start()
    result = parent.recv()
    process.join()
    return result


def encode_rate(tokenizer: Tokenizer, texts: list[str]) -> tuple[float, float]:
    """Tokens/s and MB/s on one thread, in the stage's batches of 512."""
    began = time.perf_counter()
    tokens = 0
    for i in range(0, len(texts), 512):
        tokens += sum(map(len, tokenizer.encode(texts[i: i + 512])))
    seconds = time.perf_counter() - began
    return tokens / seconds, sum(len(t.encode("utf-8")) for t in texts) / seconds / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sizes", default="1,4,12", help="sample sizes in MB")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--min-docs", type=int, default=3, help="held-out documents a language needs to be listed")
    args = parser.parse_args()

    table = load(args.data)
    held = TrainTokenizer(seed=1).draws(table["id"].combine_chunks()) < 0.2
    train_set, test_set = table.filter(pa.array(~held)), table.filter(pa.array(held))
    print(f"corpus: {table.num_rows:,} documents, {pc.sum(pc.binary_length(table['text'])).as_py() / 1e6:.1f} MB; "
          f"held out {test_set.num_rows:,} documents; vocabulary {args.vocab:,}; {os.cpu_count()} cores (shared, noisy)\n")

    print(f"{'training':<16}{'sample MB':>10}{'documents':>11}{'seconds':>9}{'peak MB':>9}")
    models: dict[str, Tokenizer] = {}
    for size in [int(float(s) * 1e6) for s in args.sizes.split(",")]:
        for family in FAMILIES:
            trainer = TrainTokenizer(model_type=family, vocab_size=args.vocab)
            text = sample(train_set, size, trainer)
            name, model, seconds, peak = train(trainer, text)
            path = Path(f"/tmp/benchmark-tokenize-{family}-{name}")
            path.write_bytes(model)
            models[family] = Tokenizer(path)
            megabytes = pc.sum(pc.binary_length(text)).as_py() / 1e6
            print(f"{family:<16}{megabytes:>10.1f}{len(text):>11,}{seconds:>9.1f}{peak:>9.0f}")

    texts = table["text"].to_pylist()
    print(f"\nencoding, one core, all {len(texts):,} documents (tokenizers from the largest sample)")
    print(f"{'tokenizer':<16}{'vocab':>7}{'tokens/s':>12}{'MB/s':>7}")
    for family, tokenizer in models.items():
        tokens_per_s, mb_per_s = encode_rate(tokenizer, texts)
        print(f"{family:<16}{tokenizer.vocab_size:>7,}{tokens_per_s:>12,.0f}{mb_per_s:>7.2f}")

    print("\nheld-out text per language: fertility (tokens per whitespace word) / bytes per token")
    languages = test_set["language"].to_pylist()
    counts = {lang: languages.count(lang) for lang in set(languages)}
    listed = sorted((lang for lang, n in counts.items() if n >= args.min_docs), key=lambda lang: -counts[lang])
    print(f"{'language':<9}{'docs':>5}" + "".join(f"{f:>22}" for f in FAMILIES))
    for lang in listed:
        docs = [t for t, lg in zip(test_set["text"].to_pylist(), languages) if lg == lang]
        words = sum(len(t.split()) for t in docs)
        size = sum(len(t.encode("utf-8")) for t in docs)
        cells = []
        for family in FAMILIES:
            tokens = sum(map(len, models[family].encode(docs)))
            cells.append(f"{tokens / max(words, 1):>13.2f} / {size / tokens:>5.2f}")
        print(f"{lang:<9}{len(docs):>5}" + "".join(cells))
    print("\n(zh/ja have few spaces: their fertility counts tokens per space-separated chunk, compare bytes per token there;"
          "\n SentencePiece splits digits, as Llama does, byte-level BPE does not: number-heavy web text costs it more tokens)")


if __name__ == "__main__":
    main()
