"""One interface over the two tokenizer families the project trains and reads.

A SentencePiece `.model` (unigram or BPE) or a Hugging Face `tokenizer.json` (byte-level BPE,
or any other a user brings) loads into a `Tokenizer` that encodes batches of documents, decodes
ids, and names its vocabulary size, end-of-document id and content hash (the hash goes into the
token manifest, so shards are never read with the wrong vocabulary).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dataprep import storage

SENTENCEPIECE = "sentencepiece"
HUGGINGFACE = "huggingface"
# end-of-document tokens of the common tokenizer.json vocabularies (T5/Llama, GPT-2, Gemma)
EOS_CANDIDATES = ("</s>", "<|endoftext|>", "<eos>")


def family_of(path: str | Path) -> str:
    """Which library reads the file, from its name: `.model` SentencePiece, `.json` tokenizers."""
    suffix = Path(path).suffix
    if suffix == ".model":
        return SENTENCEPIECE
    if suffix == ".json":
        return HUGGINGFACE
    raise ValueError(f"tokenizer {path}: expected a SentencePiece .model or a tokenizer.json")


class Tokenizer:
    """A loaded tokenizer: `encode` a list of texts (no special tokens added), `decode` ids."""

    def __init__(self, path: str | Path, eos: str | None = None):
        path = str(path)  # a local path or a URI (storage.py): the model is read whole either way
        if not storage.is_file(path):
            raise ValueError(f"tokenizer file not found: {storage.public(path)}")
        self.path = path
        self.family = family_of(path)
        data = storage.read_bytes(path)
        self.sha256 = hashlib.sha256(data).hexdigest()
        try:
            self._load(data, eos)
        except Exception as exc:  # noqa: BLE001 (the libraries raise RuntimeError, Exception, UnicodeDecodeError...)
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            what = "SentencePiece model" if self.family == SENTENCEPIECE else "tokenizer.json"
            raise ValueError(f"tokenizer {storage.public(path)} is not a readable {what} ({reason[:200]})") from None

    def _load(self, data: bytes, eos: str | None) -> None:
        """The model; `vocab_size` (one more than its largest id: what the token shards must hold),
        `eos_id` (-1 when it has none) and `eos` (that token as text)."""
        if self.family == SENTENCEPIECE:
            import sentencepiece as spm

            self._sp = spm.SentencePieceProcessor(model_proto=data)
            self.vocab_size = self._sp.get_piece_size()
            self.eos_id = self._sp.piece_to_id(eos) if eos else self._sp.eos_id()
            if eos and self._sp.id_to_piece(self.eos_id) != eos:
                self.eos_id = -1
            self.eos = self._sp.id_to_piece(self.eos_id) if self.eos_id >= 0 else None
        else:
            from tokenizers import Tokenizer as HFTokenizer

            self._hf = HFTokenizer.from_str(data.decode("utf-8"))
            # a document's own "</s>" (or a GPT-2 model's "<|endoftext|>") is text, not an end of
            # document in the middle of it: special tokens are never matched in the input
            self._hf.encode_special_tokens = True
            # not the number of entries: a tokenizer.json's ids may skip some (a WordLevel
            # vocabulary of 4 words had id 70,000, which uint16 cannot hold)
            self.vocab_size = max(self._hf.get_vocab(with_added_tokens=True).values(), default=-1) + 1
            found = [t for t in ([eos] if eos else EOS_CANDIDATES) if self._hf.token_to_id(t) is not None]
            self.eos_id = self._hf.token_to_id(found[0]) if found else -1
            self.eos = found[0] if found else None

    def eos_is_special(self) -> bool:
        """Whether the end-of-document token is of a kind no text is encoded into: a SentencePiece
        control symbol, or a tokenizer.json added token marked special (never matched in the input:
        see _load). A user symbol, a byte piece or a plain piece of the vocabulary is made from text."""
        if self.family == SENTENCEPIECE:
            return self._sp.is_control(self.eos_id)
        added = self._hf.get_added_tokens_decoder().get(self.eos_id)
        return added is not None and added.special

    def encode(self, texts: list[str]) -> list[list[int]]:
        if self.family == SENTENCEPIECE:
            return self._sp.encode(texts, out_type=int, num_threads=1)  # Ray already runs one task per core
        return [e.ids for e in self._hf.encode_batch_fast(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        if self.family == SENTENCEPIECE:
            return self._sp.decode(ids)
        return self._hf.decode(ids, skip_special_tokens=False)


def trained_tokenizer(folder: str) -> str:
    """The model file `train_tokenizer` wrote into a run's tokenizer/ folder (named by its card)."""
    card = storage.join(folder, "card.json")
    if not storage.exists(card):
        raise ValueError(f"no trained tokenizer in {storage.public(folder)}: put train_tokenizer before tokenize, "
                         "or give tokenizer: PATH")
    meta = storage.read_json(card)
    if "file" not in meta:
        raise ValueError(f"{storage.public(card)}: {meta.get('error', 'no tokenizer file recorded')}")
    return storage.join(folder, meta["file"])
