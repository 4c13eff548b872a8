"""url_filter on real URLs: UT1-format block lists, allow lists, TLD rules and the soft-word rule."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from conftest import SAMPLES
from dataprep.errors import ConfigError
from dataprep.pipeline import build_stage
from dataprep.stages.base import TextBatch
from dataprep.stages.url_filter import UrlFilter


def decide(stage: UrlFilter, urls: list[str | None]) -> list[str | None]:
    table = pa.table({"id": [str(i) for i in range(len(urls))], "text": ["page"] * len(urls), "url": pa.array(urls, pa.string())})
    return list(stage.apply(TextBatch(table)).reasons)


@pytest.fixture
def ut1(tmp_path):
    """A UT1 blacklist category folder (domains + urls files, comments)."""
    folder = tmp_path / "blacklists" / "adult"
    folder.mkdir(parents=True)
    (folder / "domains").write_text("# UT1 adult\nbadsite.com\nevil.example.org\n")
    (folder / "urls").write_text("freehost.net/users/bad\nwww.debian.org/doc/manuals/debian-faq/de\n")
    (tmp_path / "allow.txt").write_text("fine.badsite.com\n")
    return folder, tmp_path / "allow.txt"


def test_block_lists_match_parent_domains_and_paths_below(ut1):
    folder, allow = ut1
    stage = UrlFilter(block_lists=[str(folder)], allow_lists=[str(allow)])
    urls = ["https://www.badsite.com/page", "http://a.b.badsite.com:8080/x", "https://notbadsite.com/", "https://fine.badsite.com/ok",
            "https://evil.example.org/", "https://example.org/", "http://freehost.net/users/bad/pics?p=2", "http://freehost.net/users/badger",
            "https://www.debian.org/doc/manuals/debian-faq/de/index.de.html", "https://www.debian.org/doc/manuals/debian-faq/index.html", None]
    assert decide(stage, urls) == [
        "url_filter.blocked_domain", "url_filter.blocked_domain", None, None, "url_filter.blocked_domain", None,
        "url_filter.blocked_url", None, "url_filter.blocked_url", None, None]


def test_a_listed_host_or_path_is_found_however_the_url_writes_it(tmp_path):
    """Internationalised domains in either form (list and crawl may differ), URLs without a
    scheme or with `//` only, and user info or a port before a listed path."""
    listed = tmp_path / "block.txt"
    listed.write_text("bücher.de\nxn--caf-dma.fr\nfreehost.net/users/bad\n")
    stage = UrlFilter(block_lists=[str(listed)])
    urls = ["http://xn--bcher-kva.de/", "https://BÜCHER.de/x", "http://café.fr/menu", "//www.café.fr/", "bücher.de:8080/a",
            "http://freehost.net:8080/users/bad/x", "http://user@freehost.net/users/bad", "//freehost.net/users/bad/",
            "http://freehost.net/users/badger", "http://buecher.de/", "http://cafe.fr/"]
    assert decide(stage, urls) == ["url_filter.blocked_domain"] * 5 + ["url_filter.blocked_url"] * 3 + [None] * 3


def test_entries_written_in_the_pipeline_block_as_a_list_file_does(ut1):
    """`block_domains` (the entries in the YAML) decide as the same lines in a block-list file."""
    folder, _ = ut1
    urls = ["https://www.badsite.com/page", "http://a.b.badsite.com:8080/x", "https://notbadsite.com/", "https://evil.example.org/",
            "http://freehost.net/users/bad/pics?p=2", "http://freehost.net/users/badger", "https://example.org/", None]
    lines = [line for name in ("domains", "urls") for line in (folder / name).read_text().splitlines()]
    assert decide(UrlFilter(block_domains=lines), urls) == decide(UrlFilter(block_lists=[str(folder)]), urls) == [
        "url_filter.blocked_domain", "url_filter.blocked_domain", None, "url_filter.blocked_domain",
        "url_filter.blocked_url", None, None, None]


@pytest.mark.parametrize("entry", ["https://", "*", ".", "exa mple.com", "example.com:abc", "evil.net\nexample.com"])
def test_an_entry_written_in_the_pipeline_that_names_no_domain_is_refused(entry):
    """Each of these was accepted and blocked nothing, without a word."""
    with pytest.raises(ConfigError, match="block_domains entry .*(names no domain|line break)"):
        build_stage("url_filter", {"block_domains": ["example.org", entry]}, "stage 1")


def test_tld_rules():
    assert decide(UrlFilter(block_tlds=[".xxx", "porn"]), ["https://a.xxx/", "https://b.porn", "https://c.com/xxx"]) == [
        "url_filter.tld", "url_filter.tld", None]
    assert decide(UrlFilter(allow_tlds=["de", "org"]), ["https://a.de/", "https://b.org", "https://c.com/"]) == [None, None, "url_filter.tld"]


def test_one_bad_word_in_a_real_url_is_kept_two_remove(web_docs):
    """datatrove's soft-word threshold (2): real pages whose URL holds one listed word (a news
    story on ransomware spread by a 'sex' game, a sex-education blog) are kept."""
    urls = [u for u in web_docs.column("url").to_pylist() if u]
    reasons = decide(UrlFilter(), urls)
    assert reasons.count(None) == len(urls)
    one_word = [u for u in urls if "-sex-" in u]
    assert one_word and decide(UrlFilter(soft_word_threshold=1), one_word) == ["url_filter.soft_words"] * len(one_word)
    assert decide(UrlFilter(), ["https://example.com/free-porn/sex-videos", "https://example.com/porn/porn-porn"]) == [
        "url_filter.soft_words", None]


def test_banned_words_and_subwords_files(tmp_path):
    (tmp_path / "hard.txt").write_text("casino\n")
    (tmp_path / "sub.txt").write_text("viagra\n")
    stage = UrlFilter(banned_words=[str(tmp_path / "hard.txt")], banned_subwords=[str(tmp_path / "sub.txt")])
    assert decide(stage, ["https://x.com/online-casino", "https://x.com/casinos", "https://buyviagranow.com", "https://x.com/a"]) == [
        "url_filter.banned_word", None, "url_filter.banned_subword", None]


def test_sample_crawl_urls_pass_without_lists():
    from dataprep.readers.warc import read_records

    path = SAMPLES / "_web" / "debian-faq.warc.gz"
    urls = [u for t, _, _ in read_records(str(path), 0, path.stat().st_size, False, 512, True, ids_only=True)
            for u in t.column("url").to_pylist()]
    assert len(urls) > 300 and decide(UrlFilter(), urls) == [None] * len(urls)


def test_missing_list_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match="block list not found"):
        UrlFilter(block_lists=[str(tmp_path / "nope")])


def test_list_entries_written_as_urls_mean_their_host_or_path(tmp_path):
    """What real lists hold besides bare domains: a trailing slash or dot, a port, a scheme, a
    leading `.` or `*.`, an inline comment, a query (that URL only), a fragment; and hosts any
    number of levels below a listed domain."""
    folder = tmp_path / "adult"
    folder.mkdir()
    (folder / "domains").write_text("example.com/\ntrail.com.\nport.com:8080\nhttp://scheme.com\n.dotted.com\n*.wild.com\n"
                                    "inline.com # added 2024\n")
    (folder / "urls").write_text("http://schemed.net/x\nqs.com/page.php?id=5\nfrag.com/a#b\n")
    stage = UrlFilter(block_lists=[str(folder)])
    blocked = ["http://example.com/", "http://trail.com/", "http://port.com/", "http://scheme.com/a", "http://dotted.com/",
               "http://x.wild.com", "http://inline.com", "http://a.b.c.d.e.f.g.h.i.j.example.com/"]
    assert decide(stage, blocked) == ["url_filter.blocked_domain"] * len(blocked)
    assert decide(stage, ["http://schemed.net/x/y", "http://qs.com/page.php?id=5", "http://frag.com/a", "http://schemed.net/xy",
                          "http://qs.com/page.php?id=6", "http://qs.com/page.php", "http://notexample.com/"]) == \
        ["url_filter.blocked_url"] * 3 + [None] * 4


def test_urls_are_read_as_a_browser_reads_them(tmp_path):
    (tmp_path / "block.txt").write_text("badsite.com\npath.org/a/b\n")
    stage = UrlFilter(block_lists=[str(tmp_path / "block.txt")])
    urls = [" http://badsite.com/", "http://badsite.com\\@good.com/", "http://bad\tsite.com/", "http:///badsite.com",
            "http://badsite\u3002com/", "http://path.org//a/./b/c", "http://[::1]/badsite.com", "http://path.org/a/c"]
    assert decide(stage, urls) == ["url_filter.blocked_domain"] * 5 + ["url_filter.blocked_url", None, None]
    # `..` segments resolved and a percent-encoded host decoded, as a browser requests them
    urls = ["http://path.org/x/../a/b", "http://path.org/a/b/../c", "http://path.org/../../a/b/.", "http://%62adsite.com/",
            "http://path.org/a/..b/c"]
    assert decide(stage, urls) == ["url_filter.blocked_url", None, "url_filter.blocked_url", "url_filter.blocked_domain", None]


def test_internationalised_domains_follow_idna_2008(tmp_path):
    """`straße.de` is its own domain (xn--strae-oqa.de), not `strasse.de` as Python's IDNA 2003
    codec has it; a punycode entry blocks the Unicode host, and TLD rules hold in both forms."""
    (tmp_path / "block.txt").write_text("straße.de\nxn--fuball-cta.de\n")
    stage = UrlFilter(block_lists=[str(tmp_path / "block.txt")])
    assert decide(stage, ["http://xn--strae-oqa.de/", "http://straße.de/", "http://fußball.de/", "http://strasse.de/"]) == \
        ["url_filter.blocked_domain"] * 3 + [None]
    assert decide(UrlFilter(block_tlds=["рф", "co.uk"]), ["http://xn--e1afmkfd.xn--p1ai/", "http://пример.рф", "http://a.co.uk/",
                                                          "http://b.uk/"]) == ["url_filter.tld"] * 3 + [None]
    assert decide(UrlFilter(allow_tlds=["de"]), ["http://1.2.3.4/", "http://[::1]/", "http://a.com/"]) == [None, None, "url_filter.tld"]


def test_subword_entries_lose_their_spaces_and_punctuation_as_the_url_does(tmp_path):
    (tmp_path / "sub.txt").write_text("2 girls 1 cup\nauto-erotic\n")
    stage = UrlFilter(banned_subwords=[str(tmp_path / "sub.txt")], soft_word_languages=[])
    assert decide(stage, ["http://x.com/2-girls-1-cup", "http://x.com/auto_erotic", "http://x.com/girls-cup"]) == \
        ["url_filter.banned_subword"] * 2 + [None]
    assert decide(stage, ["https://example.com/free-porn/sex-videos"]) == [None], "soft_word_languages: [] turns soft words off"


@pytest.mark.parametrize("options, message", [
    ({"block_lists": ["{tmp}"]}, "is a folder without UT1's `domains` or `urls` file"),
    ({"banned_words": ["{tmp}/adult"]}, "is a folder: give the file"),
    ({"block_tlds": ["com", " "]}, "block_tlds holds an empty entry"),
    ({"allow_lists": ["{tmp}/latin1.txt"]}, "is not UTF-8 (byte 3)"),
])
def test_a_list_that_would_match_nothing_is_a_config_error(tmp_path, options, message):
    (tmp_path / "adult").mkdir()
    (tmp_path / "adult" / "domains").write_text("badsite.com\n")
    (tmp_path / "latin1.txt").write_bytes("café.fr\n".encode("latin-1"))
    options = {k: [v.format(tmp=tmp_path) for v in values] for k, values in options.items()}
    with pytest.raises(ValueError, match=re.escape(message)):
        UrlFilter(**options)


def test_every_kind_of_entry_matches_in_both_idna_forms_and_allow_lists_take_paths(tmp_path):
    """A URL path entry of an internationalised host matched in the form written only; a listed
    URL with a query never matched when its path ends in `/` (the form browsers send); an allow
    list's path entry now allows that path, not its whole domain."""
    (tmp_path / "block.txt").write_text("bücher.de/adult\nexample.com/?id=5\nexample.org/dir/?x=1\nblogspot.com\n")
    (tmp_path / "allow.txt").write_text("blogspot.com/goodblog\n")
    stage = UrlFilter(block_lists=[str(tmp_path / "block.txt")], allow_lists=[str(tmp_path / "allow.txt")])
    urls = ["http://xn--bcher-kva.de/adult/x", "http://bücher.de/adult", "http://example.com/?id=5", "http://example.com?id=5",
            "http://example.org/dir/?x=1", "http://blogspot.com/goodblog/post", "http://bücher.de/kids", "http://example.com/?id=6",
            "http://blogspot.com/otherblog"]
    assert decide(stage, urls) == ["url_filter.blocked_url"] * 5 + [None] * 3 + ["url_filter.blocked_domain"]


def test_hosts_are_mapped_as_browsers_map_them_before_the_lookup(tmp_path):
    """UTS 46, as a browser applies it before resolving: full-width letters are ASCII ones, a
    soft hyphen or a zero-width space is nothing; those hosts were kept past `blocked.com`."""
    listed = tmp_path / "block.txt"
    listed.write_text("blocked.com\n")
    urls = ["http://ｂｌｏｃｋｅｄ.com／x", "http://bl\u00adocked.com/x", "http://blocked\u200b.com/", "http://BLOCKED.com/",
            "http://unblocked.com/", "http://blöcked.com/"]
    assert decide(UrlFilter(block_lists=[str(listed)]), urls) == ["url_filter.blocked_domain"] * 4 + [None, None]
