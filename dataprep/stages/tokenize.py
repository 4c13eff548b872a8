"""`tokenize`: encode every kept document into token shards a trainer memory-maps.

Each part's documents are encoded batch by batch in its Ray task (SentencePiece and tokenizers
encode whole batches in C++/Rust), an end-of-document id appended to each, and written at the
end of the part as `tokens/part-<key>.bin/.idx` in Megatron-LM's indexed-dataset layout
(dataprep/tokens.py), atomically and named by part, so a resumed run redoes exactly the parts it
redoes for kept/. Document i of a shard is row i of `kept/part-<key>.parquet` (tokenize is the
last stage, so nothing after it removes documents). After all parts, `tokens/manifest.json`
sums the shards as they are on disk and records the dtype and the tokenizer's hash.

The tokenizer is the one `train_tokenizer` wrote to the run's `tokenizer/`, or an existing one
given by path (a SentencePiece `.model` or a `tokenizer.json`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa

from dataprep import storage, tokens
from dataprep.errors import ConfigError
from dataprep.stages.base import TextBatch, Writer, register
from dataprep.tokenizer import Tokenizer, trained_tokenizer

#: what the .bin may hold: Megatron's dtype table has uint16 and int32 for token ids, no uint32
DTYPES = ("auto", "uint16", "int32")


@register
class Tokenize(Writer):
    """Encodes kept documents into per-part .bin/.idx token shards plus a manifest; keeps every document."""

    name = "tokenize"
    adds = {"num_tokens": pa.int32()}

    def __init__(
        self,
        tokenizer: str | None = None,  # a .model or tokenizer.json; None: the run's train_tokenizer output
        append_eos: bool = True,  # documents are packed back to back: the model must see where one ends
        eos: str | None = None,  # the end-of-document token; None: the tokenizer's own (</s>, <|endoftext|>)
        dtype: str = "auto",  # ids on disk: uint16 when the vocabulary fits (half the disk), else int32 (Megatron has no uint32)
    ):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        self.tokenizer = tokenizer
        self.append_eos = append_eos
        self.eos = eos
        self.dtype = dtype
        self._tokens: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        # a file given by path is checked now (a bad one is a configuration error, before Ray starts)
        self._loaded = self._check(Tokenizer(tokenizer, eos)) if tokenizer is not None else None

    def read_files(self) -> list[str]:
        return [self.tokenizer] if self.tokenizer else []  # a trained one is this run's own

    def requires(self) -> set[str]:
        return set() if self.tokenizer else {"tokenizer_sample"}

    def setup(self) -> None:
        # Ray runs one task per core: the tokenizers library's own thread pool would only contend
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    def _check(self, loaded: Tokenizer) -> Tokenizer:
        if self.dtype == "uint16" and loaded.vocab_size > 2**16:
            raise ValueError(f"dtype uint16 holds ids below 65,536; tokenizer {loaded.path} has {loaded.vocab_size:,}: "
                             "use int32 or auto")
        if self.append_eos and loaded.eos_id < 0:
            raise ValueError(f"tokenizer {loaded.path} has no end-of-document token{f' {self.eos!r}' if self.eos else ''}; "
                             "name one with eos, or set append_eos: false")
        try:  # a special token the model's vocabulary also holds could still be made from text: tried once
            encoded = loaded.encode([f"a {loaded.eos} b" if self.append_eos else "a b"])
        except Exception as exc:  # noqa: BLE001 (the libraries' own: "WordLevel error: Missing [UNK] token from the vocabulary")
            raise ValueError(f"tokenizer {loaded.path} cannot encode text ({type(exc).__name__}: {str(exc)[:200]})") from None
        if self.append_eos and (not loaded.eos_is_special() or any(loaded.eos_id in ids for ids in encoded)):
            # a user symbol, a piece of the vocabulary, an added token not marked special: a document holding it would hold an end of document
            raise ValueError(f"tokenizer {loaded.path}: its end-of-document token {loaded.eos!r} is also matched in text, so a "
                             "document that contains it would be cut there; name a special token with eos, or remove it from "
                             "the tokenizer's user symbols")
        return loaded

    def _dtype(self, tokenizer: Tokenizer) -> np.dtype:
        return tokens.dtype_for(tokenizer.vocab_size) if self.dtype == "auto" else np.dtype(self.dtype)

    def _tokenizer(self) -> Tokenizer:
        """Loaded on first use: a trained tokenizer only exists once train_tokenizer has run."""
        if self._loaded is None:
            try:
                self._loaded = self._check(Tokenizer(self.tokenizer or trained_tokenizer(self._output.tokenizer), self.eos))
            except ValueError as exc:  # the run's configuration, not a document's fault: stops the run with one line
                raise ConfigError(f"tokenize: {exc}") from None
        return self._loaded

    def _shard(self, key: str) -> str:
        return storage.join(self._output.tokens, f"part-{key}")

    def start_part(self, key: str) -> None:
        self._tokens, self._lengths = [], []
        for suffix in (".idx", ".bin"):  # a stale shard of an interrupted attempt
            storage.delete(self._shard(key) + suffix)

    def write(self, batch: TextBatch) -> dict[str, pa.Array]:
        tokenizer = self._tokenizer()
        dtype = self._dtype(tokenizer)
        encoded = tokenizer.encode(batch.text.to_pylist())
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        flat = np.concatenate([np.asarray(ids, dtype=dtype) for ids in encoded] + [np.zeros(0, dtype)])
        if self.append_eos:
            flat = np.insert(flat, np.cumsum(lengths), np.array(tokenizer.eos_id, dtype=dtype))
            lengths += 1
        self._tokens.append(flat)  # last: a batch that raised above left nothing behind
        self._lengths.append(lengths)
        return {"num_tokens": pa.array(lengths.astype(np.int32), pa.int32())}

    def finish_part(self, key: str) -> None:
        if self._lengths:
            tokens.write_shard(self._shard(key), np.concatenate(self._tokens), np.concatenate(self._lengths))
        self._tokens, self._lengths = [], []

    def finish(self) -> dict[str, Any]:
        """The manifest: the shards in part order, counted from their .idx files."""
        folder = self._output.tokens
        names = sorted((storage.name(p)[: -len(".idx")] for p in storage.files(folder, "part-*.idx")),
                       key=lambda n: [int(x) for x in n[5:].split("-")])
        shards = []
        for name in names:
            count, length = tokens.shard_counts(storage.join(folder, name))
            shards.append({"name": name, "documents": count, "tokens": length, "kept": f"kept/{name}.parquet"})
        tokenizer = self._tokenizer() if shards or self.tokenizer else None
        manifest = {
            "documents": sum(s["documents"] for s in shards),
            "tokens": sum(s["tokens"] for s in shards),
            "dtype": self._dtype(tokenizer).name if tokenizer else None,
            "append_eos": self.append_eos,
            "tokenizer": None if tokenizer is None else {
                "path": storage.normalize(tokenizer.path), "family": tokenizer.family, "sha256": tokenizer.sha256,
                "vocab_size": tokenizer.vocab_size, "eos_id": tokenizer.eos_id},
            "shards": shards,
        }
        storage.write_json(manifest, storage.join(folder, tokens.MANIFEST))
        return {k: manifest[k] for k in ("documents", "tokens", "dtype")}
