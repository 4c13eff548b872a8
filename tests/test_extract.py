"""`extract` on real pages: the article benchmark's HTML in shared/data/extraction (read at run time)."""

from __future__ import annotations

import gzip
import json
import re

import lxml.html
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SHARED_DATA, read_folder, run_pipeline

from dataprep import text as textutil
from dataprep.extract import engines
from dataprep.extract.scoring import WORD, score
from dataprep.stages.base import TextBatch
from dataprep.stages.extract import Extract

EXTRACTION = SHARED_DATA / "extraction"


@pytest.fixture(scope="module")
def pages() -> list[dict]:
    """The 181 pages: html (decoded), truth (hand-made main text), url."""
    if not (EXTRACTION / "ground-truth.json").exists():
        pytest.skip(f"article benchmark not found at {EXTRACTION} (set DATAPREP_SHARED_DATA)")
    truth = json.loads((EXTRACTION / "ground-truth.json").read_text(encoding="utf-8"))
    return [{"html": gzip.decompress((EXTRACTION / "html" / f"{k}.html.gz").read_bytes()).decode("utf-8", "replace"),
             "truth": truth[k]["articleBody"], "url": truth[k]["url"]} for k in sorted(truth)]


def extract(html: list[str], **params) -> pa.Table:
    batch = TextBatch(pa.table({"id": [str(i) for i in range(len(html))], "text": pa.array(html, pa.large_string())}))
    decisions = Extract(**params).apply(batch)
    return decisions.batch.table.append_column("reason", pa.array(decisions.reasons.tolist(), pa.string()))


@pytest.mark.parametrize("engine", engines.ENGINES)
def test_paragraphs_stay_lines(pages, engine):
    """Every long paragraph of the true text that an engine kept comes out as one line of its own."""
    sample = pages[::12]
    texts = extract([p["html"] for p in sample], engine=engine)["text"].to_pylist()
    found = total = 0
    for page, text in zip(sample, texts):
        lines = {tuple(WORD.findall(line)) for line in text.split("\n")}
        words = set(WORD.findall(text))
        for paragraph in page["truth"].split("\n"):
            para = tuple(WORD.findall(paragraph))
            if len(para) >= 20 and set(para) <= words:
                total += 1
                found += para in lines
    assert total >= 50
    assert found / total >= 0.9, f"{engine}: {found} of {total} kept paragraphs are lines of their own"


def test_engines_are_the_libraries(pages):
    """Through the stage, each engine gives what the library gives when called directly."""
    import trafilatura
    from htmldate import find_date
    from resiliparse.extract.html2text import extract_plain_text

    sample = pages[5:181:30]
    html = [p["html"] for p in sample]
    assert extract(html, engine="trafilatura")["text"].to_pylist() == [trafilatura.extract(h) for h in html]
    assert extract(html, engine="resiliparse")["text"].to_pylist() == [extract_plain_text(h, **engines.RESILIPARSE_OPTIONS) for h in html]
    table = pa.table({"id": [str(i) for i in range(len(html))], "text": pa.array(html, pa.large_string()),
                      "url": [p["url"] for p in sample]})
    dated = Extract(publication_date=True).apply(TextBatch(table)).batch.table
    assert dated["publication_date"].to_pylist() == [find_date(p["html"], url=p["url"]) for p in sample]
    assert any(d is not None for d in dated["publication_date"].to_pylist())


def test_title_and_lang_match_lxml(pages):
    """`title` and `html_lang` (Arrow regexes over the batch) agree with an HTML parser's reading."""
    html = [p["html"] for p in pages]
    table = extract(html, engine="resiliparse")
    for page, title, lang, size in zip(html, table["title"].to_pylist(), table["html_lang"].to_pylist(), table["html_bytes"].to_pylist()):
        root = lxml.html.fromstring(page)
        expected = root.findtext(".//title")
        assert title == (" ".join(expected.split()) or None if expected is not None else None)
        expected_lang = root.get("lang")
        assert lang == (expected_lang.strip().lower().replace("_", "-") if expected_lang and expected_lang.strip() else None)
        assert size == len(page.encode("utf-8"))
    assert sum(lang is not None for lang in table["html_lang"].to_pylist()) > 100


