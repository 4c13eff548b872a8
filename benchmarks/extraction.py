"""Main-text extraction: quality and speed of the `extract` engines and of their peers.

    python benchmarks/extraction.py

Sets (read at run time, never copied into the repository):
- the article benchmark: $DATAPREP_SHARED_DATA/extraction (default ../shared/data/extraction),
  181 news and blog pages with hand-made main text (Zyte's article-extraction-benchmark). The
  hybrid's few constants were chosen on its even half (pages in hash order 0, 2, 4, ...): the
  odd half is reported apart, as the held-out half;
- an independent check set of documentation pages on this machine, whose main text is known from
  the page structure (the generator's main element): Rust's mdBook books from the rustup
  toolchain (`<main>`; menu bar and page navigation around it) and Node.js's API pages from the
  Debian package nodejs (`#apicontent`; header, table of contents and module list around it).
  Neither kind was looked at while tuning. Missing folders are skipped with a note.

Scoring is the article benchmark's published method (dataprep/extract/scoring.py). Speed is
pages per CPU-second of this one process (per core), each engine over every page of a set in the
same run: our engines through the stage (one Arrow batch per set, title and lang included), the
peers called directly with their library defaults. The machine is shared: the load average is
printed with the figures.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataprep.extract.scoring import score  # noqa: E402
from dataprep.stages.base import TextBatch  # noqa: E402
from dataprep.stages.extract import Extract  # noqa: E402

SHARED = Path(os.environ.get("DATAPREP_SHARED_DATA", REPO.parent / "shared" / "data"))
RUST_DOCS = Path.home() / ".rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html"
NODE_DOCS = Path("/usr/share/doc/nodejs/api")
CHECK_PAGES_PER_SOURCE = 40
CHECK_MAX_BYTES = 400_000  # Node's biggest API pages (several MB) would make the set about them alone


@dataclass
class PageSet:
    name: str
    html: list[str]
    truth: list[str]


def article_benchmark() -> PageSet | None:
    folder = SHARED / "extraction"
    if not (folder / "ground-truth.json").exists():
        print(f"article benchmark not found at {folder} (set DATAPREP_SHARED_DATA)")
        return None
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)
    html = [gzip.decompress((folder / "html" / f"{k}.html.gz").read_bytes()).decode("utf-8", "replace") for k in keys]
    return PageSet("articles (181)", html, [truth[k]["articleBody"] for k in keys])


def check_set() -> list[PageSet]:
    """Documentation pages with their generator's main element as the truth (see the docstring)."""
    sources = [("Rust mdBook", sorted(p for book in ("book", "nomicon", "reference", "rust-by-example")
                                      for p in (RUST_DOCS / book).rglob("*.html")), "//main"),
               ("Node.js API", sorted(NODE_DOCS.glob("*.html")), "//*[@id='apicontent']")]
    sets = []
    for name, paths, xpath in sources:
        pages = [p for p in paths if p.stat().st_size <= CHECK_MAX_BYTES and p.name not in ("print.html", "all.html")]
        html, truth = [], []
        for path in pages:
            page = path.read_text(encoding="utf-8", errors="replace")
            main = _structural_text(page, xpath)
            if len(main.split()) >= 100:  # redirect stubs and index pages are not articles
                html.append(page)
                truth.append(main)
        step = max(1, len(html) // CHECK_PAGES_PER_SOURCE)
        if html:
            sets.append(PageSet(f"check: {name} ({len(html[::step][:CHECK_PAGES_PER_SOURCE])})",
                                html[::step][:CHECK_PAGES_PER_SOURCE], truth[::step][:CHECK_PAGES_PER_SOURCE]))
        else:
            print(f"check set: no {name} pages found, skipped")
    return sets


def _structural_text(page: str, xpath: str) -> str:
    import lxml.html

    found = lxml.html.fromstring(page).xpath(xpath)
    if not found:
        return ""
    for hidden in found[0].xpath(".//script|.//style|.//noscript"):
        hidden.drop_tree()
    return " ".join(found[0].itertext())


def through_stage(engine: str, **params) -> Callable[[list[str]], tuple[list[str | None], str]]:
    def run(html: list[str]) -> tuple[list[str | None], str]:
        stage = Extract(engine=engine, **params)
        batch = TextBatch(pa.table({"id": [str(i) for i in range(len(html))], "text": pa.array(html, pa.large_string())}))
        decisions = stage.apply(batch)
        texts = [None if r else t for t, r in zip(decisions.batch.table["text"].to_pylist(), decisions.reasons)]
        used = Counter(decisions.batch.table["extract_engine"].to_pylist())
        note = f"trafilatura on {used['trafilatura'] / len(html):.0%} of pages" if used["trafilatura"] and engine == "hybrid" else ""
        return texts, note
    return run


def trafilatura_direct(html: list[str]) -> tuple[list[str | None], str]:
    import trafilatura

    return [trafilatura.extract(page) for page in html], "trafilatura.extract(html), library defaults"


def resiliparse_direct(html: list[str]) -> tuple[list[str | None], str]:
    from resiliparse.extract.html2text import extract_plain_text

    return [extract_plain_text(page, main_content=True) for page in html], "extract_plain_text(html, main_content=True)"


EXTRACTORS = {
    "extract hybrid (default)": through_stage("hybrid"),
    "extract hybrid unsure=1": through_stage("hybrid", unsure_share=1.0),
    "extract resiliparse": through_stage("resiliparse"),
    "extract trafilatura": through_stage("trafilatura"),
    "trafilatura (direct)": trafilatura_direct,
    "resiliparse (direct)": resiliparse_direct,
}


def main() -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores, shared: speeds are noisy)")
    articles = article_benchmark()
    sets = ([articles] if articles else []) + check_set()
    header = f"{'set':<28} {'extractor':<26} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8} {'pages/s/core':>12}  note"
    for page_set in sets:
        print(f"\n{header}")
        for name, extractor in EXTRACTORS.items():
            started = time.process_time()
            texts, note = extractor(page_set.html)
            speed = len(texts) / (time.process_time() - started)
            rows = [(page_set.name, texts, page_set.truth)]
            if page_set is articles:
                rows += [("  tuning half (even)", texts[0::2], page_set.truth[0::2]),
                         ("  held-out half (odd)", texts[1::2], page_set.truth[1::2])]
            for label, got, truth in rows:
                s = score(got, truth)
                shown = f"{speed:12.1f}" if label == page_set.name else " " * 12
                print(f"{label:<28} {name:<26} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} {s.accuracy:8.3f} {shown}  "
                      f"{note if label == page_set.name else ''}", flush=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
