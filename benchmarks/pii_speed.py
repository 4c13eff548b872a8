"""PII detection and replacement speed per core: the `pii` stage with NER on and off, next to a
plain `AnalyzerEngine.analyze` loop (Presidio's default recognizers, offline small spaCy model).

    python benchmarks/pii_speed.py [--presidio-chars 150000]   # default: all the text

Same text for all: the real e-mails and English processed-crawl documents of shared/data (05
and 04), exact duplicates dropped, in batches of 256 documents as the runner passes them; and,
as text dense in PII where no screen skips anything, the generated customer-service sentences
of pii_quality.py's held-out part (--sentences of them; every one is analysed, most hold digits).
There a last row times Presidio's own pattern and phone recognizers as shipped, through
AnalyzerEngine with no NLP work at all: how far leaving out spaCy alone goes where no screen may
skip a document; beyond it, only faster recognizers (the stage's phone recognizer, windows).
Figures are CPU seconds of this one process (so per core, and less disturbed by other jobs on
the machine than wall time).
Presidio reads all of the text (~2 minutes at its ~15 K chars/s; --presidio-chars N: the first N
characters only, for a quick run), and the stage is timed on that same text, so the ratio
compares like with like; the stage's row is the median of five runs (one run of about a
second moves by a fifth with a garbage collection or a neighbour's load, which Presidio's ~100 s
run averages out). Every run of the stage starts with its caches empty (the pieces and
token vectors NER read, spaCy's vocabulary, every answer about a phone candidate or an e-mail domain): a second
run over the same text would measure what it remembered. On that text the script also counts
Presidio's findings (of the compared entities) that no finding of the stage with the same label
overlaps, by cause: lost on the speed path (screens, name regions, chunks, the trimmed model),
or rejected by a named precision guard (dataprep/pii/audit.py).
Two parts are also timed alone, each against what it replaces on all text: Presidio's phone
recognizer as shipped and screened, and the NER model as thinc computes it and with its first
token vectors remembered and its convolutions fused (in alternation, the least of two runs each).
"""

from __future__ import annotations

import os
import sys

# one BLAS thread, as in a Ray worker (Ray sets OMP_NUM_THREADS=1): the figures are per core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# imports resolve from the repository root, not from benchmarks/ (whose tokenize.py would shadow
# the standard library module of that name)
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from benchmarks import pii_presidio, pii_sets  # noqa: E402
from dataprep.pii import audit  # noqa: E402
from dataprep.pii import ner as pii_ner  # noqa: E402
from dataprep.pii import phones as pii_phones  # noqa: E402
from dataprep.pii import recognizers as pii_recognizers  # noqa: E402
from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.pii import Pii  # noqa: E402

DATA = Path(os.environ.get("DATAPREP_SHARED_DATA", Path(sys.path[0]).parent / "shared" / "data"))
FILES = ("05_emails_enron_dpk.parquet", "04_cc_processed_samples.parquet")
BATCH = 256


def load() -> list[str]:
    """The documents once each: the default pipeline removes exact duplicates before `pii`, and
    a repeated document would only measure the stage's cache of pieces it has read."""
    return list(dict.fromkeys(t for f in FILES for t in pq.read_table(DATA / f, columns=["text"]).column("text").to_pylist() if t))


def megabytes(texts: list[str]) -> float:
    return sum(len(t.encode()) for t in texts) / 1e6


class Row:
    """A timed system on a text, compared with Presidio's rate on the same text (`base`)."""

    def __init__(self, name: str, texts: list[str], seconds: float, found: int, base: Row | None = None):
        self.name, self.chars, self.mb, self.seconds, self.found = name, sum(map(len, texts)), megabytes(texts), seconds, found
        self.base = base or self

    def line(self) -> str:
        rate = self.chars / self.seconds
        return (f"{self.name:<40}{self.chars:>11,}{self.seconds:>9.2f}{rate / 1e3:>11.1f}{self.mb / self.seconds:>8.3f}"
                f"{rate / (self.base.chars / self.base.seconds):>12.1f}{self.found:>10,}")


def prefix(texts: list[str], chars: int) -> list[str]:
    out, total = [], 0
    for t in texts:
        if total >= chars:
            break
        out.append(t[: chars - total])
        total += len(out[-1])
    return out