def test_quality_floor(pages):
    """On a spread of 30 real pages the default is near trafilatura's F1 and well above plain text."""
    import trafilatura

    sample = pages[::6]
    hybrid = extract([p["html"] for p in sample])["text"].to_pylist()
    truth = [p["truth"] for p in sample]
    reference = score([trafilatura.extract(p["html"]) for p in sample], truth).f1
    ours = score(hybrid, truth).f1
    assert ours >= 0.92 and ours >= reference - 0.02, (ours, reference)


def test_empty_pages_removed_with_their_html(pages, tmp_path, ray_session):
    """Through a run: a page with no text in its body is removed as extract.empty, keeps its HTML in
    the ledger, and the others arrive in kept/ as text with their columns."""
    real = [p["html"] for p in pages[:6]]
    head_only = re.split(r"(?i)<body", real[0])[0] + "<body><nav><a href='/'></a></nav></body></html>"
    html = real + [head_only]
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(len(html))], "text": html}), tmp_path / "pages.parquet")
    run_pipeline(["extract"], tmp_path / "pages.parquet", tmp_path / "out")
    kept, removed = read_folder(tmp_path / "out" / "kept"), read_folder(tmp_path / "out" / "removed")
    assert removed["id"].to_pylist() == ["p6"] and removed["reason"].to_pylist() == ["extract.empty"]
    assert removed["text"].to_pylist() == [head_only]
    assert sorted(kept["id"].to_pylist()) == [f"p{i}" for i in range(6)]
    assert all("\n" in t and "<div" not in t for t in kept["text"].to_pylist())
    assert all(b > len(t) for b, t in zip(kept["html_bytes"].to_pylist(), kept["text"].to_pylist()))


@pytest.mark.parametrize("engine", ["hybrid", "resiliparse"])
def test_too_deeply_nested_page_fails_alone(pages, engine):
    """A page left with thousands of open <div>s (resiliparse's main-content pass is quadratic in
    nesting) is removed as extract.failed (the ledger keeps its HTML: the runner keeps the text a
    stage was given for what it removes), and its batch-mates are extracted as usual."""
    html = [p["html"] for p in pages[:3]]
    deep = html[0] + "<div>" * 3000 + "tail"
    table = extract(html + [deep], engine=engine)
    assert table["reason"].to_pylist() == [None, None, None, "extract.failed"]
    assert table["extract_engine"][3].as_py() == engine, "no engine read it"
    assert table["text"].to_pylist()[:3] == extract(html, engine=engine)["text"].to_pylist()


def test_the_nesting_is_measured_where_it_is_deepest_and_outside_scripts(pages):
    """A page nested thousands deep fails at once instead of stalling its task in resiliparse
    (quadratic in the depth: 60,000 closed <div>s took 3 minutes), whether its closing tags sit in a
    comment or a script or close it for real; thousands of <div>s side by side, or a script's JSON
    of <div>s whose closing tags are escaped (`<\\/div>`, as PHP's json_encode writes them), are
    an ordinary page (it failed as nested 300 deep)."""
    html = pages[0]["html"]
    deep = html + "<div><p>x</p>" * 3000
    for hidden in (f"<!-- {'</div>' * 3000} -->", f"<script>var s = '{'</div>' * 3000}';</script>", "</div>" * 3000):
        table = extract([deep + hidden])
        assert table["reason"].to_pylist() == ["extract.failed"], hidden[:20]
    menu = "".join(f'<div class=\\"item\\">{i}<\\/div>' for i in range(300))
    side_by_side = html.replace("</body>", "<div><p>x</p></div>" * 3000 + f"<script>var menu = \"{menu}\";</script></body>")
    assert side_by_side != html
    assert extract([side_by_side])["reason"].to_pylist() == [None]


