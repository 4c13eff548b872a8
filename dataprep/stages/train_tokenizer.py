"""`train_tokenizer`: SentencePiece (unigram, BPE) or byte-level BPE trained on a sample of the corpus.

A global stage, because the sample is drawn from the whole kept corpus and the tokenizer is one
per run. Keys: per document its language, size, text and a uniform draw from a hash of its id
(deterministic, independent of sharding and worker count). Resolve: per-language totals by a
Ray Data group-by, then sampling probabilities that reach `sample_bytes` with a temperature
`alpha` (XLM-R and ROOTS: a language's share of the sample grows as its share of the corpus to
the power alpha, so small languages get more than their raw share); then only the sampled text
is streamed from the Ray dataset into the trainer (SentencePiece's `sentence_iterator`,
tokenizers' `train_from_iterator`), so memory follows the sample, not the corpus
(sentencepiece#680, tokenizers#1824). Every document is kept; `tokenizer_sample` says which ones
the tokenizer was trained on (the decisions are the sampled documents: bounded by `sample_bytes`). Writes `tokenizer/` (the model and `card.json`) in the run's output.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import resolution, storage
from dataprep.errors import ConfigError
from dataprep.tokenizer import Tokenizer
from dataprep import text as textutil
from dataprep.stages.base import Decisions, Global, TextBatch, register

MODEL_TYPES = ("unigram", "bpe", "byte_level_bpe")
#: SentencePiece's built-in normalization rules
NORMALIZATIONS = ("identity", "nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf")
KEY_SCHEMA = pa.schema([("id", pa.string()), ("language", pa.string()), ("draw", pa.float64()),
                        ("bytes", pa.int64()), ("text", pa.large_string())])
LANGUAGES_SCHEMA = pa.schema([("language", pa.string()), ("documents", pa.int64()), ("bytes", pa.int64()),
                              ("probability", pa.float64())])
NO_LANGUAGE = "all"
NOTHING_TO_TRAIN = "no documents reached train_tokenizer: no tokenizer was trained"


def temperature_probabilities(totals: dict[str, int], sample_bytes: int, alpha: float) -> dict[str, float]:
    """Per language, the probability of drawing a document, so the sample holds about
    `sample_bytes` split as q_l ~ (bytes_l / bytes)^alpha; a language smaller than its quota is
    taken whole and the rest of the budget goes to the others (water filling)."""
    total = sum(totals.values())
    if total == 0:
        return {lang: 0.0 for lang in totals}
    weights = {lang: (b / total) ** alpha if b else 0.0 for lang, b in totals.items()}
    whole: set[str] = set()
    while True:
        left = sample_bytes - sum(totals[lang] for lang in whole)
        rest = sum(w for lang, w in weights.items() if lang not in whole)
        scale = left / rest if rest else 0.0
        grown = {lang for lang in totals if lang not in whole and scale * weights[lang] >= totals[lang]}
        if not grown:
            break
        whole |= grown
    return {lang: 1.0 if lang in whole else min(1.0, scale * weights[lang] / totals[lang]) if totals[lang] else 0.0
            for lang in totals}


@register
class TrainTokenizer(Global):
    """Trains one tokenizer on a language-balanced sample of the kept corpus; keeps every document."""

    name = "train_tokenizer"
    resolves_tables = True  # its keys hold text: the runner's bound on their Arrow size (resolution.PARTITION_BYTES, recorded by the keys writer) keeps large corpora on Ray Data
    adds = {"tokenizer_sample": pa.bool_()}

    def __init__(
        self,
        model_type: str = "unigram",  # SentencePiece's default (T5, XLM-R); also bpe, byte_level_bpe (GPT-2)
        vocab_size: int = 32000,  # Llama and T5; ids then fit uint16 token shards
        sample_bytes: int = 2**28,  # 256 MiB of text: enough for a 32k vocabulary, trains in a few GB of memory
        alpha: float = 0.3,  # XLM-R / mT5 language sampling temperature
        input_sentence_size: int = 1_000_000,  # SentencePiece's own cap on lines kept (reservoir-sampled)
        character_coverage: float = 0.9995,  # SentencePiece's recommendation for CJK-rich corpora
        byte_fallback: bool = True,  # unknown characters become UTF-8 bytes, never <unk> (Llama)
        normalization: str = "identity",  # keep text byte-exact (Llama); "nmt_nfkc" is SentencePiece's default
        max_sentence_length: int = 4192,  # SentencePiece's default, in bytes: longer lines are skipped in training
        unk: str = "<unk>",  # SentencePiece's default special pieces, ids 0-3 in both families
        bos: str = "<s>",
        eos: str = "</s>",
        pad: str | None = "<pad>",  # None: no padding token (SentencePiece's default)
        user_symbols: list[str] | None = None,  # extra pieces never split (e.g. chat markers)
        language_column: str = "language",  # the `language` stage's column; absent: one pool
        seed: int = 0,  # the hash seed of the document draw
        # SentencePiece's default: its model depends on the thread count, so a fixed one trains the same
        # model on every machine (os.cpu_count() did not: 3,988 of 4,000 pieces shared between 1 and 2 threads)
        num_threads: int = 16,
    ):
        if model_type not in MODEL_TYPES:
            raise ValueError(f"model_type must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}")
        if vocab_size < 260 and model_type == "byte_level_bpe":
            raise ValueError(f"vocab_size {vocab_size} is smaller than the 256 byte symbols plus special tokens")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], not {alpha}")
        if sample_bytes <= 0:
            raise ValueError(f"sample_bytes must be positive, not {sample_bytes}")
        specials = [unk, bos, eos] + ([pad] if pad else [])
        pieces = specials + list(user_symbols or [])
        if any(not isinstance(p, str) or not p for p in pieces) or len(set(pieces)) < len(pieces):
            raise ValueError(f"unk, bos, eos, pad and user_symbols must be distinct non-empty strings, not {pieces}")
        if vocab_size <= len(pieces):
            raise ValueError(f"vocab_size ({vocab_size}) must exceed the {len(pieces)} special and user pieces")
        if not 0.0 < character_coverage <= 1.0:
            raise ValueError(f"character_coverage must be in (0, 1] (SentencePiece's), not {character_coverage}")
        if not 10 <= max_sentence_length <= 2**30 or input_sentence_size < 0:
            raise ValueError("max_sentence_length must be within [10, 2^30] bytes (SentencePiece's bounds) and "
                             "input_sentence_size at least 0 (0: every line)")
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, not {num_threads}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)} (SentencePiece's rules), not {normalization!r}")
        self.model_type = model_type
        self.vocab_size = vocab_size
        self.sample_bytes = sample_bytes
        self.alpha = alpha
        self.input_sentence_size = input_sentence_size
        self.character_coverage = character_coverage
        self.byte_fallback = byte_fallback
        self.normalization = normalization
        self.max_sentence_length = max_sentence_length
        self.unk, self.bos, self.eos, self.pad = unk, bos, eos, pad
        self.user_symbols = user_symbols or []
        self.language_column = language_column
        self.seed = seed
        self.num_threads = num_threads

    # ---- sampling -------------------------------------------------------------------------

    def draws(self, ids: pa.Array) -> np.ndarray:
        """A uniform number in [0, 1) per document, from a hash of its id (one C call each)."""
        values = textutil.xxh3_64(ids, seed=self.seed)
        return (values >> np.uint64(11)).astype(np.float64) / float(2**53)

    def _languages(self, table: pa.Table) -> pa.Array:
        if self.language_column not in table.column_names:
            return pa.array([NO_LANGUAGE] * table.num_rows, pa.string())
        return pc.fill_null(table.column(self.language_column).combine_chunks().cast(pa.string()), "unknown")

    def keys(self, batch: TextBatch | None) -> pa.Table:
        if batch is None:
            return KEY_SCHEMA.empty_table()
        ids = batch.table["id"].combine_chunks()
        return pa.table({"id": ids, "language": self._languages(batch.table), "draw": self.draws(ids),
                         "bytes": pc.binary_length(batch.text).cast(pa.int64()), "text": batch.text}, schema=KEY_SCHEMA)

    def resolve(self, records: Any, n: int) -> Any:
        """Per-language totals (a group-by: one row per language reaches the driver), the draw
        probabilities, the tokenizer trained on the drawn text; the decisions are the drawn ids.
        Keys as a table (a resolve on the driver, at most resolution.PARTITION_BYTES in Arrow) are
        freed once the sample is drawn: during training the driver holds the sample (at most
        `sample_bytes` of text, a copy) and the trainer's memory, not the keys as well."""
        if records is None:  # no document reached the stage: the card says so, as for an empty sample
            storage.write_json({"error": NOTHING_TO_TRAIN}, storage.join(self._output.tokenizer, "card.json"))
            return None
        if isinstance(records, pa.Table):  # one partition's worth, on the driver (resolves_tables)
            groups = records.group_by("language").aggregate([("id", "count"), ("bytes", "sum")])
            rows = [{"language": language, "documents": documents, "bytes": size} for language, documents, size in
                    zip(*(groups[c].to_pylist() for c in ("language", "id_count", "bytes_sum")))]
        else:
            from ray.data.aggregate import Count, Sum

            rows = records.groupby("language").aggregate(Count(alias_name="documents"), Sum("bytes", alias_name="bytes")).take_all()
        rows = sorted(rows, key=lambda r: r["language"])
        totals = {r["language"]: int(r["bytes"] or 0) for r in rows}
        probabilities = temperature_probabilities(totals, self.sample_bytes, self.alpha)
        table = pa.Table.from_pylist([{**r, "bytes": totals[r["language"]], "probability": probabilities[r["language"]]}
                                      for r in rows], LANGUAGES_SCHEMA)
        if isinstance(records, pa.Table):
            sampled = _sampled(records, probabilities)  # in the keys' order, the parts' order
            records = None  # the keys (the runner holds no other reference): training holds the sample only
            self._write(sampled.select(["text"]), table)
            return sampled.select(["part", "id"])
        from ray.data import DataContext

        options = DataContext.get_current().execution_options
        preserve, options.preserve_order = options.preserve_order, True  # same input order -> same tokenizer
        try:
            # drawn once and held (bounded by sample_bytes): training and the decisions read it, not the keys again
            sampled = resolution.map_batches(records, _sampled, probabilities=probabilities).materialize()
            self._write(sampled.select_columns(["text"]), table)
        finally:
            options.preserve_order = preserve
        return sampled.select_columns(["part", "id"])

    def decide(self, batch: TextBatch, decisions: pa.Table) -> Decisions:
        from dataprep.resolution import rows_of

        sample = rows_of(decisions, batch.table["id"].combine_chunks()) >= 0
        return Decisions.keep_all(batch.with_columns({"tokenizer_sample": pa.array(sample, pa.bool_())}))

    def finish(self) -> dict[str, Any]:
        """The card's headline: its `seconds` are the training's alone (the stage's seconds, which
        time its keys and resolve, include them)."""
        path = storage.join(self._output.tokenizer, "card.json")
        card = storage.read_json(path) if storage.exists(path) else {"error": NOTHING_TO_TRAIN}
        return {k: card[k] for k in ("file", "sha256", "vocab_size", "seconds", "sample", "error", "note") if k in card}

    # ---- training -------------------------------------------------------------------------

    def _write(self, sampled: Any, languages: pa.Table) -> None:
        """Train on the sampled records (streamed in order) and write tokenizer/ whole."""
        folder = self._output.tokenizer
        batches = sampled.to_batches(256) if isinstance(sampled, pa.Table) else sampled.iter_batches(batch_format="pyarrow", batch_size=256)
        feed = TextFeed((b.column("text") for b in batches), self.max_sentence_length)
        try:
            started = time.perf_counter()
            filename, model = self.train(feed)
            seconds = time.perf_counter() - started
        except RuntimeError as exc:
            if feed.lines:  # SentencePiece refuses an empty input; anything else is this configuration on this sample
                raise ConfigError(f"train_tokenizer: SentencePiece cannot train on the sample: {refusal(exc)}; change the "
                                  "stage's parameters (or what reaches it) and rerun with --overwrite") from None
            filename = ""
        if not filename or feed.documents == 0:
            storage.write_json({"error": self._why_nothing(feed, languages)}, storage.join(folder, "card.json"))
            return
        storage.write_bytes(model, storage.join(folder, filename))
        learned = Tokenizer(storage.join(folder, filename)).vocab_size
        # SentencePiece (hard_vocab_limit off) and BPE stop early on a sample too small for vocab_size
        short = {} if learned >= self.vocab_size else {"note": f"a vocabulary of {learned:,} pieces, not vocab_size "
                                                               f"{self.vocab_size:,}: the sample held no more to learn "
                                                               f"(raise sample_bytes, or give a larger corpus)"}
        card = {"file": filename, "sha256": hashlib.sha256(model).hexdigest(), "model_type": self.model_type,
                "vocab_size": learned, **short, "parameters": self.params(), "seconds": round(seconds, 2),
                "sample": {"documents": feed.documents, "bytes": feed.bytes, **({"lines": feed.lines} if feed.lines else {}),
                           **({"long_lines_skipped": feed.long_lines} if feed.long_lines else {})},
                "corpus": languages.to_pylist()}
        storage.write_json(card, storage.join(folder, "card.json"))

    def _why_nothing(self, feed: TextFeed, languages: pa.Table) -> str:
        """Why no tokenizer was trained, in the words a user acts on."""
        corpus = sum(languages.column("documents").to_pylist())
        if corpus == 0:
            return NOTHING_TO_TRAIN
        if feed.documents == 0:
            average = sum(languages.column("bytes").to_pylist()) // corpus
            return (f"the sample drew none of the {corpus:,} documents (of {average:,} bytes on average): raise sample_bytes "
                    f"({self.sample_bytes:,}); no tokenizer was trained")
        if feed.long_lines:
            return (f"every line of the {feed.documents:,} documents drawn is blank or longer than max_sentence_length "
                    f"({self.max_sentence_length:,} bytes; {feed.long_lines:,} are): raise it; no tokenizer was trained")
        return f"the {feed.documents:,} documents drawn hold no text to train on (blank lines only): no tokenizer was trained"

    def train(self, feed: TextFeed) -> tuple[str, bytes]:
        """Train from a stream of text arrays; return the model's file name and bytes."""
        if self.model_type == "byte_level_bpe":
            return "tokenizer.json", self._train_byte_level(feed)
        return "tokenizer.model", self._train_sentencepiece(feed)

    def _specials(self) -> list[str]:
        return [self.unk, self.bos, self.eos] + ([self.pad] if self.pad else [])

    def _train_sentencepiece(self, feed: TextFeed) -> bytes:
        import sentencepiece as spm

        spm.set_random_generator_seed(self.seed)
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=feed.lines_of_text(), model_writer=model, model_type=self.model_type,
            vocab_size=self.vocab_size, character_coverage=self.character_coverage, byte_fallback=self.byte_fallback,
            normalization_rule_name=self.normalization, remove_extra_whitespaces=self.normalization != "identity",
            input_sentence_size=self.input_sentence_size, shuffle_input_sentence=True,
            max_sentence_length=self.max_sentence_length, split_digits=True, allow_whitespace_only_pieces=True,
            unk_id=0, bos_id=1, eos_id=2, pad_id=3 if self.pad else -1,
            unk_piece=self.unk, bos_piece=self.bos, eos_piece=self.eos, pad_piece=self.pad or "<pad>",
            user_defined_symbols=self.user_symbols, hard_vocab_limit=False,
            num_threads=self.num_threads, minloglevel=2)
        return model.getvalue()

    def _train_byte_level(self, feed: TextFeed) -> bytes:
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=self.vocab_size, min_frequency=2, show_progress=False,
                                      special_tokens=self._specials() + self.user_symbols,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tokenizer.train_from_iterator(feed.documents_of_text(), trainer=trainer)
        # trained as special tokens (their ids follow the specials, as SentencePiece's user symbols do),
        # then made ordinary added tokens: tokenize never matches special ones in text, and a user
        # symbol is a piece a document's text is meant to hold ("<|im_start|>" in a chat transcript)
        tokenizer.add_tokens([AddedToken(s, special=False, normalized=False) for s in self.user_symbols])
        return tokenizer.to_str().encode("utf-8")


