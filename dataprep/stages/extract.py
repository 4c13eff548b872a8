"""`extract`: a web page's decoded HTML (in `text`) -> its main text, one line per block.

The readers put each page's HTML, already decoded to a str, in `text`. This stage replaces it
with the main text (navigation, headers, footers, teasers and comments left out), keeping
paragraphs and lines as newlines so the line-based rules downstream (C4, FineWeb, line dedup)
still see lines. It adds `html_bytes` (the HTML's UTF-8 size: the report draws it against the
text kept), `html_lang` (from `<html lang>`), `title` and, when asked, `publication_date`
(htmldate). The engines are in dataprep/extract/engines.py; docs/extraction.md has the figures.

Rows that are text already (WET records: a crawl's own extracted text) keep it as it is, with
`extract_engine` "none". Outcomes per page: main text kept; nothing left -> removed as `extract.empty`; the engine
raised on the page, or the page is nested too deep for resiliparse (engines.MAX_UNCLOSED) ->
removed as `extract.failed` with the error. Removed pages keep their HTML in the ledger, so
nothing is lost and `dataprep explain` shows what the engine was given.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil
from dataprep.extract import engines
from dataprep.stages.base import LineFilter, TextBatch, register

#: a language tag at the start of a `lang` attribute's value (BCP 47's shape, `_` allowed as written)
LANG = r"^[ \t\n\r\f]*(?P<lang>[a-zA-Z]{1,8}(?:[-_][a-zA-Z0-9]{1,8})*)"
#: white space as document.title collapses it (ASCII only: a no-break space stays)
ASCII_SPACE = re.compile(r"[ \t\n\r\f]+")
#: inline data (base64 images): htmldate's search read years in it
DATA_URI = re.compile(r"data:[^\s\"')]{64,}")


@register
class Extract(LineFilter):
    """HTML -> main text with lines kept; `html_bytes`, `html_lang`, `title`, `publication_date`."""

    name = "extract"
    adds = {
        "html_bytes": pa.int64(),
        "html_lang": pa.string(),
        "title": pa.string(),
        "publication_date": pa.string(),
        "extract_engine": pa.string(),
    }

    def __init__(
        self,
        engine: str = "hybrid",  # resiliparse + trafilatura where unsure: trafilatura's F1 on the article benchmark, faster (docs/extraction.md)
        unsure_share: float = 0.04,  # hybrid: redo a page with trafilatura above this share of words in short non-sentence lines
        # (from the article benchmark's tuning half: F1 0.962 there, as trafilatura's; 1.0 = never: ~2.2x faster, F1 -0.009)
        min_chars: int = 250,  # hybrid: also redo a page whose cheap text is shorter: trafilatura's own floor (MIN_EXTRACTED_SIZE);
        # benchmarks/extraction.py: F1 higher on both halves, no agreement source lower; 0 = only empty pages
        title: bool = True,  # the page's document.title: cheap (read from the parse the engines make anyway)
        publication_date: bool = False,  # htmldate with its defaults: a few ms per page, so only when asked
    ):
        if engine not in engines.ENGINES:
            raise ValueError(f"engine must be one of {', '.join(engines.ENGINES)}, not {engine!r}")
        if not 0 <= unsure_share <= 1:
            raise ValueError(f"unsure_share must be within [0, 1], not {unsure_share}")
        if min_chars < 0:
            raise ValueError(f"min_chars must be >= 0, not {min_chars}")
        self.engine = engine
        self.unsure_share = unsure_share
        self.title = title
        self.publication_date = publication_date
        self.min_chars = min_chars

    def rewrite(self, batch: TextBatch) -> tuple[TextBatch, dict[str, np.ndarray]]:
        html = batch.text
        plain = _already_text(batch)
        result = engines.run(self.engine, html.filter(pa.array(~plain)) if plain.any() else html, self.unsure_share, self.min_chars)
        texts, used = _in_place(result.texts, plain, html), _in_place(result.engines, plain, "none")
        errors = np.array(_in_place(result.errors, plain, None), dtype=object)
        failed = errors != None  # noqa: E711 (elementwise)
        main = pa.array([t or "" for t in texts], pa.large_string())
        empty = ~failed & ~textutil.matches(main, engines.WORD)
        removed = failed | empty
        html_bytes = textutil.byte_lengths(html)
        columns = {
            "html_bytes": pa.array(html_bytes, pa.int64()),
            "html_lang": _html_lang(_in_place(result.langs, plain, None)),
            "extract_engine": pa.array(used, pa.string()),
        }
        if self.title:
            columns["title"] = _titles(_in_place(result.titles, plain, None))
        if self.publication_date:
            pages = html.to_pylist()
            urls = batch.table.column("url").to_pylist() if "url" in batch.table.column_names else [None] * len(pages)
            columns["publication_date"] = pa.array([None if text else _date(p, u) for p, u, text in zip(pages, urls, plain)], pa.string())
        metrics = {"html_bytes": html_bytes, "text_bytes": np.where(removed, 0, textutil.byte_lengths(main)), "error": errors}
        return batch.with_text(main).with_columns(columns), metrics

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        """The engine raised; else no word was left (text_bytes is 0 exactly then)."""
        return [("failed", m["error"] != None), ("empty", m["text_bytes"] == 0)]  # noqa: E711


#: the reader's record type of a text that is already a page's text (a WET conversion record)
PLAIN_RECORD = "conversion"


def _already_text(batch: TextBatch) -> np.ndarray:
    """Rows whose text is not HTML: WET records (a crawl's own extracted text). Parsed as HTML,
    `a<b and c>d` lost its words and `<script>` the rest of the record."""
    if "warc_type" not in batch.table.column_names:
        return np.zeros(batch.num_rows, bool)
    return pc.fill_null(pc.equal(batch.table.column("warc_type"), PLAIN_RECORD), False).to_numpy(zero_copy_only=False)


def _in_place(values: list, plain: np.ndarray, fill: pa.Array | str | None) -> list:
    """The HTML rows' values in their places among all rows; the plain rows get `fill` (a value,
    or an array of every row's own value)."""
    if not plain.any():
        return values
    merged = fill.to_pylist() if isinstance(fill, pa.Array) else [fill] * len(plain)
    for target, value in zip(np.flatnonzero(~plain), values):
        merged[target] = value
    return merged


def _html_lang(langs: list[str | None]) -> pa.Array:
    """The `<html>` element's `lang` attribute as a tag, lower case with `-` (e.g. "en-gb"), or null."""
    lang = pc.struct_field(pc.extract_regex(pa.array(langs, pa.string()), LANG), "lang")
    return pc.replace_substring(pc.utf8_lower(lang), "_", "-")


def _titles(raw: list[str | None]) -> pa.Array:
    """document.title: the first `<title>` element's text, white space collapsed, or null."""
    titles = [None if t is None else ASCII_SPACE.sub(" ", t).strip(" \t\n\r\f") for t in raw]
    return pa.array([t or None for t in titles], pa.string())


def _date(page: str, url: str | None) -> str | None:
    from htmldate import find_date

    try:
        return find_date(DATA_URI.sub("data:", page), url=url)
    except Exception:  # noqa: BLE001 (no date is an answer; a date parser's error is not the page's fault)
        return None