def test_title_and_lang_are_the_documents_own(pages):
    """`<title>` and `<html lang>` in a comment, a script, an SVG icon, another tag's name or
    another attribute's value are not the page's; entities are decoded before white space is
    collapsed (as document.title does it)."""
    html = [p["html"] for p in pages[:20]]
    plain = extract(html, engine="resiliparse")
    decoy = ('<!-- <html lang="fr"><title>Commented</title> --><script>var t = "<title>From a script</title>";</script>'
             '<titlebar>not a title</titlebar>')
    decorated = [re.sub(r"(?i)<html", lambda m: decoy + '<html data-note="a lang=xx"', page, count=1) for page in html]
    decorated = [re.sub(r"(?i)<body([^>]*)>", lambda m: m.group(0) + "<svg><title>Icon</title></svg>", page, count=1) for page in decorated]
    table = extract(decorated, engine="resiliparse")
    assert table["title"].to_pylist() == plain["title"].to_pylist() and table["html_lang"].to_pylist() == plain["html_lang"].to_pylist()
    assert sum(t is not None for t in plain["title"].to_pylist()) >= 18
    spaced = extract(["<html><head><title>&nbsp;Foo&nbsp;&nbsp;Bar&#10;Baz&#9;Q </title></head><body><p>x</p></body></html>"])
    assert spaced["title"].to_pylist() == ["\xa0Foo\xa0\xa0Bar Baz Q"]


def test_title_is_read_as_a_browser_reads_it():
    """A `<title>` whose markup is text (a textarea's, an xmp's, an iframe's), an inert template's,
    or a server script's (`<?php ... ?>`, a bogus comment) is not the page's; nor does a
    self-closing `<svg/>` hide the real one. Regexes over the markup read each of these wrong."""
    before = ['<textarea><title>Typed</title></textarea>', '<xmp><title>Shown</title></xmp>', '<iframe><title>Framed</title></iframe>',
              '<template><title>Inert</title></template>', '<?php echo "<title>Server</title>"; ?>', '<svg/>']
    pages = [f'<html lang=" EN_gb"><head>{decoy}<title>The  page</title></head><body><p>Text.</p></body></html>' for decoy in before]
    table = extract(pages)
    assert table["title"].to_pylist() == ["The page"] * len(before)
    assert table["html_lang"].to_pylist() == ["en-gb"] * len(before)


def test_a_page_of_short_japanese_sentences_keeps_its_opening(tmp_path):
    """Japanese has no spaces between words: its characters count as words (two to a word), so a page's opening
    sentences are body lines and the head trim keeps them (real sentences of the sample crawl's
    Japanese Debian FAQ)."""
    from dataprep.readers import warc as warc_reader

    sentences, long = [], []
    for table, _, _ in warc_reader.read_records(str(SAMPLES / "_web" / "debian-faq.warc.gz"), 0, 1 << 40, False, 1000, True):
        for url, page in zip(table["url"].to_pylist(), table["text"].to_pylist()):
            if url and "/ja/" in url and page:
                for p in lxml.html.fromstring(page.encode("utf-8")).iter("p"):
                    text = " ".join(p.text_content().split())
                    if text.endswith("。") and " " not in text:
                        (sentences if 12 <= len(text) <= 40 else long if len(text) > 60 else []).append(text)
    assert len(sentences) >= 6 and len(long) >= 4
    # short sentences, then long ones of several clauses (enough text that the cheap pass is sure of
    # itself): the opening is the page's, not a site header
    paragraphs = [*sentences[:6], *long[:4]]
    page = "<html><body><article>" + "".join(f"<p>{s}</p>" for s in paragraphs) + "</article></body></html>"
    table = extract([page])
    assert table["extract_engine"].to_pylist() == ["resiliparse"] and all(p in table["text"][0].as_py() for p in paragraphs)


