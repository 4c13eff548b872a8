"""Rebuild samples/*.parquet from real text that Debian's package registry provides.

    apt-get install -y debian-reference-{en,de,fr,es,it,pt,id,ja,zh-cn,zh-tw} \
        fortunes fortunes-de fortunes-es fortunes-it fortunes-ru fortunes-pl fortunes-zh
    python samples/build.py

Sources (licences in samples/NOTICE):
- Debian Reference manual, 10 languages: each chapter page is cut at its sections; every
  document keeps the page's navigation header and footer ("Prev", "Next", "Home", chapter
  titles) and each chapter's table of contents is a document of its own, as a crawler would
  see a multi-page manual: navigation boilerplate, repeated lines, several languages.
- /usr/share/doc/*/copyright: real names and e-mail addresses (PII) and hundreds of licence
  texts, many byte-identical (binary packages of one source) or near-identical (exact and near
  duplicates).
- fortune cookies in seven languages (labelled by the package that ships them): short documents, ASCII art (junk), repeated sayings.
- A few fortunes are stored as a mis-decoded crawler would have stored them (UTF-8 bytes read
  as cp1252: "GrÃ¼ÃŸe" for "Grüße"), so that `normalize` has real mojibake to repair; their
  `source` column says so.

Deterministic: the same installed packages give the same shards.
"""

from __future__ import annotations

import html.parser
import random
import re
import subprocess
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-1252 codec)
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
REFERENCE = Path("/usr/share/debian-reference")
FORTUNES = Path("/usr/share/games/fortunes")
LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "id", "ja", "zh-cn", "zh-tw"]
SHARDS = 4
ROW_GROUP = 128

BLOCK_TAGS = {"p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "tr", "pre", "table", "hr", "th",
              "blockquote", "title"}


class _TextExtractor(html.parser.HTMLParser):
    """Page text with block structure as newlines (a crawler's WET-style extraction)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        if tag == "pre":
            self.pre += 1
        if tag in BLOCK_TAGS:
            self.out.append("\n")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip -= 1
        if tag == "pre":
            self.pre -= 1
        if tag in BLOCK_TAGS or tag in ("td",):
            self.out.append("\n" if tag != "td" else " ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.out).split("\n")]
        text = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_to_text(fragment: str) -> str:
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return parser.text()


def _div(page: str, cls: str) -> str:
    match = re.search(rf'<div class="{cls}">.*?</div>', page, flags=re.S)
    return html_to_text(match.group(0)) if match else ""


def reference_docs(rng: random.Random) -> list[dict]:
    docs = []
    for lang in LANGUAGES:
        pages = sorted(REFERENCE.glob(f"ch*.{lang}.html"))
        for page_path in rng.sample(pages, min(4, len(pages))):
            page = page_path.read_text(encoding="utf-8")
            header, footer = _div(page, "navheader"), _div(page, "navfooter")
            body = page.split('<div class="chapter">', 1)[-1]
            chunks = re.split(r'(?=<div class="section">\s*<div class="titlepage">\s*<div>\s*<div>\s*<h2)', body)
            for n, chunk in enumerate(chunks[:7]):
                text = f"{header}\n\n{html_to_text(chunk)}\n\n{footer}".strip()
                docs.append({"id": f"debian-reference:{page_path.name}#{n}", "text": text, "source": "debian-reference",
                             "lang_hint": lang, "url": f"file://{page_path}#{n}"})
        index = REFERENCE / f"index.{lang}.html"
        if index.exists():
            docs.append({"id": f"debian-reference:{index.name}", "text": html_to_text(index.read_text(encoding="utf-8")),
                         "source": "debian-reference (table of contents)", "lang_hint": lang, "url": f"file://{index}"})
    return docs


def copyright_docs(rng: random.Random) -> list[dict]:
    paths = sorted(p for p in Path("/usr/share/doc").glob("*/copyright") if p.is_file() and p.stat().st_size < 24_000)
    docs = []
    for path in rng.sample(paths, min(320, len(paths))):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        docs.append({"id": f"copyright:{path.parent.name}", "text": text, "source": "debian copyright file",
                     "lang_hint": None, "url": f"file://{path}"})
    return docs


def fortune_docs(rng: random.Random) -> list[dict]:
    # the language of a cookie file is the language of the package that installed it
    packages = {"en": "fortunes", "de": "fortunes-de", "es": "fortunes-es", "it": "fortunes-it",
                "ru": "fortunes-ru", "pl": "fortunes-pl", "zh": "fortunes-zh"}
    docs = []
    for lang, package in packages.items():
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout.split()
        files = sorted(Path(p) for p in listing if p.startswith(str(FORTUNES) + "/") and Path(p).is_file())
        cookies = []
        for path in files:
            if path.suffix == ".dat" or path.with_name(path.name + ".u8").exists():
                continue
            try:
                content = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            for n, cookie in enumerate(re.split(r"^%\s*$", content, flags=re.M)):
                if cookie.strip():
                    cookies.append((f"fortune:{lang}/{path.name.removesuffix('.u8')}#{n}", cookie.strip("\n")))
        for doc_id, text in rng.sample(cookies, min(110, len(cookies))):
            docs.append({"id": doc_id, "text": text, "source": "fortune", "lang_hint": lang, "url": None})
    accented = [d for d in docs if d["lang_hint"] in ("de", "es", "it") and not d["text"].isascii()]
    for doc in rng.sample(accented, 12):
        doc["text"] = doc["text"].encode("utf-8").decode("sloppy-windows-1252")  # ftfy registers this codec
        doc["source"] = "fortune (stored mis-decoded: UTF-8 read as cp1252)"
    return docs


def main() -> None:
    rng = random.Random(20261123)
    docs = reference_docs(rng) + copyright_docs(rng) + fortune_docs(rng)
    rng.shuffle(docs)
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string()),
                        ("lang_hint", pa.string()), ("url", pa.string())])
    for old in HERE.glob("*.parquet"):
        old.unlink()
    for shard in range(SHARDS):
        rows = docs[shard::SHARDS]
        pq.write_table(pa.Table.from_pylist(rows, schema), HERE / f"shard-{shard:02d}.parquet",
                       compression="zstd", row_group_size=ROW_GROUP)
    size = sum(p.stat().st_size for p in HERE.glob("*.parquet"))
    print(f"{len(docs)} documents, {sum(len(d['text'].encode()) for d in docs) / 2**20:.1f} MiB of text, "
          f"{SHARDS} shards, {size / 2**20:.2f} MiB on disk")


if __name__ == "__main__":
    main()
