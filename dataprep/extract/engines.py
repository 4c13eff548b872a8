"""Extraction engines: a batch of decoded HTML strings -> main texts, one line per block.

- `trafilatura`: `trafilatura.extract` with the library's defaults (the reference: best F1 of
  the Python extractors on the article benchmark, and datatrove's extractor): ~30 ms a page.
- `resiliparse`: resiliparse's main-content extraction (lexbor DOM, C++): ~1.6 ms a page.
- `hybrid` (the stage's default): resiliparse on the lexbor DOM without the containers whose
  class or id names boilerplate, then our head trim, then trafilatura only for the pages where
  that cheap pass looks unsure (docs/extraction.md has the figures).

Each engine works per document (the libraries take one page at a time) and never raises for a
page: an engine error becomes that page's `error`, so one bad page costs one document.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil

if TYPE_CHECKING:
    from resiliparse.parse.html import HTMLTree

ENGINES = ("hybrid", "trafilatura", "resiliparse")

#: resiliparse's switches for the main text: no list bullets or image alt texts (not page text,
#: and a bullet glyph would start every list line) and no comment sections: on the article
#: benchmark's tuning half F1 0.904 -> 0.934, unchanged on the documentation check set.
#: (post_meta=False gained 0.01 more on articles but cut Node.js's API text: F1 0.945 -> 0.887.)
RESILIPARSE_OPTIONS = dict(preserve_formatting=True, main_content=True, list_bullets=False, alt_texts=False, comments=False)

#: containers of boilerplate, by a word in their class or id: trafilatura's discard vocabulary
#: (xpaths.py, OVERALL_DISCARD_XPATH: share bars, newsletters, tags, sidebars, bylines, related
#: stories, widgets, footers, ads, consent, its "modal-content" and "overlay" pop-ups) plus
#: captions and promos, on the elements trafilatura
#: prunes by them (div, list, item, p, section, span) and `aside`; never on `body`, `main` or
#: `article` (whose class may say "has-sidebar"). Not "comment" nor "meta": those
#: words mark real text on documentation pages (Node.js API: F1 0.943 -> 0.896 with "comment",
#: 0.891 with "meta").
BOILERPLATE_WORDS = ("share", "social", "newsletter", "subscribe", "tags", "sidebar", "banner", "breadcrumb", "author",
                     "byline", "related", "popular", "widget", "footer", "promo", "advert", "outbrain", "taboola", "caption",
                     "cookie", "consent", "rating", "modal", "overlay")
#: one selector for all of them: lexbor matches one `:is()` list in a fifth of the time it took
#: for the 176 selectors `div[class*=share]`, ... (same text on every page of the article benchmark)
#: A name that negates the word ("no-caption", "no_sidebar": a lead image without a caption, a
#: layout without a sidebar) marks no boilerplate: BuzzFeed's lead paragraph was cut as a caption.
#: names that mark boilerplate only as a whole class word or id: a page's own table of contents
#: (Wikipedia's and Sphinx's `toc`, DocBook's `div.toc`, Node.js's `#toc`), a list of links that
#: trafilatura drops by their density; as a substring "toc" is in "protocol" and "stock"
BOILERPLATE_NAMES = ("toc",)
BOILERPLATE_SELECTOR = (":is(div,section,aside,ul,ol,dl,li,p,span):is("
                        + ",".join([*(f"[{attr}*={word}]" for word in BOILERPLATE_WORDS for attr in ("class", "id")),
                                    *(f"[class~={name}],[id={name}]" for name in BOILERPLATE_NAMES)]) + "):not("
                        + ",".join(f"[{attr}*={no}{word}]" for word in BOILERPLATE_WORDS for no in ("no-", "no_")
                                   for attr in ("class", "id")) + ")")
#: when skipping those containers leaves less than this share of the page's main text, a selector
#: hit the article's own container: keep the unpruned text (trafilatura reverts over-pruning too)
OVERPRUNED = 0.5

def nocase(name: str) -> str:
    """An ASCII tag name as a regex matching it in any case ("div" -> "[dD][iI][vV]"): HTML's
    rule for tag names, and 2.4x faster in Arrow's RE2 than the same pattern under (?i)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in name)


#: resiliparse's main-content pass takes time quadratic in the nesting of `div`/`article`
#: elements (2,000 unclosed `<div>`: 1 s; 10,000: 30 s; 60,000 closed ones: 90 s, one page
#: stalling its task). Real pages stay far below (the article benchmark's deepest: see
#: tests/test_extract.py). Deeper pages fail, by name.
MAX_UNCLOSED = 256
OPEN_CONTAINER = rf"<(?:{nocase('div')}|{nocase('article')})\b"
#: an opening ("") or closing ("/") `<div>`/`<article>` tag, in order
CONTAINER_TAG = re.compile(r"<(/?)(?:div|article)(?=[\s/>])", re.IGNORECASE)