def time_stage(texts: list[str], ner: bool, runs: int = 5) -> tuple[float, int]:
    """Median CPU seconds of `Pii.apply` over the texts in `runs` runs, each cold (model load
    excluded), and entities found. One run of about a second moves by a fifth with a garbage
    collection landing in it or a neighbour's load; Presidio's ~100 s run averages that out."""
    stage = Pii(ner=ner)
    seconds = []
    for _ in range(runs):
        pii_ner._load.cache_clear()  # a model loaded afresh: spaCy's vocabulary and tokenizer cache empty too
        stage.setup()
        pii_ner.forget()  # each run starts with no piece or token vector remembered from the one before
        pii_recognizers.forget()  # nor an answer about a phone candidate or an e-mail domain
        found, start = 0, time.process_time()
        for i in range(0, len(texts), BATCH):
            chunk = texts[i:i + BATCH]
            batch = TextBatch(pa.table({"id": [str(j) for j in range(len(chunk))], "text": pa.array(chunk, pa.large_string())}))
            found += sum(pa.compute.list_value_length(stage.apply(batch).batch.table.column("pii_spans")).to_pylist())
        seconds.append(time.process_time() - start)
    return statistics.median(seconds), found


def time_presidio(texts: list[str]) -> tuple[float, list[list[tuple[int, int, str, float]]]]:
    engine = pii_presidio.analyzer()
    engine.analyze("warm up John Smith", language="en")
    found, start = [], time.process_time()
    for t in texts:
        found.append([s for s in pii_presidio.spans(engine, t) if s[2] in pii_presidio.COMPARED])
    return time.process_time() - start, found


def time_recognizers_alone(texts: list[str]) -> tuple[float, int]:
    """CPU seconds of Presidio's own recognizers as shipped through AnalyzerEngine.analyze on
    each text, with no NLP work at all (no spaCy, no NER, no screens)."""
    stage = Pii(ner=False, extra_recognizers=False, screens=False)
    entities, artifacts = [e for e in stage.entities if e != "PERSON"], stage._nlp.artifacts([])
    found, start = 0, time.process_time()
    for t in texts:
        found += len(stage._analyzer.analyze(t, language="en", entities=entities, nlp_artifacts=artifacts))
    return time.process_time() - start, found


