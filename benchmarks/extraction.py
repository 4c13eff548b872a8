"""Main-text extraction: quality and speed of the `extract` engines and of their peers.

    python benchmarks/extraction.py               # the article benchmark and the check sets
    python benchmarks/extraction.py --agreement   # the held-out agreement check (below)
    python benchmarks/extraction.py --repeat 3    # speed: the best of 3 passes (a shared machine)
    python benchmarks/extraction.py --unsure 0.1,0.2   # also the hybrid at other unsure_share values

Sets (read at run time, never copied into the repository):
- the article benchmark: $DATAPREP_SHARED_DATA/extraction (default ../shared/data/extraction),
  181 news and blog pages with hand-made main text (Zyte's article-extraction-benchmark). The
  hybrid's few constants were chosen on its even half (pages in hash order 0, 2, 4, ...): the
  odd half is reported apart, as the held-out half;
- an independent check set of documentation pages on this machine, whose main text is known from
  the page structure (the generator's main element): Rust's mdBook books from the rustup
  toolchain (`<main>`; menu bar and page navigation around it) and Node.js's API pages from the
  Debian package nodejs (`#apicontent`; header, table of contents and module list around it),
  and since session 13 Python's documentation, Sphinx's HTML, from Debian's python3.11-doc
  (`div[role=main]`; related-links bars, sidebar and footer around it). None of them was looked at
  while tuning. Missing folders are skipped with a note;
- since session 19, news pages in ten languages with their expected article text: the 22 distinct
  pages of newspaper4k 0.9.6's `tests/data` (CNN, TIME, Wired, local US news, a Korean agency in
  English; Arabic, Chinese, Japanese, Latvian, Spanish, Thai, Burmese...; MIT), taken from its
  sdist on PyPI at run time into benchmarks/.peers/ (`sdist_tests`). The truth is newspaper4k's
  own regression output (its tests assert `article.text == txt`), so it leans to newspaper's
  choices: no title, affiliate "ADD TO CART" lines kept. Held out: no rule was chosen on it.

- `--agreement`: a held-out check of how far the hybrid strays from its reference, on pages of
  other kinds found offline on this machine (none looked at while choosing the hybrid's rules):
  Debian's FAQ in six languages (en, de, fr, ja, ru, zh-cn), valgrind's and libffi's manuals,
  npm's docs, rustdoc API pages of Rust's std, the cargo and rustc books, the documentation
  bundled with the Google Cloud SDK, libxslt's API pages. No hand-made truth exists for them, so
  trafilatura's own output (library defaults) is the reference and the score is agreement F1.
  Up to 30 pages per source (every k-th in path order), those where trafilatura keeps >= 50 words.

Scoring is the article benchmark's published method (dataprep/extract/scoring.py). Speed is
pages per CPU-second of this one process (per core), each engine over every page of a set in the
same run: our engines through the stage (one Arrow batch per set, title and lang included), the
peers called directly with their library defaults. Each extractor's input is made before its
clock starts, as a reader would hand it over: the stage gets an Arrow batch, a peer gets fresh
`str` pages (decoded from UTF-8 bytes anew for each peer: a `str` that was already handed to
resiliparse or Arrow caches its UTF-8 form, which made a later peer's parse 0.25 ms a page
cheaper than a first one's). Every extractor runs once on a small page before it is timed, so
no figure includes a library's import (trafilatura's: 0.23 CPU-s, a tenth of the hybrid's time
over the 181 pages). The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tarfile
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
PYTHON_DOCS = next(iter(sorted(Path("/usr/share/doc").glob("python3.*/html"))), Path("/usr/share/doc/python3/html"))
CHECK_PAGES_PER_SOURCE = 40
PEERS = REPO / "benchmarks" / ".peers"
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
               ("Node.js API", sorted(NODE_DOCS.glob("*.html")), "//*[@id='apicontent']"),
               ("Python docs", sorted(PYTHON_DOCS.rglob("*.html")), "//div[@role='main']")]
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


def sdist_tests(requirement: str) -> Path:
    """The `tests/` folder of a package's sdist on PyPI (`name==version`), downloaded and unpacked
    into benchmarks/.peers/ once: test pages other projects publish, never copied into ours."""
    name, version = requirement.split("==")
    folder = PEERS / f"{name}-{version}" / "tests"
    if not folder.exists():
        PEERS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", str(PEERS),
                        requirement], check=True)
        with tarfile.open(PEERS / f"{name}-{version}.tar.gz") as sdist:
            sdist.extractall(PEERS, members=[m for m in sdist.getmembers() if m.name.startswith(f"{name}-{version}/tests/")],
                             filter="data")
    return folder


def newspaper_set() -> PageSet:
    """newspaper4k's test pages that have an expected text (see the docstring), decoded as the
    readers decode a file. A page whose HTML repeats an earlier one's (video_article_01 is
    cleveland.com1 with another truth) is left out: one page, one truth."""
    from dataprep.readers.charset import to_utf8

    data = sdist_tests("newspaper4k==0.9.6") / "data"
    html, truth, seen = [], [], set()
    for path in sorted((data / "html").glob("*.html")):
        expected = data / "txt" / f"{path.stem}.txt"
        raw = path.read_bytes()
        if expected.exists() and raw not in seen:
            seen.add(raw)
            html.append(to_utf8(raw).data.decode("utf-8", "replace"))
            truth.append(expected.read_text(encoding="utf-8"))
    return PageSet(f"check: newspaper4k news ({len(html)})", html, truth)


AGREEMENT_PAGES_PER_SOURCE = 30


def agreement_sources() -> list[tuple[str, list[Path]]]:
    """The held-out agreement check's page sources (see the docstring); missing ones are empty."""
    rust = RUST_DOCS
    def files(pattern: str, root: Path) -> list[Path]:
        return sorted(root.glob(pattern)) if root.exists() else []
    return [("Debian FAQ, 6 languages", files("**/*.html", Path("/usr/share/doc/debian/FAQ"))),
            ("valgrind manual", files("*.html", Path("/usr/share/doc/valgrind/html"))),
            ("libffi manual", files("*.html", Path("/usr/share/doc/libffi8/html"))),
            ("npm docs", files("**/*.html", Path("/usr/lib/node_modules/npm/docs/output"))),
            ("rustdoc std API", (files("std/*/index.html", rust) + files("std/*/struct.*.html", rust))[:400]),
            ("cargo + rustc books", files("cargo/**/*.html", rust) + files("rustc/**/*.html", rust)),
            ("Google Cloud SDK docs", files("**/*.html", Path("/usr/lib/google-cloud-sdk"))),
            ("libxslt API", files("**/*.html", Path("/usr/share/doc/libxslt1-dev")))]