def test_a_chinese_line_ending_in_a_full_width_colon_ends_a_sentence(unspaced_paragraphs):
    """"：" and "；" are CJK text's ":" and ";", which end a sentence for the head trim: an opening
    line such as a speech's "女士们、先生们：" was no body line, and the head trim cut it (gne's
    cmse.cn page). Real lines of the sample crawl's Chinese Debian FAQ that introduce a list."""
    from dataprep.readers import warc as warc_reader

    openings = []
    for table, _, _ in warc_reader.read_records(str(SAMPLES / "_web" / "debian-faq.warc.gz"), 0, 1 << 40, False, 1000, True):
        for url, page in zip(table["url"].to_pylist(), table["text"].to_pylist()):
            if url and "/zh-cn/" in url and page:
                openings += [t for p in lxml.html.fromstring(page.encode("utf-8")).iter("p")
                             if (t := " ".join(p.text_content().split())).endswith("：") and " " not in t and 8 <= len(t) <= 30]
    paragraphs = unspaced_paragraphs["zh"][:3]
    assert len(openings) >= 3
    for opening in openings[:3]:
        page = ("<html><body><nav><a href='/'>首页</a> <a href='/faq'>常见问题</a></nav><article>"
                + f"<p>{opening}</p>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>")
        text = extract([page])["text"][0].as_py()
        assert text.startswith(opening) and all(p in text for p in paragraphs), opening
    # a sentence closed by CJK brackets ends a sentence too (the Japanese FAQ's quoted ones)
    quoted = [opening.replace("：", "。」") for opening in openings[:3]] + [opening.replace("：", "。）") for opening in openings[:3]]
    assert textutil.matches(pa.array(quoted), engines.sentence_end()).all()


@pytest.fixture(scope="module")
def unspaced_paragraphs(shared_data) -> dict[str, list[str]]:
    """Real paragraphs of languages written without spaces between words (shared/data's OSCAR sample)."""
    rows = pq.read_table(shared_data / "03_oscar2019_multilingual.parquet", columns=["text", "oscar_lang"]).to_pylist()
    found: dict[str, list[str]] = {}
    for row in rows:
        for line in row["text"].split("\n"):
            if 100 <= len(line) <= 600 and line not in found.get(row["oscar_lang"], []):
                found.setdefault(row["oscar_lang"], []).append(line.strip())
    return found


@pytest.mark.parametrize("language", ["th", "km", "lo"])
def test_an_article_in_a_script_without_spaces_keeps_its_paragraphs(unspaced_paragraphs, real_docs, language):
    """Thai, Khmer and Lao paragraphs end with no sentence mark and hold few spaces: counted a
    word per space-separated clause, Thai ones were never body lines, and the head trim cut every
    one before the page's first paragraph in a spaced language (a bilingual page kept only that)."""
    paragraphs = unspaced_paragraphs[language][:4]
    english = next(line for line in real_docs["text"][0].as_py().split("\n") if len(line) > 300 and line.endswith("."))
    page = ("<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article>"
            + "".join(f"<p>{p}</p>" for p in paragraphs) + f"<p>{english}</p></article></body></html>")
    text = extract([page])["text"][0].as_py()
    assert len(paragraphs) >= 3 and all(p in text for p in paragraphs) and english in text


def test_a_chinese_menu_bar_is_not_the_start_of_the_text(unspaced_paragraphs):
    """A menu bar of fourteen two-character links is 28 Han characters: counted a word each, it
    was a body line, so the head trim kept it and everything after it."""
    menu = "首页 新闻 财经 股票 基金 理财 房产 汽车 科技 专题 视频 社区 体育 娱乐".split()
    links = " ".join(f'<a href="/c{i}">{item}</a>' for i, item in enumerate(menu))
    paragraphs = unspaced_paragraphs["zh"][:2]
    page = f"<html><body><div class='top'>{links}</div><article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>"
    table = extract([page])
    text = table["text"][0].as_py()
    assert len(paragraphs) == 2 and all(p in text for p in paragraphs) and menu[0] not in text
    assert table["extract_engine"].to_pylist() == ["resiliparse"]