def phones(texts: list[str]) -> tuple[float, float, bool, int]:
    """Presidio's PhoneRecognizer as shipped, then screened and remembering (dataprep/pii/phones.py):
    CPU seconds of each over the texts, whether they find the same spans, how many."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    results, seconds = [], []
    screened = pii_phones.ScreenedPhoneRecognizer(PhoneRecognizer())
    for recognizer in (PhoneRecognizer(), screened):
        pii_phones.forget()
        start = time.process_time()
        results.append([sorted((r.start, r.end) for r in recognizer.analyze(t, ["PHONE_NUMBER"])) for t in texts])
        seconds.append(time.process_time() - start)
    return seconds[0], seconds[1], results[0] == results[1], sum(map(len, results[0]))


def token_vectors(texts: list[str], rounds: int = 2) -> tuple[float, float, bool, int]:
    """The stage's NER (ner.find_persons over all text) with the trimmed model as thinc computes
    it and with the first token vectors remembered and the convolutions fused (ner.load:
    remember_token_embeddings, fuse_convolutions), alternating, caches empty before each run:
    the least CPU seconds of each, whether they find the same spans, how many."""
    import spacy

    stock = spacy.load(pii_ner.MODEL, enable=["ner"])
    pii_ner.use_numpy_matmul(stock)
    pii_ner.keep_labels(stock, pii_ner.NAME_LABELS)
    load, seconds, found = pii_ner.load, [[], []], [None, None]
    try:
        for _ in range(rounds):
            for i, nlp in enumerate((stock, load())):
                pii_ner.load = lambda model=pii_ner.MODEL, nlp=nlp: nlp  # what find_persons reads with
                pii_ner.forget()
                start = time.process_time()
                found[i] = pii_ner.find_persons(texts, 1000, 100, whole=500)
                seconds[i].append(time.process_time() - start)
    finally:
        pii_ner.load = load
    return min(seconds[0]), min(seconds[1]), found[0] == found[1], sum(map(len, found[0]))


def missed(texts: list[str], presidio: list[list[tuple[int, int, str, float]]]) -> tuple[Counter, list[audit.Miss]]:
    """Per label: Presidio's findings; and those no finding of the stage (NER on) overlaps, each
    with its cause: lost on the speed path, or rejected by a named guard (dataprep/pii/audit.py)."""
    stage = Pii()
    stage.setup()
    total = Counter(label for theirs in presidio for _, _, label, _ in theirs)
    return total, audit.misses(stage, texts, [[(s, e, label) for s, e, label, _ in theirs] for theirs in presidio])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presidio-chars", type=int, default=0, help="characters Presidio analyses (0: all the text)")
    parser.add_argument("--sentences", type=int, default=600, help="generated sentences (pii_quality.py's held-out part)")
    parser.add_argument("--show-missed", action="store_true", help="print Presidio's findings the stage misses")
    args = parser.parse_args()
    texts = load()
    head = prefix(texts, args.presidio_chars) if args.presidio_chars else texts
    sentences = list(dict.fromkeys(r["text"] for r in pii_sets.generate("held_out", args.sentences)))
    chars, head_chars = sum(map(len, texts)), sum(map(len, head))
    print(f"text: {len(texts)} documents, {chars:,} chars ({megabytes(texts):.2f} MB); Presidio's share {len(head)} documents, "
          f"{head_chars:,} chars; {len(sentences)} generated sentences, {sum(map(len, sentences)):,} chars")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores, shared)")
    shipped, screened, same, n = phones(texts)
    print(f"Presidio's PhoneRecognizer on all text: {shipped:.2f} CPU s as shipped, {screened:.2f} screened and remembering "
          f"({shipped / screened:.1f}x); same {n} findings: {same}")
    presidio_seconds, presidio_found = time_presidio(head)
    base = Row("Presidio AnalyzerEngine.analyze loop", head, presidio_seconds, sum(map(len, presidio_found)))
    rows = [base]
    for ner in (True, False):
        name = f"pii, NER {'on' if ner else 'off'}"
        rows.append(Row(f"{name} (same text)", head, *time_stage(head, ner), base))
        if head is not texts:
            rows.append(Row(f"{name} (all text)", texts, *time_stage(texts, ner), base))
    seconds, found = time_presidio(sentences)
    dense = Row("Presidio, generated sentences", sentences, seconds, sum(map(len, found)))
    rows += [dense, *(Row(f"pii, NER {'on' if ner else 'off'} (same sentences)", sentences, *time_stage(sentences, ner), dense)
                      for ner in (True, False)),
             Row("Presidio's recognizers as shipped, no NLP", sentences, *time_recognizers_alone(sentences), dense)]
    print(f"\n{'system':<40}{'chars':>11}{'CPU s':>9}{'K chars/s':>11}{'MB/s':>8}{'x Presidio':>12}{'entities':>10}")
    for row in rows:
        print(row.line())
    print("(x Presidio: against Presidio's rate on the same texts, the row above its group; all text against a prefix. "
          "Entities of the last row: analyze's raw results, before thresholds and overlaps)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # after the stage's runs: it warms the model's vocabulary, which the stage's first run pays for
    stock, remembered, same, n = token_vectors(texts)
    print(f"\nNER over the name regions of all text: {stock:.2f} CPU s as thinc computes the model, {remembered:.2f} with its first "
          f"token vectors remembered and its convolutions fused ({stock / remembered:.2f}x); same {n} PERSON spans: {same}")
    print(f"\n{audit.region_misses(texts).line()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # all text: Presidio would take ~100 s
    total, lost = missed(head, presidio_found)
    print(f"\nPresidio's findings that the stage (NER on) misses on the same text: {len(lost)} of {sum(total.values())}, by cause "
          "(speed path: screens, name regions, chunks, trimmed model; or a named precision guard)")
    print("\n".join(audit.summary(lost, total)))
    for m in lost:
        if args.show_missed or m.cause in audit.SPEED_CAUSES:
            print(f"    {m.label}: {head[m.doc][m.start:m.end]!r} ({m.cause})")
    print("\n1 GB of such text at these rates:",
          ", ".join(f"{row.name.split(' (')[0]}: {1e3 / (row.mb / row.seconds) / 3600:.1f} core-hours"
                    for row in [base, *(r for r in rows[1:5] if r.chars == chars)]))


if __name__ == "__main__":
    main()