def agreement_sets() -> list[PageSet]:
    """Held-out pages of each source with trafilatura's text (library defaults) as the reference."""
    import trafilatura

    sets = []
    for name, paths in agreement_sources():
        html, reference = [], []
        for path in paths:
            if path.stat().st_size > CHECK_MAX_BYTES or path.name in ("print.html", "all.html"):
                continue
            page = path.read_text(encoding="utf-8", errors="replace")
            text = trafilatura.extract(page) or ""
            if len(text.split()) >= 50:
                html.append(page)
                reference.append(text)
        step = max(1, len(html) // AGREEMENT_PAGES_PER_SOURCE)
        html, reference = html[::step][:AGREEMENT_PAGES_PER_SOURCE], reference[::step][:AGREEMENT_PAGES_PER_SOURCE]
        if html:
            sets.append(PageSet(f"{name} ({len(html)})", html, reference))
        else:
            print(f"agreement check: no {name} pages found, skipped")
    return sets


def agreement() -> None:
    """Agreement F1 with trafilatura per source and pooled, and pages/s per core, for our engines."""
    sets = agreement_sets()
    engines = {name: run for name, run in EXTRACTORS.items() if name.startswith("extract") and "trafilatura" not in name}
    print(f"\n{'held-out source':<28} {'extractor':<26} {'agreement F1':>12} {'pages/s/core':>12}  note")
    pooled: dict[str, list[float]] = {name: [] for name in engines}
    for page_set in sets:
        for name, extractor in engines.items():
            texts, note, speed = extractor.timed(page_set.html)
            f1 = score(texts, page_set.truth).f1
            pooled[name].append(f1)
            print(f"{page_set.name:<28} {name:<26} {f1:12.3f} {speed:12.1f}  {note}", flush=True)
    for name, f1s in pooled.items():
        print(f"{'mean over sources':<28} {name:<26} {sum(f1s) / max(len(f1s), 1):12.3f}")


def _structural_text(page: str, xpath: str) -> str:
    import lxml.html

    found = lxml.html.fromstring(page).xpath(xpath)
    if not found:
        return ""
    for hidden in found[0].xpath(".//script|.//style|.//noscript"):
        hidden.drop_tree()
    return " ".join(found[0].itertext())


@dataclass
class Extractor:
    """What a reader hands an extractor (`prepare`, not timed), and the extraction (`run`, timed),
    which returns the texts (None: removed) and a note."""

    prepare: Callable[[list[str]], object]
    run: Callable[[object], tuple[list[str | None], str]]

    def timed(self, html: list[str]) -> tuple[list[str | None], str, float]:
        """Texts, note and pages per CPU-second: the best of REPEAT passes (after one untimed
        warm-up page), each on an input made anew."""
        self.run(self.prepare([WARM_UP]))
        best = float("inf")
        for _ in range(REPEAT):
            given = self.prepare(html)
            started = time.process_time()
            texts, note = self.run(given)
            best = min(best, time.process_time() - started)
        return texts, note, len(html) / best


REPEAT = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
UNSURE = [float(u) for u in sys.argv[sys.argv.index("--unsure") + 1].split(",")] if "--unsure" in sys.argv else []
WARM_UP = "<html><head><title>t</title></head><body><p>" + "A sentence of a warm-up page. " * 20 + "</p></body></html>"


def arrow_batch(html: list[str]) -> TextBatch:
    return TextBatch(pa.table({"id": [str(i) for i in range(len(html))], "text": pa.array(html, pa.large_string())}))


def fresh_pages(html: list[str]) -> list[str]:
    """New `str` objects, as decoding a page's bytes makes them (no cached UTF-8 form)."""
    return [page.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") for page in html]


def through_stage(engine: str, **params) -> Extractor:
    def run(batch: TextBatch) -> tuple[list[str | None], str]:
        decisions = Extract(engine=engine, **params).apply(batch)
        texts = [None if r else t for t, r in zip(decisions.batch.table["text"].to_pylist(), decisions.reasons)]
        used = Counter(decisions.batch.table["extract_engine"].to_pylist())
        note = f"trafilatura on {used['trafilatura'] / batch.num_rows:.0%} of pages" if used["trafilatura"] and engine == "hybrid" else ""
        return texts, note
    return Extractor(arrow_batch, run)


def trafilatura_direct(html: list[str]) -> tuple[list[str | None], str]:
    import trafilatura

    return [trafilatura.extract(page) for page in html], "trafilatura.extract(html), library defaults"


def resiliparse_direct(html: list[str]) -> tuple[list[str | None], str]:
    from resiliparse.extract.html2text import extract_plain_text

    return [extract_plain_text(page, main_content=True) for page in html], "extract_plain_text(html, main_content=True)"


def resiliparse_engine_options(html: list[str]) -> tuple[list[str | None], str]:
    """The library with the `resiliparse` engine's options: the floor of that engine's time."""
    from resiliparse.extract.html2text import extract_plain_text

    from dataprep.extract.engines import RESILIPARSE_OPTIONS

    return [extract_plain_text(page, **RESILIPARSE_OPTIONS) for page in html], "the library alone, the engine's options"


EXTRACTORS = {
    "extract hybrid (default)": through_stage("hybrid"),
    "extract hybrid min=0": through_stage("hybrid", min_chars=0),
    "extract hybrid unsure=1": through_stage("hybrid", unsure_share=1.0),
    "extract hybrid u=1,min=0": through_stage("hybrid", unsure_share=1.0, min_chars=0),
    # the dial between them: `--unsure 0.1,0.15` adds the hybrid at those unsure_share values
    **{f"extract hybrid unsure={u:g}": through_stage("hybrid", unsure_share=u) for u in UNSURE},
    "extract resiliparse": through_stage("resiliparse"),
    "extract trafilatura": through_stage("trafilatura"),
    "trafilatura (direct)": Extractor(fresh_pages, trafilatura_direct),
    "resiliparse (direct)": Extractor(fresh_pages, resiliparse_direct),
    "resiliparse (engine opts)": Extractor(fresh_pages, resiliparse_engine_options),
}


def load_line(when: str) -> str:
    return f"\nload average {when}: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores, shared: speeds are noisy)"


def main() -> None:
    print(load_line("before"))
    if "--agreement" in sys.argv[1:]:
        agreement()
        print(load_line("after"))
        return
    articles = article_benchmark()
    sets = ([articles] if articles else []) + check_set() + [newspaper_set()]
    header = f"{'set':<28} {'extractor':<26} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8} {'pages/s/core':>12}  note"
    for page_set in sets:
        print(f"\n{header}")
        for name, extractor in EXTRACTORS.items():
            texts, note, speed = extractor.timed(page_set.html)
            rows = [(page_set.name, texts, page_set.truth)]
            if page_set is articles:
                rows += [("  tuning half (even)", texts[0::2], page_set.truth[0::2]),
                         ("  held-out half (odd)", texts[1::2], page_set.truth[1::2])]
            for label, got, truth in rows:
                s = score(got, truth)
                shown = f"{speed:12.1f}" if label == page_set.name else " " * 12
                print(f"{label:<28} {name:<26} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} {s.accuracy:8.3f} {shown}  "
                      f"{note if label == page_set.name else ''}", flush=True)
    print(load_line("after"))


if __name__ == "__main__":
    main()