def test_no_publication_date_is_read_in_an_inline_image(pages):
    """htmldate's search reads years anywhere in a page: not in a base64 image's data."""
    import base64
    import random

    from htmldate import find_date

    paragraphs = [p for page in pages for p in page["truth"].split("\n") if len(p) > 200 and not re.search(r"\d", p)][:5]
    undated = "<html><head><title>A page</title></head><body><article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article>"
    image = base64.b64encode(random.Random(0).randbytes(3_000_000)).decode()  # random data: "2018" and the like in its text
    page = f'{undated}<img src="data:image/png;base64,{image}"></body></html>'
    assert len(paragraphs) == 5 and find_date(undated + "</body></html>") is None
    assert find_date(page) is not None, "the library alone reads a date in it"
    assert extract([page], publication_date=True)["publication_date"].to_pylist() == [None]


def test_tag_names_in_any_case(pages):
    """HTML tag names are case-insensitive: title, lang and the nesting guard read `<TITLE>`,
    `<HTML LANG=...>` and `<DiV>` as they read the lower-case tags."""
    body = pages[0]["html"].split("<body", 1)[1].split(">", 1)[1]
    upper = f'<HTML LANG="EN-GB"><HEAD><TITLE> Upper  Case </TITLE></HEAD><BODY>{body}'
    deep = upper + "<DiV>" * 300 + "tail"
    table = extract([upper, deep], engine="resiliparse")
    assert table["title"].to_pylist() == ["Upper Case", "Upper Case"]
    assert table["html_lang"].to_pylist() == ["en-gb", "en-gb"]
    assert table["reason"].to_pylist() == [None, "extract.failed"]


def test_short_cheap_text_goes_to_trafilatura(pages):
    """With `min_chars` (250 by default), a page whose cheap text is shorter goes to trafilatura
    (its text as the library gives it), the others keep the cheap text; with 0 only empty pages do."""
    html = [p["html"] for p in pages[140:150]]
    cheap = extract(html, unsure_share=1.0, min_chars=0)
    floored = extract(html, unsure_share=1.0)
    short = [len(t) < 250 for t in cheap["text"].to_pylist()]
    assert 0 < sum(short) < len(html)
    assert floored["extract_engine"].to_pylist() == ["trafilatura" if s else "resiliparse" for s in short]
    for page, s, before, after in zip(html, short, cheap["text"].to_pylist(), floored["text"].to_pylist()):
        assert after == (engines.trafilatura_fast_text(page) if s else before)


def test_pruning_that_hits_the_main_text_is_undone_however_long_the_rest(pages):
    """Boilerplate words match class and id names by substring, so a documentation page whose
    sections are named after widgets (Python's tkinter.tix page: `<section id="tix-widgets">`)
    loses them to the pruning; when what is left is under half of the unpruned text, the unpruned
    text is used, even when what is left is long (there: 6,333 of 13,208 characters)."""
    import html as markup

    paragraphs = sorted((p for page in pages[:10] for p in page["truth"].split("\n") if len(p) > 80), key=len, reverse=True)[:16]
    named, plain = paragraphs[0::2], paragraphs[1::2]
    body = "".join(f"<p>{markup.escape(p)}</p>" for p in plain) + "".join(
        f'<section id="part-{i}-widgets"><h2>Part {i}</h2><p>{markup.escape(p)}</p></section>' for i, p in enumerate(named))
    page = (f"<html><head><title>t</title></head><body><div class='related'><a href='/'>Index</a></div>"
            f"<div role='main'><h1>The module</h1>{body}</div><div class='footer'>Copyright</div></body></html>")
    assert sum(map(len, plain)) >= 1000 and sum(map(len, named)) > sum(map(len, plain))  # long, yet under half
    text = extract([page], unsure_share=1.0, min_chars=0)["text"][0].as_py()
    assert all(p in text for p in named + plain)


