"""Language ID accuracy per language on labelled real text, and speed.

    python benchmarks/language_id.py

Labelled sets (the labels come from where the text was published, not from a model):
- samples/ fortunes: each fortune package is one language (fortunes-de, -es, -it, -ru, -pl; fortunes = en);
- samples/ Debian Reference sections: the page's translation language (some sections were left
  in English by the translators, so a few "errors" are the label's, not the model's).
And, as agreement rather than accuracy, shared/data's OSCAR 2019 documents against OSCAR's own
fastText label (column oscar_lang).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.language import Language  # noqa: E402

HINT_TO_LID = {"zh-cn": "zh", "zh-tw": "zh"}


def evaluate(name: str, ids: list[str], texts: list[str], gold: list[str]) -> None:
    batch = TextBatch(pa.table({"id": ids, "text": pa.array(texts, pa.large_string())}))
    stage = Language()
    stage.setup()
    started = time.process_time()
    predicted = stage.apply(batch).batch.table["language"].to_pylist()
    seconds = time.process_time() - started
    per = defaultdict(lambda: [0, 0])
    for p, g in zip(predicted, gold):
        per[g][0] += p == g
        per[g][1] += 1
    correct = sum(c for c, _ in per.values())
    print(f"\n{name}: {len(gold):,} documents, accuracy {correct / len(gold):.3f}, "
          f"{len(gold) / seconds:,.0f} docs/s on one core")
    print(f"  {'lang':<6} {'docs':>6} {'accuracy':>9}")
    for lang, (c, n) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        print(f"  {lang:<6} {n:>6} {c / n:>9.3f}")


def main() -> None:
    samples = pq.read_table(sorted((REPO / "samples").glob("*.parquet")))
    samples = samples.filter(pc.is_valid(samples["lang_hint"]))
    for source in ("fortune", "debian-reference"):
        part = samples.filter(pc.equal(samples["source"], source))
        evaluate(f"samples/ {source}", part["id"].to_pylist(), part["text"].to_pylist(),
                 [HINT_TO_LID.get(h, h) for h in part["lang_hint"].to_pylist()])
    oscar = REPO.parent / "shared" / "data" / "03_oscar2019_multilingual.parquet"
    if oscar.exists():
        table = pq.read_table(oscar, columns=["id", "text", "oscar_lang"])
        evaluate("shared/data OSCAR 2019 (agreement with OSCAR's own LID label)", table["id"].to_pylist(),
                 table["text"].to_pylist(), table["oscar_lang"].to_pylist())


if __name__ == "__main__":
    main()