#: scripts written without spaces between words, counted in runs of about a word's length (a
#: Japanese, Chinese or Thai sentence was one or two "words", never a body line: head_trim cut
#: the opening of a page). Chinese and Japanese words average under two characters; Thai, Lao,
#: Khmer and Burmese ones about four code points (tone and vowel marks included). One character a
#: word made a Chinese portal's 26-character menu bar a body line.
UNSPACED_PAIRS = r"\p{Han}\p{Hiragana}\p{Katakana}"
UNSPACED_FOURS = r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
UNSPACED = UNSPACED_PAIRS + UNSPACED_FOURS
#: a word of letters, digits and combining marks (Tamil's and Hindi's vowel signs inside a word
#: are spacing marks, Mc: without them a Tamil word counted as three), or a run of UNSPACED characters
WORD = rf"[{UNSPACED_PAIRS}]{{1,2}}|[{UNSPACED_FOURS}]{{1,4}}|(?:[^\P{{L}}{UNSPACED}]|[\p{{N}}\p{{Pc}}]|[^\P{{M}}{UNSPACED}])+"


@dataclass
class Extracted:
    """Per page: the main text (None when the engine failed), the engine that produced it, the
    error of a failed page, and what the page's parse says of its head: `document.title` (raw,
    before white space is collapsed) and its `<html>` element's `lang` attribute, as written."""

    texts: list[str | None]
    engines: list[str]
    errors: list[str | None]
    titles: list[str | None]
    langs: list[str | None]


