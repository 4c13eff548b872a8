"""`keywords` on real web pages: block lists, domains, HTML and links, boilerplate lines."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from dataprep.errors import ConfigError
from dataprep.pipeline import build_stage
from dataprep.stages.base import TextBatch
from dataprep.stages.keywords import BOILERPLATE, COOKIE_BANNER, HTML_ELEMENTS, Keywords
from dataprep.stages.normalize import Normalize


@pytest.fixture(scope="module")
def pages(web_docs) -> TextBatch:
    table = web_docs.slice(0, 300).cast(pa.schema([("id", pa.string()), ("text", pa.large_string()), ("url", pa.string())]))
    return Normalize().apply(TextBatch(table)).batch


def test_boilerplate_lines_go_and_content_stays(pages):
    out = Keywords(strip_html=False, strip_links=False).apply(pages)
    chrome, banner = re.compile(BOILERPLATE), re.compile(COOKIE_BANNER)
    for before, after, removed in zip(pages.text.to_pylist(), out.batch.text.to_pylist(),
                                      out.batch.table["keywords_lines_removed"].to_pylist()):
        def is_chrome(line: str) -> bool:
            return bool(chrome.match(line.strip()) or (banner.search(line) and len(line) < 400))

        lines = before.split("\n")
        assert removed == sum(map(is_chrome, lines))
        assert after == "\n".join(line for line in lines if not is_chrome(line))
    all_after = "\n".join(out.batch.text.to_pylist()).split("\n")
    assert "Skip to content" not in all_after and "Zum Inhalt springen" not in all_after
    assert sum(out.batch.table["keywords_lines_removed"].to_pylist()) > 200
    # content lines survive: every line of 200+ characters without a banner is still there
    long_lines = [line for t in pages.text.to_pylist() for line in t.split("\n") if len(line) > 200 and not banner.search(line)]
    assert set(long_lines) <= set(all_after)


def test_block_words_are_whole_words_and_recorded(pages):
    out = Keywords(block_words=["Datenschutz"]).apply(pages)
    texts = pages.text.to_pylist()
    for text, reason, detail in zip(texts, out.reasons, out.details):
        whole = re.search(r"(?i)\bDatenschutz\b", text) is not None
        assert (reason == "keywords.blocked_term") == whole
        if whole:
            assert detail["term"].lower() == "datenschutz"
    compound_only = [t for t in texts if "Datenschutzerklärung" in t and not re.search(r"(?i)\bDatenschutz\b", t)]
    assert compound_only, "real pages use the compound without the word"


def test_line_scope_and_block_files(pages, tmp_path):
    block = tmp_path / "block.txt"
    block.write_text("# phrases seen on shop pages\nin den Warenkorb\nversandkostenfrei\n")
    out = Keywords(block_files=[str(block)], scope="line", drop_boilerplate_lines=False).apply(pages)
    assert all(r is None or r == "keywords.emptied" for r in out.reasons)
    joined = "\n".join(out.batch.text.to_pylist()).lower()
    assert "in den warenkorb" not in joined and "versandkostenfrei" not in joined
    assert sum("in den warenkorb" in t.lower() for t in pages.text.to_pylist()) > 0


def test_domains_are_url_filters_not_keywords():
    """Blocking by domain is url_filter's rule alone (UTS 46 hosts, `www.`, ports, IDNA forms);
    keywords' weaker copy did nothing at all without a `url` column, and said nothing."""
    with pytest.raises(ConfigError, match="block_domains.*url_filter stage's block_domains"):
        build_stage("keywords", {"block_domains": ["example.com"]}, "stage 1")
    with pytest.raises(ConfigError, match="'block_domain' \\(block_domains: since 0.2.5, a url_filter stage's"):
        build_stage("keywords", {"block_domain": ["example.com"]}, "stage 1")  # a typo of it says so too


def test_html_and_links_are_stripped():
    text = ("Die Bibliothek öffnet um 9 Uhr.</p><p class=\"x\">Mehr unter https://example.org/bib?x=1 und www.example.org."
            "\n<!-- tracking\npixel -->Ende <br/> der Seite.")
    out = Keywords(drop_boilerplate_lines=False).apply(TextBatch(pa.table({"id": ["a"], "text": pa.array([text], pa.large_string())})))
    result = out.batch.text[0].as_py()
    assert "<" not in result and "http" not in result and "www." not in result and "tracking" not in result
    assert "Die Bibliothek öffnet um 9 Uhr." in result and "Ende" in result
    assert set(out.batch.table["keywords_fixes"][0].as_py()) == {"html", "links"}


def test_only_html_elements_are_tags(sample_docs):
    """Angle brackets around a word are text in manuals: "apt-get install <package>" lost its
    argument (36 documents of samples/ lost `<package>`, `<stdin>`, `<COPYRIGHT HOLDER>`, ...)."""
    texts = ["Run apt-get install <package> as root, then read <stdin>.\n<B>Bold</B> and <Div Class='x'>boxed</div>.",
             "Copyright <COPYRIGHT HOLDER>; press <Tab> or <leader> to go on."]
    out = Keywords(drop_boilerplate_lines=False).apply(TextBatch(pa.table({"id": ["a", "b"], "text": pa.array(texts, pa.large_string())})))
    assert out.batch.text.to_pylist() == ["Run apt-get install <package> as root, then read <stdin>.\nBold and boxed.", texts[1]]
    # samples/: e-mail addresses written "<thomas at apestaart dot org>", vim's "<C-W>", "<package>"
    bracketed = re.compile(r"<([A-Za-z][A-Za-z0-9 _-]*)>")

    def words(texts: list[str]) -> list[str]:
        return [m for t in texts for m in bracketed.findall(t) if m.split()[0].lower() not in HTML_ELEMENTS]

    before = words(sample_docs.column("text").to_pylist())
    out = Keywords(drop_boilerplate_lines=False).apply(TextBatch(sample_docs.select(["id", "text"]))).batch.text.to_pylist()
    assert len(before) > 50 and words(out) == before


def test_bad_parameters_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="block file not found"):
        build_stage("keywords", {"block_files": [str(tmp_path / "missing.txt")]}, "stage 1")
    with pytest.raises(ConfigError, match="scope"):
        build_stage("keywords", {"scope": "page"}, "stage 1")
    assert isinstance(build_stage("keywords", {}, "stage 1"), Keywords)


def test_block_words_are_whole_words_in_every_script():
    """RE2's \\b knows ASCII letters only: "über" was not found in "über die" but was in
    "darüber", "русский" never matched, "c++" and "$usd" never matched, "café" matched "cafés".
    Words are now bounded by any non-letter, as c4_badwords bounds them; an empty entry, which
    blocked every document, is refused."""
    texts = ["Ich gehe über die Brücke heute.", "Wir reden darüber nicht.", "Русский язык", "I program in C++ every day.",
             "Pay with $USD here.", "The café is open", "A cafés list", "buy Viagra Online now"]
    batch = TextBatch(pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.large_string())}))
    decided = Keywords(block_words=["über", "русский", "c++", "$usd", "café"], block_phrases=["viagra online"]).apply(batch)
    assert [d and d["term"] for d in decided.details] == ["über", None, "Русский", "C++", "$USD", "café", None, "Viagra Online"]
    for empty in ([""], [" "]):
        with pytest.raises(ConfigError, match="empty entry"):
            build_stage("keywords", {"block_words": empty}, "stage 1")