@pytest.mark.parametrize("element", ["p", "span"])
def test_boilerplate_is_pruned_on_the_elements_trafilatura_prunes(pages, element):
    """The boilerplate words prune the elements trafilatura's discard XPath prunes: paragraphs and
    spans too, not only containers (a newsletter teaser written as `<p id="newsletter-teaser">`
    inside an article's text, as meedia.de writes it, was kept)."""
    import html as markup

    paragraphs = [p for p in pages[3]["truth"].split("\n") if len(p) > 80][:6]
    teaser = "Sign up for our newsletter to get the latest stories about the media business in your inbox every morning."
    wrapped = f"<{element} id='newsletter-teaser'>{teaser}</{element}>"
    body = "".join(f"<p>{markup.escape(p)}</p>" for p in paragraphs[:3]) + wrapped + "".join(
        f"<p>{markup.escape(p)}</p>" for p in paragraphs[3:])
    page = f"<html><head><title>t</title></head><body><article><h1>The story</h1>{body}</article></body></html>"
    text = extract([page], unsure_share=1.0, min_chars=0)["text"][0].as_py()
    assert all(p in text for p in paragraphs) and "newsletter" not in text


def test_a_name_that_negates_a_boilerplate_word_is_not_pruned_and_pop_ups_are(pages):
    """"no-caption" names a lead without a caption, not a caption (BuzzFeed's lead paragraph,
    `<div class="subbuzz subbuzz-text no-caption">`, was cut); a pop-up named "modal" or
    "overlay" (trafilatura's discard words "modal-content", "overlay") is boilerplate."""
    import html as markup

    paragraphs = [p for p in pages[5]["truth"].split("\n") if len(p) > 80][:6]
    lead = f"<div class='subbuzz no-caption'><p>{markup.escape(paragraphs[0])}</p></div>"
    popups = ("<div class='modal-dialog'>Create an account to keep reading every story we publish, free.</div>"
              "<div id='paywall-overlay'>You have reached your limit of free articles for this month.</div>")
    body = lead + "".join(f"<p>{markup.escape(p)}</p>" for p in paragraphs[1:]) + popups
    page = f"<html><head><title>t</title></head><body><article><h1>The story</h1>{body}</article></body></html>"
    text = extract([page], unsure_share=1.0, min_chars=0)["text"][0].as_py()
    assert all(p in text for p in paragraphs)
    assert "account" not in text and "limit" not in text