def run(engine: str, html: pa.Array, unsure_share: float, min_chars: int) -> Extracted:
    """Extract a batch of pages (an Arrow string array) with the named engine.

    Every page is parsed once by lexbor (resiliparse's HTML5 parser, ~0.5 ms a page): the
    resiliparse engines extract from that tree, and the title and lang are read from it for every
    engine, as a browser reads them (a `<title>` in a `<textarea>`, a `<template>`, an SVG or a
    comment is not the page's; regexes over the markup kept finding new cases)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    from resiliparse.parse.html import HTMLTree

    pages = html.to_pylist()
    depth = np.zeros(len(pages), np.int64) if engine == "trafilatura" else container_depth(html)
    deep = depth > MAX_UNCLOSED
    first = "trafilatura" if engine == "trafilatura" else "resiliparse"
    extract = {"trafilatura": lambda _, page: trafilatura_text(page), "resiliparse": resiliparse_text, "hybrid": pruned_text}[engine]
    # a page too deep is not extracted: it has the configured engine's name, as any page no engine read
    done = Extracted([], [engine if too_deep else first for too_deep in deep], [], [], [])
    for page, n, too_deep in zip(pages, depth, deep):
        text = error = title = lang = None
        try:
            tree = HTMLTree.parse(page)
            root = tree.document.document_element
            title, lang = tree.title, None if root is None else root.getattr("lang")
            if too_deep:
                error = f"<div>/<article> elements nested {n} deep, deeper than {MAX_UNCLOSED}: not extracted"
            else:
                text = extract(tree, page)
        except Exception as exc:  # noqa: BLE001 (a page that breaks the library is that page's outcome)
            error = f"{first}: {type(exc).__name__}: {exc}"[:500]
        for column, value in zip((done.texts, done.errors, done.titles, done.langs), (text, error, title, lang)):
            column.append(value)
    return _redo_unsure(done, pages, deep, unsure_share, min_chars) if engine == "hybrid" else done


def container_depth(html: pa.Array) -> np.ndarray:
    """Per page, how deep its `<div>`/`<article>` elements nest (a floor: 0 for pages that cannot
    be too deep).

    Only pages with more than MAX_UNCLOSED opening tags (13% of the article benchmark's pages) can
    nest deeper than that; for them, the deepest point of the opening and closing tags, in order,
    outside comments, scripts and styles, whose tags are no elements. Opened minus closed was not
    enough: a page nested 60,000 deep with every tag closed stalled its task 3 minutes; closing
    tags in a comment let one nested 12,000 deep through; a script's JSON menu (`<div>` opened,
    `<\\/div>` escaped) failed an ordinary article."""
    opened = pc.fill_null(pc.count_substring_regex(html, OPEN_CONTAINER), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    depth = np.zeros(len(html), np.int64)
    for i in np.flatnonzero(opened > MAX_UNCLOSED):
        closing = np.array(CONTAINER_TAG.findall(without_unrendered(html[int(i)].as_py())), dtype=object) == "/"
        depth[i] = np.cumsum(np.where(closing, -1, 1)).max(initial=0)
    return depth


#: what holds text but no elements of the page (opening -> closing, in lower case)
UNRENDERED = {"<!--": "-->", "<script": "</script", "<style": "</style"}
OPENING = re.compile("|".join(map(re.escape, UNRENDERED)), re.IGNORECASE)
CLOSING = {opening: re.compile(re.escape(closing), re.IGNORECASE) for opening, closing in UNRENDERED.items()}


def without_unrendered(page: str) -> str:
    """The page without its comments, scripts and styles, for the regex that finds its tags.
    Found by case-blind searches from one region to the next (an Arrow regex over whole pages,
    RE2 with lazy `.*?`, took 0.4-0.6 ms a page; lower-casing a whole page in Python, 2 ms)."""
    kept, at = [], 0
    found = OPENING.search(page)
    while found:
        kept.append(page[at:found.start()])
        opening = found.group().lower()
        ended = CLOSING[opening].search(page, found.end())
        at = len(page) if ended is None else ended.end() if opening == "<!--" else (page.find(">", ended.end()) + 1 or len(page))
        found = OPENING.search(page, at)
    return "".join(kept) + page[at:]


#: C1 control characters: in a decoded page, only the mojibake of UTF-8 read as windows-1252
#: (the last byte of ” is 0x9D, read as U+009D), which `normalize` repairs
C1_CONTROL = re.compile("[\x80-\x9f]")


def for_trafilatura(html: str) -> str:
    """The page with its C1 controls as U+FFFD: trafilatura drops them from its text, and the
    mojibake left without them was "repaired" by `normalize` into other characters, silently
    (`â€` + U+009D is ”; `â€` alone became †); as U+FFFD the damage stays visible."""
    return C1_CONTROL.sub("\ufffd", html) if C1_CONTROL.search(html) else html


def trafilatura_text(html: str) -> str:
    import trafilatura

    return trafilatura.extract(for_trafilatura(html)) or ""


def trafilatura_fast_text(html: str) -> str:
    """trafilatura for the hybrid's unsure pages: without its fallback extractors (readability,
    jusText; the same F1 on the article benchmark at 1.4x the speed) and without comment
    sections, which the stage leaves out on every engine (resiliparse's `comments=False`): alone,
    F1 0.955 -> 0.962 on the article benchmark (0.969 on its even half, 0.956 on the odd one)."""
    import trafilatura

    return trafilatura.extract(for_trafilatura(html), fast=True, include_comments=False) or ""


def resiliparse_text(tree: HTMLTree, _page: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(tree, **RESILIPARSE_OPTIONS)


def pruned_text(tree: HTMLTree, _page: str) -> str:
    """resiliparse's main text without the boilerplate containers (unless that over-prunes)."""
    from resiliparse.extract.html2text import extract_plain_text

    pruned = extract_plain_text(tree, skip_elements=[BOILERPLATE_SELECTOR], **RESILIPARSE_OPTIONS)
    whole = extract_plain_text(tree, **RESILIPARSE_OPTIONS)
    return pruned if len(pruned) >= OVERPRUNED * len(whole) else whole


#: when trafilatura's fast pass keeps less than this share of the cheap pass's (head-trimmed)
#: text, the page is read again by trafilatura with its fallbacks (readability, jusText), which
#: compare texts, and the longer of the two texts is taken: on a French essay the fast pass kept
#: 413 characters of a 38,000-character article (with fallbacks: 36,393). At a quarter, an article
#: whose fast text was right (F1 0.99, 894 of the cheap pass's 4,255 characters) took the
#: fallbacks' wrong one (0.33).
FAST_SHORT = 0.1


def _trafilatura_with_fallbacks(html: str) -> str:
    """trafilatura's defaults but for comments (left out on every engine); "" if it raises: the
    fast text it would have replaced stays."""
    import trafilatura

    try:
        return trafilatura.extract(for_trafilatura(html), include_comments=False) or ""
    except Exception:  # noqa: BLE001 (a second opinion: its failure costs nothing)
        return ""


def _redo_unsure(cheap: Extracted, html: list[str], deep: np.ndarray, unsure_share: float, min_chars: int) -> Extracted:
    """The hybrid's second pass: head trim for every page the cheap pass (resiliparse without
    boilerplate containers) read; trafilatura for the pages it leaves unsure.

    A page is unsure when more than `unsure_share` of its kept words sit in short lines that do
    not end a sentence nor look like code (see head_trim), or when the cheap pass kept nothing or
    fewer than `min_chars` characters (trafilatura's own rule for a text too short to trust is
    MIN_EXTRACTED_SIZE, 250 characters: below it, it runs its fallbacks).
    trafilatura's text replaces the cheap one unless it is empty (when it is far shorter, the
    page is read again with trafilatura's fallbacks: FAST_SHORT). A page nested too deep is not
    sent to it either.
    """
    trimmed, weak_share = head_trim(pa.array([t or "" for t in cheap.texts], pa.large_string()))
    texts: list[str | None] = trimmed.to_pylist()
    engines, errors = cheap.engines, cheap.errors
    unsure = ((weak_share > unsure_share) | (textutil.char_lengths(trimmed) < max(min_chars, 1))) & ~deep
    for i in np.flatnonzero(unsure):
        try:
            second, failure = trafilatura_fast_text(html[i]), None
        except Exception as exc:  # noqa: BLE001 (as in run: the page's outcome)
            second, failure = "", f"trafilatura: {type(exc).__name__}: {exc}"[:500]
        if second and len(second) < FAST_SHORT * len(texts[i] or ""):
            second = max(second, _trafilatura_with_fallbacks(html[i]), key=len)
        if second:
            texts[i], engines[i], errors[i] = second, "trafilatura", None
        elif errors[i] is not None and failure is not None:
            errors[i] = f"{errors[i]}; {failure}"
    return Extracted([None if e is not None else t for t, e in zip(texts, errors)], engines, errors, cheap.titles, cheap.langs)


#: a body line: at least this many words, or BODY_SENTENCE_WORDS words ending a sentence
BODY_WORDS = 25
BODY_SENTENCE_WORDS = 3


@functools.cache
def sentence_end() -> str:
    """A line that ends a sentence: a terminal mark (or `:` `;`, and CJK text's full-width `：` `；`),
    closing quotes or brackets (CJK's 」』）】》 too: a speech's opening "女士们、先生们：" was cut), ASCII spaces. Not a no-break space or an invisible mark after it (RE2's `\\s` is ASCII only):
    widening it to those sent 9 fewer article pages to trafilatura, 3 of which it had improved
    (tuning half 0.960 -> 0.958, below trafilatura's 0.962), so such pages still count as unsure,
    at a speed cost. Built on first use: the Sentence_Terminal class takes 0.2 s to read, which
    every process importing the readers paid when it was built at import."""
    return f"[{textutil.sentence_terminal_class()}:;\uff1a\uff1b][\"'\u201d\u2019\u00bb)\\]\u300d\u300f\uff09\u3011\u300b]*\\s*$"


#: a line with one of these is likely code or markup shown as text (content, however short)
CODE_CHARS = r"[{}();=<>\[\]_$#/\\|*&@`]"


def head_trim(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Drop the lines before each page's first body line (site header, menu, breadcrumbs, title
    and byline), and measure what is left: per page, the share of its words in short lines that
    end no sentence and do not look like code (menus, teasers, share bars: what resiliparse lets
    through and trafilatura removes). Vectorised over the batch (Arrow regexes over all lines at
    once, numpy per line); a page without a body line is kept whole.

    Only the head is trimmed: the tail of documentation pages is often a list or a code listing,
    and cutting it cost more there (Rust books: F1 0.935 -> 0.894) than it gained on articles.
    """
    n_docs = len(text)
    lines, parent = textutil.flat(textutil.split_lines(text))
    words = pc.count_substring_regex(lines, WORD).to_numpy(zero_copy_only=False).astype(np.int64)
    ends = textutil.matches(lines, sentence_end())
    body = (words >= BODY_WORDS) | ((words >= BODY_SENTENCE_WORDS) & ends)
    index = np.arange(len(words))
    first = np.full(n_docs, len(words), np.int64)
    np.minimum.at(first, parent[body], index[body])
    keep = index >= np.where(first == len(words), 0, first)[parent]
    weak = keep & (words < BODY_WORDS) & ~ends & ~textutil.matches(lines, CODE_CHARS)
    weak_share = textutil.ratio(textutil.per_doc(parent[weak], words[weak].astype(float), n_docs),
                                textutil.per_doc(parent[keep], words[keep].astype(float), n_docs))
    return textutil.join_kept(lines, parent, keep, n_docs), weak_share
