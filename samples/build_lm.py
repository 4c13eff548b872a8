"""Train the reference language model of the `perplexity` stage (CCNet style), offline.

    apt-get install -y debian-reference-en libboost-program-options-dev libboost-system-dev \
        libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev
    # KenLM's builder (lmplz, build_binary) from the `kenlm` sdist on PyPI:
    pip download --no-deps --no-binary kenlm kenlm   (or fetch kenlm-0.3.0.tar.gz)
    tar xzf kenlm-0.3.0.tar.gz && cmake -S kenlm-0.3.0 -B kenlm-build && make -C kenlm-build lmplz build_binary
    python samples/build_lm.py --kenlm-bin kenlm-build/bin

Reference text: the prose paragraphs (8+ words ending a sentence) of the English Debian
Reference manual (GPL-2+, samples/NOTICE), leaving out every chapter that samples/ uses, so
tests measure perplexity on text the model has not seen. Steps, as in CCNet (Wenzek et al.
2020): normalize (lower case, digits to 0), a SentencePiece unigram model, a 5-gram KenLM
model on the pieces with modified Kneser-Ney smoothing, pruned singletons of order 3+ to stay
small. Writes dataprep/models/en.sp.model, en.kenlm and en.json (the card).
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import sentencepiece as spm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from build import REFERENCE, html_to_text  # noqa: E402

OUT = HERE.parent / "dataprep" / "models"


def reference_paragraphs() -> tuple[list[str], list[str]]:
    used = {i.split(":", 1)[1].split("#")[0] for f in sorted(HERE.glob("*.parquet")) for i in pq.read_table(f, columns=["id"])["id"].to_pylist()
            if i.startswith("debian-reference:")}
    chapters = sorted(p for p in REFERENCE.glob("*.en.html") if p.name not in used and not p.name.startswith("index"))
    paragraphs = []
    for page in chapters:
        for line in html_to_text(page.read_text(encoding="utf-8")).split("\n"):
            line = line.strip()
            if len(line.split()) >= 8 and re.search(r"[.!?:]$", line):
                paragraphs.append(line)
    return paragraphs, [p.name for p in chapters]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kenlm-bin", required=True, help="folder holding lmplz and build_binary")
    parser.add_argument("--vocab", type=int, default=2000)  # the reference text is small: ~3,800 pieces at most
    args = parser.parse_args()
    from dataprep.stages.perplexity import normalize_for_lm

    paragraphs, chapters = reference_paragraphs()
    lines = normalize_for_lm(paragraphs)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=args.vocab,
                                   model_type="unigram", character_coverage=1.0, byte_fallback=True, num_threads=2,
                                   minloglevel=2)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "en.sp.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    with tempfile.TemporaryDirectory() as tmp:
        pieces = Path(tmp) / "pieces.txt"
        pieces.write_text("\n".join(" ".join(sp.encode(line, out_type=str)) for line in lines) + "\n", encoding="utf-8")
        arpa = Path(tmp) / "lm.arpa"
        with pieces.open("rb") as src, arpa.open("wb") as dst:
            subprocess.run([f"{args.kenlm_bin}/lmplz", "-o", "5", "--prune", "0", "0", "1", "--discount_fallback", "-S", "20%",
                            "-T", tmp], stdin=src, stdout=dst, check=True, stderr=subprocess.DEVNULL)
        subprocess.run([f"{args.kenlm_bin}/build_binary", "-q", "8", "-b", "8", "trie", str(arpa), str(OUT / "en.kenlm")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from dataprep.stages.perplexity import Perplexity

    # CCNet cuts head/middle/tail at the 30th and 60th percentiles of the crawl it filters; ours
    # are those of the English documents of samples/ (the default pipeline's input)
    stage = Perplexity()
    texts = [t for f in sorted(glob.glob(str(HERE / "*.parquet"))) for t, lang in
             zip(*(pq.read_table(f, columns=["text", "lang_hint"]).column(c).to_pylist() for c in ("text", "lang_hint"))) if lang == "en"]
    scores = stage.score(texts)
    card = {"language": "en", "order": 5, "smoothing": "modified Kneser-Ney (KenLM lmplz), singletons of order 3+ pruned",
            "tokenizer": f"SentencePiece unigram, {args.vocab} pieces, byte fallback",
            "normalization": "lower case, digits to 0, whitespace collapsed",
            "training_text": f"Debian Reference (English), {len(chapters)} chapters not used in samples/: {len(paragraphs)} paragraphs, "
                             f"{sum(len(p) for p in paragraphs):,} characters",
            "cutoffs": [round(float(np.percentile(scores, 30)), 1), round(float(np.percentile(scores, 60)), 1)],
            "cutoffs_from": f"30th/60th percentile over {len(texts)} English documents of samples/"}
    (OUT / "en.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