def refusal(exc: RuntimeError) -> str:
    """SentencePiece's reason, without its source location ("INTERNAL: src/trainer_interface.cc(638)
    [a C++ condition] Vocabulary size is smaller than required_chars. 100 vs 1490. ...")."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = re.sub(r"^(?:INTERNAL: )?(?:src/\S+\(\d+\) (?:\[.*?\] )?)?", "", reason)
    return reason.rstrip(". ")


def probability_of(languages: pa.Array, probabilities: dict[str, float]) -> np.ndarray:
    """Each document's draw probability, from its language (0 for a language not in the table)."""
    names = pa.array(list(probabilities), pa.string())
    values = np.append(np.array(list(probabilities.values()), dtype=np.float64), 0.0)
    return values[pc.fill_null(pc.index_in(languages, names), len(names)).to_numpy()]


def _sampled(table: pa.Table, probabilities: dict[str, float]) -> pa.Table:
    """The records drawn into the sample."""
    chosen = table.column("draw").to_numpy() < probability_of(table.column("language").combine_chunks(), probabilities)
    return table.filter(pa.array(chosen))


class TextFeed:
    """The sampled text as the trainers want it (lines for SentencePiece, documents for
    tokenizers), counting what went through for the card. Lines longer than `max_line_bytes`
    are left out here and counted (SentencePiece skips them unsaid: on a multilingual web
    sample a fifth of the text was in such lines, and the card counted it as trained on)."""

    def __init__(self, texts: Iterator[pa.Array], max_line_bytes: int | None = None):
        self._texts = texts
        self._max_line_bytes = max_line_bytes
        self.documents = self.bytes = self.lines = self.long_lines = 0

    def _arrays(self) -> Iterator[pa.Array]:
        for text in self._texts:
            text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
            self.documents += len(text)
            self.bytes += int(pc.sum(pc.binary_length(text)).as_py() or 0)
            yield text

    def lines_of_text(self) -> Iterator[str]:
        for text in self._arrays():
            lines = pc.list_flatten(pc.split_pattern(text, "\n"))
            lines = lines.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(lines)), 0))  # blank lines teach nothing
            if self._max_line_bytes is not None:
                fits = pc.less_equal(pc.binary_length(lines), self._max_line_bytes)
                self.long_lines += len(lines) - pc.sum(fits).as_py() if len(lines) else 0
                lines = lines.filter(fits)
            self.lines += len(lines)
            yield from lines.to_pylist()

    def documents_of_text(self) -> Iterator[list[str]]:
        for text in self._arrays():
            yield text.to_pylist()
