"""Token shards in Megatron-LM's indexed-dataset layout: the writer, and `TokenDataset`, the reader.

A shard is two files named by the part that produced it. `<name>.bin` is every document's token
ids back to back (uint16 when the vocabulary fits, else int32). `<name>.idx` is the index a
trainer memory-maps (the MMIDIDX layout of Megatron-LM's `indexed_dataset.py`, so its
`IndexedDataset` and GPT dataset read our shards as they are):

    9 bytes  b"MMIDIDX\\x00\\x00"
    <Q       version, 1
    <B       dtype code of the .bin (Megatron's table: 4 = int32, 8 = uint16, ...)
    <Q       sequence count S (one sequence per document here)
    <Q       document count D = S + 1 (the document indices below, not the documents)
    int32[S] sequence lengths in tokens
    int64[S] sequence byte offsets into the .bin
    int64[D] document indices: sequence index where each document starts, then S

`tokens/manifest.json` lists the shards in order with their counts, the dtype and the hash of
the tokenizer; `TokenDataset` reads it and gives documents, or fixed-length windows over the
concatenated stream (how pretraining packs documents into sequences).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from dataprep import storage

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER = struct.Struct("<9sQBQQ")  # magic, version, dtype code, sequence count, document count
# Megatron-LM's DType enum: it has no uint32, so vocabularies past uint16 use int32 (as its
# own preprocessing does); token ids never reach 2**31.
DTYPE_CODES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}
CODE_OF = {np.dtype(t): code for code, t in DTYPE_CODES.items()}
MANIFEST = "manifest.json"


def dtype_for(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab <= 65,536: half the disk and page cache), else int32."""
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.int32)


def write_shard(prefix: str, tokens: np.ndarray, lengths: np.ndarray) -> None:
    """Write `<prefix>.bin` then `<prefix>.idx`, each whole (storage.write_bytes: renamed into
    place locally, one PUT on an object store), the .idx last: a shard whose .idx exists is
    whole. `prefix` is a local path or a URI; `tokens` is the flat stream in its final dtype,
    `lengths` the tokens per document."""
    dtype = np.dtype(tokens.dtype)
    lengths = np.asarray(lengths, dtype=np.int64)
    if int(lengths.sum()) != len(tokens):
        raise ValueError(f"lengths sum to {int(lengths.sum())} but there are {len(tokens)} tokens")
    pointers = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1] * dtype.itemsize, out=pointers[1:])
    documents = np.arange(len(lengths) + 1, dtype=np.int64)
    header = HEADER.pack(MAGIC, VERSION, CODE_OF[dtype], len(lengths), len(documents))
    storage.write_bytes(np.ascontiguousarray(tokens).tobytes(), f"{prefix}.bin")
    storage.write_bytes(b"".join([header, lengths.astype(np.int32).tobytes(), pointers.tobytes(), documents.tobytes()]),
                        f"{prefix}.idx")


def _header(index: bytes | np.ndarray, where: str) -> tuple[np.dtype, int, int]:
    """The .bin's dtype, the sequence count and the document-index count of an .idx."""
    magic, version, code, sequences, docs = HEADER.unpack(bytes(index[: HEADER.size]))
    if magic != MAGIC or version != VERSION or code not in DTYPE_CODES:
        raise ValueError(f"{where} is not a Megatron MMIDIDX v1 index")
    return np.dtype(DTYPE_CODES[code]), sequences, docs


def shard_counts(prefix: str) -> tuple[int, int]:
    """(documents, tokens) of a shard, from its .idx alone (local or on an object store)."""
    index = storage.read_bytes(f"{prefix}.idx")
    _, sequences, _ = _header(index, f"{storage.public(prefix)}.idx")
    return sequences, int(np.frombuffer(index, np.int32, sequences, HEADER.size).sum(dtype=np.int64))


class Shard:
    """One memory-mapped .bin/.idx pair (local files: a trainer maps them)."""

    def __init__(self, prefix: Path):
        index = np.memmap(prefix.with_suffix(".idx"), dtype=np.uint8, mode="r")
        self.dtype, sequences, docs = _header(index, f"{prefix}.idx")
        offset = HEADER.size
        self.lengths = np.frombuffer(index, np.int32, sequences, offset)
        self.pointers = np.frombuffer(index, np.int64, sequences, offset + 4 * sequences)
        self.document_indices = np.frombuffer(index, np.int64, docs, offset + 12 * sequences)
        size = prefix.with_suffix(".bin").stat().st_size
        self.tokens = np.memmap(prefix.with_suffix(".bin"), dtype=self.dtype, mode="r") if size else np.zeros(0, self.dtype)

    def __len__(self) -> int:
        return len(self.lengths)

    def document(self, i: int) -> np.ndarray:
        start = self.pointers[i] // self.dtype.itemsize
        return self.tokens[start: start + self.lengths[i]]


class TokenDataset:
    """The token shards of a run's `tokens/` folder, memory-mapped (nothing is read up front).

    `ds[i]` is document i (in manifest order: shard by shard, each in its kept/ part's row
    order); `ds.window(j, length)` is the j-th run of `length` tokens of the concatenated stream.
    """

    def __init__(self, folder: str | Path):
        if storage.is_remote(str(folder)):
            raise ValueError(f"{storage.public(str(folder))}: token shards are memory-mapped from a local folder; "
                             "copy tokens/ to local disk first")
        folder = Path(folder)
        manifest_path = folder / MANIFEST
        if not manifest_path.exists():
            raise FileNotFoundError(f"no {MANIFEST} in {folder}: not a tokens/ folder of a finished run")
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        self.shards = [Shard(folder / s["name"]) for s in self.manifest["shards"]]
        self._doc_starts = np.cumsum([0] + [len(s) for s in self.shards])
        self._token_starts = np.cumsum([0] + [len(s.tokens) for s in self.shards])

    def __len__(self) -> int:
        return int(self._doc_starts[-1])

    @property
    def num_tokens(self) -> int:
        return int(self._token_starts[-1])

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(f"document {i} out of range ({len(self)} documents)")
        i %= len(self)
        shard = int(np.searchsorted(self._doc_starts, i, side="right")) - 1
        return self.shards[shard].document(i - int(self._doc_starts[shard]))

    def num_windows(self, length: int) -> int:
        """Whole windows of `length` tokens in the stream (the tail shorter than one is dropped)."""
        return self.num_tokens // length

    def window(self, j: int, length: int) -> np.ndarray:
        """Tokens [j*length, (j+1)*length) of the concatenated stream, across shard boundaries."""
        if not 0 <= j < self.num_windows(length):
            raise IndexError(f"window {j} out of range ({self.num_windows(length)} windows of {length})")
        start, stop = j * length, (j + 1) * length
        first = int(np.searchsorted(self._token_starts, start, side="right")) - 1
        last = int(np.searchsorted(self._token_starts, stop - 1, side="right")) - 1
        pieces = [self.shards[k].tokens[max(start - self._token_starts[k], 0): stop - self._token_starts[k]]
                  for k in range(first, last + 1)]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