def test_a_pages_table_of_contents_is_pruned_and_a_name_holding_toc_is_not(pages):
    """The Debian FAQ's chapters open with a DocBook `div.toc` of links to their own sections:
    kept, every section title stood twice and fineweb_quality's repeated-line rule removed 28 of
    the web sample's 53 pages (trafilatura drops such lists by their link density). "toc" is a
    name, not a substring: `protocol` and `stock` hold it."""
    import html as markup

    from dataprep.readers import warc as warc_reader

    chapters = []
    for table, _, _ in warc_reader.read_records(str(SAMPLES / "_web" / "debian-faq.warc.gz"), 0, 1 << 40, False, 1000, True):
        chapters += [page for url, page in zip(table["url"].to_pylist(), table["text"].to_pylist())
                     if url and url.endswith(".en.html") and page and "class=\"toc\"" in page]
    assert len(chapters) >= 10
    texts = extract(chapters)["text"].to_pylist()
    for page, text in zip(chapters, texts):
        entries = [" ".join(a.text_content().split()) for a in lxml.html.fromstring(page.encode("utf-8")).xpath("//dl[@class='toc']//a")]
        lines = [" ".join(line.split()) for line in text.splitlines()]  # a heading's "1.1.&nbsp;What ..." too
        assert entries and all(lines.count(entry) <= 1 for entry in entries), [e for e in entries if lines.count(e) > 1]
    paragraphs = [p for p in pages[5]["truth"].split("\n") if len(p) > 80][:4]
    body = "".join(f"<div class='{name}'><p>{markup.escape(p)}</p></div>" for name, p in zip(("protocol", "stock-news", "tocs", "x"), paragraphs))
    page = f"<html><head><title>t</title></head><body><article><h1>The story</h1>{body}</article></body></html>"
    assert all(p in extract([page], unsure_share=1.0, min_chars=0)["text"][0].as_py() for p in paragraphs)


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
def test_mojibake_is_repaired_or_left_visible_never_turned_into_other_letters(pages, engine):
    """A UTF-8 page served as iso-8859-1 decodes as browsers decode it: ” (E2 80 9D) is `â€` and
    the C1 control U+009D. normalize's ftfy repairs that; but trafilatura drops C1 controls, and
    `â€` alone was "repaired" into †, and `Ã` + a dropped control into Ã: wrong letters, with no
    sign. trafilatura now reads U+FFFD in their place, so its damage stays visible. (A page
    whose bytes are all valid UTF-8 is read as UTF-8 whatever it declares: clean in both.)"""
    import html as markup

    import ftfy

    from dataprep.readers.charset import to_utf8

    paragraphs = [p for p in pages[7]["truth"].split("\n") if len(p) > 80][:4]
    quoted = [f"„{p}” — Ádám, Íris" for p in paragraphs]
    page = ("<html><head><title>t</title></head><body><article>"
            + "".join(f"<p>{markup.escape(p)}</p>" for p in quoted) + "</article></body></html>").encode()
    clean = engines.run(engine, pa.array([to_utf8(page, "iso-8859-1").data.decode()]), 0.04, 250).texts[0]
    assert all(p in clean for p in quoted)
    mixed = page.replace(b"</article>", b"<p>\xa9 2019</p></article>")  # one byte of iso-8859-1: not valid UTF-8
    text = ftfy.fix_encoding(engines.run(engine, pa.array([to_utf8(mixed, "iso-8859-1").data.decode()]), 0.04, 250).texts[0])
    if engine == "resiliparse":
        assert all(p in text for p in quoted)
    else:
        # left visible (Ã beside U+FFFD, as ftfy leaves it here), never made into another letter (Ã alone, †)
        assert "\ufffd" in text and not re.search("†|Ã(?!\ufffd)", text) and all(p.split("”")[0] in text for p in quoted)


def test_a_fast_pass_that_keeps_a_fragment_is_read_again_with_trafilaturas_defaults(pages, monkeypatch):
    """trafilatura's fast pass (no fallbacks) can keep a fragment of a long article (a French
    essay: 413 of 38,000 characters); under a tenth of the cheap pass's text, trafilatura reads the
    page again with its fallbacks, which compare texts (comments still left out), and the longer
    text is taken. A fast text above that is kept; an empty one leaves the cheap text, as before."""
    import trafilatura

    html = [p["html"] for p in pages[:40]]
    sent = engines.run("hybrid", pa.array(html, pa.large_string()), 0.04, 250)
    unsure = [i for i, e in enumerate(sent.engines) if e == "trafilatura"][:3]
    assert unsure
    monkeypatch.setattr(engines, "trafilatura_fast_text", lambda page: "Subscribe to our newsletter.")
    fragment = engines.run("hybrid", pa.array([html[i] for i in unsure], pa.large_string()), 0.04, 250)
    assert fragment.texts == [trafilatura.extract(html[i], include_comments=False) for i in unsure]
    kept = "A long enough text. " * 300
    monkeypatch.setattr(engines, "trafilatura_fast_text", lambda page: kept)
    assert engines.run("hybrid", pa.array([html[i] for i in unsure], pa.large_string()), 0.04, 250).texts == [kept] * len(unsure)
    monkeypatch.setattr(engines, "trafilatura_fast_text", lambda page: "")
    cheap = engines.run("hybrid", pa.array([html[i] for i in unsure], pa.large_string()), 0.04, 250)
    assert cheap.engines == ["resiliparse"] * len(unsure) and all(len(t) > 250 for t in cheap.texts)
