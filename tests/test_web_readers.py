"""Raw web in: WARC, WET, HTML files and html columns read as documents; every record accounted for.

Real pages: the Debian FAQ crawl in samples/_web (built by samples/build_web.py). Broken copies
of it (a truncated gzip member, garbage between members, a cut-off end) are made here, and the
record counts are checked against warcio, an independent WARC reader.
"""

from __future__ import annotations

import gzip
import io
import re
import json
import os
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from conftest import REPO, SAMPLES, read_folder, run_pipeline
from dataprep import pipeline
from dataprep.errors import ConfigError
from dataprep.readers import warc as warc_reader
from dataprep.readers.charset import _meta_charset, to_utf8
from dataprep.run import run
from dataprep.tokens import TokenDataset

WARC = SAMPLES / "_web" / "debian-faq.warc.gz"
STAGES = [{"length": {"min_words": 1}}]


def warcio_records(path: Path) -> list[tuple[int, str, str | None, int | None]]:
    """(offset, type, content type, HTTP status) of every record, by warcio."""
    out = []
    with open(path, "rb") as handle:
        records = WarcioIterator(handle)
        for record in records:
            http = record.http_headers
            out.append((records.get_record_offset(), record.rec_type,
                        http.get_header("Content-Type") if http else None,
                        int(http.get_statuscode()) if http and record.rec_type == "response" else None))
    return out


def read_all(path: Path, parts: int = 1, wet: bool = False):
    size = path.stat().st_size
    bounds = [size * k // parts for k in range(parts + 1)]
    tables, errors = [], []
    for start, end in zip(bounds, bounds[1:]):
        for table, _, errs in warc_reader.read_records(str(path), start, end, wet, 64, warc_reader.is_gzip(str(path))):
            tables += [table] if table is not None else []
            errors += errs
    return (pa.concat_tables(tables) if tables else None), errors


def test_sample_crawl_records_match_warcio_in_any_number_of_parts():
    expected = warcio_records(WARC)
    pages = [r for r in expected if r[1] == "response" and r[3] == 200 and r[2].startswith("text/html")]
    assert len(pages) >= 100
    for parts in (1, 7):
        table, errors = read_all(WARC, parts)
        assert errors == []
        assert sorted(table.column("warc_offset").to_pylist()) == [r[0] for r in expected]
        docs = table.filter(pa.compute.is_null(table.column("_read_reason")))
        assert docs.num_rows == len(pages)
        reasons = table.column("_read_reason").to_pylist()
        assert reasons.count("read.http_status") == sum(1 for r in expected if r[3] not in (None, 200))


def test_charset_from_header_meta_and_detection_on_real_pages():
    table, _ = read_all(WARC)
    docs = table.filter(pa.compute.is_null(table.column("_read_reason"))).to_pylist()
    by_source = {}
    for doc in docs:
        by_source.setdefault(doc["charset_source"], []).append(doc)
    assert {"http", "meta", "detected"} <= set(by_source), set(by_source)
    legacy = {"http": "cp1251", "meta": "cp1252", "detected": "cp1252"}  # iso-8859-1 reads as windows-1252, as in browsers
    for source, charset in legacy.items():
        pages = [d for d in by_source[source] if d["charset"] == charset]
        assert pages, (source, charset)
        for doc in pages:  # read in the right charset: real letters, no mojibake (UTF-8 read as a legacy charset)
            assert "\ufffd" not in doc["text"] and "Ã" not in doc["text"] and "Ð" not in doc["text"], doc["url"]
            letters = "äöüß" if "/de/" in doc["url"] else "éèà" if "/fr/" in doc["url"] else "абвгд"
            assert any(ch in doc["text"] for ch in letters), doc["url"]
    assert all(d["charset_replaced"] == 0 for d in docs)


def test_charset_labels_are_read_as_browsers_read_them():
    """A quoted label in the HTTP header is the label; a label browsers do not know is ignored
    (the page's own declaration or detection decides, never UTF-8 by default); a meta tag that
    says UTF-16 on a page it could be read from as ASCII means UTF-8 (WHATWG)."""
    table, _ = read_all(WARC)
    russian = next(d["text"] for d in table.to_pylist() if d["url"] and "/ru/" in d["url"] and d["_read_reason"] is None)
    page = russian.encode("cp1251", "ignore")
    expected = page.decode("cp1251")
    for header in ('"windows-1251"', " 'windows-1251' ", "WINDOWS-1251"):
        decoded = to_utf8(page, header)
        assert (decoded.charset, decoded.source, decoded.replaced) == ("cp1251", "http", 0), header
        assert decoded.data.decode("utf-8") == expected
    undeclared = re.sub(rb"(?i)<meta[^>]*charset[^>]*>", b"", page)
    for unknown in ("latin_1", "cp932", "no-such-charset"):  # ignored: detection reads the Cyrillic
        decoded = to_utf8(undeclared, unknown)
        assert decoded.source == "detected" and decoded.charset == "cp1251" and "\ufffd" not in decoded.data.decode("utf-8"), unknown
    utf8_page = re.sub(rb"(?i)<meta[^>]*charset[^>]*>", b'<meta charset="utf-16">', russian.encode("utf-8"), count=1)
    decoded = to_utf8(utf8_page)
    assert (decoded.charset, decoded.source) == ("utf-8", "meta") and decoded.data.decode("utf-8") == utf8_page.decode("utf-8")


def test_a_meta_charset_in_a_comment_is_not_the_pages():
    """WHATWG's prescan skips comments: a commented-out meta naming another charset made a UTF-8
    page mojibake (its title too); a meta after the comment, or after an empty `<!-->`, counts,
    and a `<!--` inside an attribute's value opens no comment."""
    text = "<p>Loja dos Materiais Educativos: fantástica, “útil”.</p>"
    commented = '<!-- <meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"> -->'
    for head, charset in ((commented + '<meta charset="UTF-8">', "utf-8"), (commented, "utf-8"),
                          ('<!--> <meta charset="windows-1252">', "cp1252"), ('<!-- a --> <meta charset="koi8-r">', "koi8-r"),
                          ('<meta name="description" content="comments open with <!--"><meta charset="koi8-r">', "koi8-r")):
        page = f"<html><head>{head}</head><body>{text}</body></html>".encode()
        assert (_meta_charset(page) or "utf-8") == charset, head  # the declaration the prescan finds
        if charset == "utf-8":
            assert to_utf8(page).data.decode("utf-8") == page.decode("utf-8")


def test_a_meta_is_read_as_the_prescan_reads_it():
    """WHATWG's prescan: a `content` attribute names the charset only beside
    `http-equiv="content-type"` (a `<meta name=... content="...charset=iso-8859-1">` made a UTF-8
    page mojibake), a meta naming a label no browser knows is passed over for the next,
    `<metadata>` is no meta, a DOCTYPE or end tag quoting a meta holds none, and a meta cut by
    the 1024th byte is not read."""
    text = "<p>Loja dos Materiais Educativos: fantástica, “útil”.</p>"
    for head, charset in (('<meta name="Content-Type" content="text/html; charset=iso-8859-1">', "utf-8"),
                          ('<meta content="text/html; charset=iso-8859-1">', "utf-8"),
                          ('<meta http-equiv="refresh" content="5; charset=iso-8859-1">', "utf-8"),
                          ('<metadata charset="iso-8859-1">', "utf-8"),
                          ('<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=koi8-r">', "koi8-r"),
                          ('<meta charset="no-such-label"><meta charset=koi8-r>', "koi8-r"),
                          ('<meta name="description" content="' + "x" * 300 + '" charset="koi8-r">', "koi8-r"),
                          ('<!DOCTYPE html "<meta charset=windows-1251>"><meta charset=koi8-r>', "koi8-r"),
                          ('</a title="<meta charset=windows-1251>"><meta charset=koi8-r>', "koi8-r"),
                          ('<meta =charset=windows-1251>', "utf-8"), ('<meta\x0bcharset=windows-1251>', "utf-8"),
                          ('<meta http-equiv=" content-type" content="text/html; charset=windows-1251">', "utf-8"),
                          ('<meta name="x"charset="koi8-r">', "koi8-r")):
        page = f"<html><head>{head}</head><body>{text}</body></html>".encode()
        assert (_meta_charset(page) or "utf-8") == charset, head
    # a meta the 1024th byte cuts is not read: here `iso-8859-1` of `iso-8859-15`
    cut = b"<html><head><!--" + b"x" * (1024 - 16 - 3 - 24) + b'--><meta charset=iso-8859-15></head><body>' + text.encode() + b"</body>"
    assert cut.index(b"iso-8859-15") + 10 == 1024 and _meta_charset(cut) is None


def test_a_declaration_the_bytes_contradict_gives_way_to_valid_utf8():
    """A UTF-8 page under a stale `<meta charset=gb2312>` (4 of gne's 62 Chinese news pages) or a
    server's iso-8859-1 was decoded in the declared charset: mojibake in every engine's text and
    title. Bytes valid as UTF-8 are read as UTF-8, as trafilatura reads them; a page really in the
    declared charset (not valid UTF-8) is still read in it."""
    text = "<title>新华社北京电 国务院常务会议</title><p>会议指出，要坚持稳中求进。Grüße aus Köln, “quoted”.</p>"
    for head, http in (('<meta charset="gb2312">', None), ('<meta http-equiv="Content-Type" content="text/html; charset=gbk">', None),
                       ("", "iso-8859-1"), ('<meta charset="shift_jis">', "windows-1251")):
        page = f"<html><head>{head}</head><body>{text}</body></html>".encode()
        decoded = to_utf8(page, http)
        assert (decoded.charset, decoded.source, decoded.replaced) == ("utf-8", "valid-utf8", 0) and decoded.data == page, (head, http)
    chinese = '<html><head><meta charset="gb2312"></head><body><p>会议指出，要坚持稳中求进。</p></body></html>'
    decoded = to_utf8(chinese.encode("gb18030"))
    assert (decoded.source, decoded.replaced) == ("meta", 0) and decoded.data.decode("utf-8") == chinese
    # a nearly ASCII page in GB2312 whose few characters happen to be valid UTF-8 (目录 is C4BF C2BC: "Ŀ¼") stays GB2312
    contents = '<html><head><meta charset="gb2312"></head><body><h2>目录</h2><p>Debian GNU/Linux FAQ</p></body></html>'
    assert contents.encode("gb18030").decode("utf-8")  # valid UTF-8 indeed
    decoded = to_utf8(contents.encode("gb18030"))
    assert (decoded.charset, decoded.source) == ("gb18030", "meta") and decoded.data.decode("utf-8") == contents
    russian = "<p>Привет, мир</p>"
    decoded = to_utf8(russian.encode("cp1251"), "windows-1251")
    assert (decoded.charset, decoded.source) == ("cp1251", "http") and decoded.data.decode("utf-8") == russian


def test_windows_1252_reads_every_byte_as_browsers_do():
    """Python's cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; WHATWG's windows-1252
    (what iso-8859-1 means) reads them as U+0081 ...: a UTF-8 page served as iso-8859-1 keeps
    every byte of its mojibake (” is E2 80 9D), so ftfy can undo it."""
    page = "<p>Korean thriller “Parasite” won ÁÍÏÐÝ</p>".encode() + b" \xa9 2019"  # (one byte of iso-8859-1: not valid UTF-8)
    decoded = to_utf8(page, "iso-8859-1")
    assert decoded.replaced == 0 and "\ufffd" not in decoded.data.decode("utf-8")
    import ftfy

    assert ftfy.fix_encoding(decoded.data.decode("utf-8")) == page[:-7].decode() + " © 2019"


def test_undecodable_bytes_are_replaced_and_counted():
    page = to_utf8("<p>Grüße</p>".encode() + b"\xff\xfe" + "aus Köln".encode(), "utf-8")
    from dataprep.readers.charset import utf8_column

    column, replaced = utf8_column([page])
    assert column[0].as_py() == "<p>Grüße</p>\ufffd\ufffdaus Köln" and replaced == [2]


def _records(path: Path) -> list[bytes]:
    """The sample crawl's records, each as its uncompressed bytes (one gzip member each)."""
    data = path.read_bytes()
    offsets = [r[0] for r in warcio_records(path)] + [len(data)]
    return [gzip.decompress(data[a:b]) for a, b in zip(offsets, offsets[1:])]


def _broken_copies(tmp_path: Path) -> dict[str, tuple[Path, int]]:
    """Damaged copies of the sample crawl (a gzip member per record, and not compressed), and how
    many records each lost."""
    data = WARC.read_bytes()
    offsets = [r[0] for r in warcio_records(WARC)]
    a, b = offsets[40], offsets[41]
    records = _records(WARC)

    def with_record_40(change, compress=True) -> bytes:
        damaged = [*records[:40], change(records[40]), *records[41:]]
        return b"".join(gzip.compress(r, mtime=0) for r in damaged) if compress else b"".join(damaged)

    length = re.compile(rb"(?m)^Content-Length: (\d+)")
    longer = lambda r: length.sub(lambda m: b"Content-Length: %d" % (int(m.group(1)) + 300), r, count=1)  # noqa: E731
    shorter = lambda r: length.sub(lambda m: b"Content-Length: %d" % (int(m.group(1)) - 300), r, count=1)  # noqa: E731
    cases = {
        "truncated-member": (data[:a] + data[a:(a + b) // 2] + data[b:], 1),
        "garbage-between": (data[:b] + b"\x1f\x8b\x08 not a member" * 40 + data[b:], 0),
        "cut-off-end": (data[:offsets[-1] + 20], 1),
        # a record whose header cannot be read: lost, and counted as lost
        "broken-version-line": (with_record_40(lambda r: r.replace(b"WARC/1.0", b"WARX/1.0", 1)), 1),
        "no-content-length": (with_record_40(lambda r: length.sub(b"X-Length: 0", r, count=1)), 1),
        # a Content-Length too long: the record's block takes in the next record's header
        "length-too-long": (with_record_40(longer), 1),
        "uncompressed length-too-long": (with_record_40(longer, compress=False), 1),
        # a Content-Length too short: the record reads as whole, what is left of its block does not
        "length-too-short": (with_record_40(shorter), 1),
        "uncompressed length-too-short": (with_record_40(shorter, compress=False), 1),
        # cut in the middle, the next record right after: the same, not compressed
        "uncompressed cut-record": (with_record_40(lambda r: r[:len(r) // 2], compress=False), 1),
        # damage that does not end in a newline, right before a good record: no record lost
        "uncompressed garbage-before-a-record": (with_record_40(lambda r: r + b"GARBAGE", compress=False), 0),
    }
    out = {}
    for name, (content, lost) in cases.items():
        path = tmp_path / (name.replace(" ", "-") + (".warc" if name.startswith("uncompressed") else ".warc.gz"))
        path.write_bytes(content)
        out[name] = (path, lost)
    return out


@pytest.mark.parametrize("parts", [1, 5])
def test_damaged_warc_quarantines_the_broken_record_and_reads_the_rest(tmp_path, parts):
    total = len(warcio_records(WARC))
    for name, (path, lost) in _broken_copies(tmp_path).items():
        table, errors = read_all(path, parts)
        assert table.num_rows == total - lost, name
        assert len(errors) == 1, (name, errors)
        offset, message, records_lost, _ = errors[0]
        assert records_lost == lost and f"byte {offset}" in message, (name, message)
        # --limit counts a file's records as a read finds them, the lost ones included
        assert warc_reader.count_records(str(path), wet=False) == total, name


@pytest.mark.parametrize("parts", [1, 5])
def test_a_warc_gzipped_as_one_stream_is_read_whole(tmp_path, parts):
    """FastWARC gives the records inside a gzip member after its first the offset of a later
    member, or the file's size: none may be left to a part that does not read it."""
    path = tmp_path / "one-stream.warc.gz"
    path.write_bytes(gzip.compress(b"".join(_records(WARC))))
    assert not warc_reader.splittable(str(path)) and warc_reader.splittable(str(WARC))
    table, errors = read_all(path, parts)
    assert errors == [] and table.num_rows == len(warcio_records(WARC))
    assert sorted(table.column("id").to_pylist()) == sorted(read_all(WARC)[0].column("id").to_pylist())


@pytest.mark.parametrize("compress", [True, False])
def test_chunked_gzipped_and_plain_payloads_are_decoded_and_the_records_after_them_read(tmp_path, compress):
    """A payload sent chunked and gzipped (as wget records it) is decoded, and every record after it
    is read (FastWARC 2.0 stops after such a payload without an error); a payload that decodes
    shorter than its Content-Length is not taken for a truncated one."""
    records = _records(WARC)
    page_record = next(r for r in records if b"Content-Type: text/html" in r and b" 200 " in r.split(b"\r\n\r\n")[1][:20])
    html = page_record.split(b"\r\n\r\n", 2)[2].rstrip(b"\r\n")
    packed = gzip.compress(html, mtime=0)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(packed[i:i + 700]), packed[i:i + 700]) for i in range(0, len(packed), 700)) + b"0\r\n\r\n"
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Encoding: gzip\r\n\r\n" + chunked)
    record = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-00000000c0de>\r\n"
              b"WARC-Target-URI: http://example.com/chunked\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
              b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n" % len(http) + http + b"\r\n\r\n")
    records = [records[0], record, *records[1:]]
    path = tmp_path / ("chunked.warc.gz" if compress else "chunked.warc")
    path.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in records) if compress else b"".join(records))
    table, errors = read_all(path)
    assert table.num_rows == len(records)
    assert all(e[2] == 0 for e in errors), errors  # a note that reading went on, no record lost
    row = table.filter(pa.compute.equal(table.column("id"), "urn:uuid:00000000-0000-0000-0000-00000000c0de")).to_pylist()[0]
    assert row["_read_reason"] is None and row["text"] == html.decode("utf-8")


def _warc_record(number: int, block: bytes, uri: bytes = b"http://example.com/", kind: bytes = b"response",
                 extra: bytes = b"", content_type: bytes = b"application/http; msgtype=response") -> bytes:
    return (b"WARC/1.0\r\nWARC-Type: %s\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-%012d>\r\n"
            b"WARC-Target-URI: %s\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n%s"
            b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (kind, number, uri, extra, content_type, len(block))
            + block + b"\r\n\r\n")


def _sample_page() -> bytes:
    records = _records(WARC)
    page = next(r for r in records if b"Content-Type: text/html" in r and b" 200 " in r.split(b"\r\n\r\n")[1][:20])
    return page.split(b"\r\n\r\n", 2)[2].rstrip(b"\r\n")


def _write_records(tmp_path: Path, name: str, records: list[bytes], compress: bool) -> Path:
    path = tmp_path / (name + (".warc.gz" if compress else ".warc"))
    path.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in records) if compress else b"".join(records))
    return path


@pytest.mark.parametrize("compress", [True, False])
def test_payloads_are_decoded_as_a_browser_decodes_them(tmp_path, compress):
    """Content codings a browser reads (x-gzip, deflate with or without its zlib wrapper, br,
    codings listed with identity) are undone; a coding it does not know (servers write `utf-8`)
    and plain HTML labelled gzip are read as they are. FastWARC's own decoders quarantined all of
    these as unreadable records."""
    import brotli

    html = _sample_page()
    deflated = zlib.compress(html)
    codings = {b"x-gzip": gzip.compress(html), b"deflate": deflated, b"deflate ": deflated[2:-4], b"br": brotli.compress(html),
               b"gzip, identity": gzip.compress(html), b"utf-8": html, b"none": html, b"gzip": html}
    records = [_warc_record(i, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: %s\r\n\r\n" % coding + body,
                            b"http://example.com/%d" % i) for i, (coding, body) in enumerate(codings.items())]
    table, errors = read_all(_write_records(tmp_path, "codings", records, compress))
    assert errors == [] and table.num_rows == len(codings)
    assert table.column("text").to_pylist() == [html.decode("utf-8")] * len(codings)


@pytest.mark.parametrize("compress", [True, False])
def test_a_cut_payload_is_kept_as_far_as_it_decodes_and_says_so(tmp_path, compress):
    """WARC-Truncated (Common Crawl cuts pages at 1 MiB) is a declared state: the decoded prefix is
    kept, whatever the coding, and `warc_truncated` says why. A payload cut without that header
    (wget stores a transfer whose connection dropped as it came; the WARC record is whole) is read
    the same way, as a browser shows what it received, with `warc_truncated` "cut": whether it
    ends inside its coding or short of its HTTP Content-Length. It was quarantined as damage
    when coded, and kept unmarked when not."""
    import brotli

    html = _sample_page() * 4
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(html[i:i + 4000]), html[i:i + 4000]) for i in range(0, len(html), 4000)) + b"0\r\n\r\n"
    cut = {b"Content-Encoding: gzip": gzip.compress(html)[:3000], b"Content-Encoding: br": brotli.compress(html)[:3000],
           b"Transfer-Encoding: chunked": chunked[:6000], b"Content-Length: %d" % len(html): html[:5000]}
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n%s\r\n\r\n"
    noticed = [_warc_record(i, head % coding + body, extra=b"WARC-Truncated: length\r\n") for i, (coding, body) in enumerate(cut.items())]
    silent = [_warc_record(10 + i, head % coding + body) for i, (coding, body) in enumerate(cut.items())]
    whole = [_warc_record(20, head % b"Content-Encoding: gzip" + gzip.compress(html)),
             _warc_record(21, head % (b"Content-Length: %d" % len(html)) + html),
             _warc_record(22, head % b"Content-Length: 4\xb2" + html)]  # a latin-1 '²' is no digit: it had failed the whole part
    packed = gzip.compress(html)
    damaged = [_warc_record(30, head % b"Content-Encoding: gzip" + packed[:20] + bytes(64) + packed[84:]),
               _warc_record(31, head % b"Transfer-Encoding: chunked" + chunked[:5000] + b"\r\nZZZ\r\n" + chunked[5000:])]
    table, errors = read_all(_write_records(tmp_path, "cut", [*noticed, *silent, *damaged, *whole], compress))
    assert table.num_rows == len(noticed) + len(silent) + len(whole) and len(errors) == len(damaged)
    assert all(lost == 1 and "coding is damaged" in message for _, message, lost, _ in errors), errors
    assert [record_id for *_, record_id in errors] == [f"urn:uuid:00000000-0000-0000-0000-{30 + i:012d}" for i in range(len(damaged))], errors
    texts, truncated = table.column("text").to_pylist(), table.column("warc_truncated").to_pylist()
    assert truncated == ["length"] * len(noticed) + ["cut"] * len(silent) + [None] * len(whole)
    assert all(1000 < len(t) < len(html) and html.decode("utf-8").startswith(t) for t in texts[:-len(whole)])
    assert texts[-len(whole):] == [html.decode("utf-8")] * len(whole)


@pytest.mark.parametrize("compress", [True, False])
def test_a_payload_that_quotes_warc_records_is_a_page_not_damage(tmp_path, compress):
    """A fetched .warc file, or a page quoting a record with its CRLFs, holds the next record's
    header in its block while its Content-Length is right: read as a record, not quarantined (and,
    uncompressed, the records it quotes are not read as records of the file)."""
    inner = _warc_record(99, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>inner</p>", b"http://inner.example/")
    quoted = b"<html><body><pre>" + inner + b"</pre></body></html>"
    records = [_warc_record(1, b"HTTP/1.1 200 OK\r\nContent-Type: application/warc\r\n\r\n" + inner, b"http://example.com/a.warc"),
               _warc_record(2, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + quoted, b"http://example.com/quote"),
               _warc_record(3, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>last</p>", b"http://example.com/last")]
    table, errors = read_all(_write_records(tmp_path, "quoting", records, compress))
    assert errors == []
    assert table.column("url").to_pylist() == ["http://example.com/a.warc", "http://example.com/quote", "http://example.com/last"]
    assert table.column("_read_reason").to_pylist() == ["read.not_html", None, None]


@pytest.mark.parametrize("limit", [None, 100_000])
def test_a_warc_link_to_nothing_is_quarantined(tmp_path, limit):
    """A `.warc.gz` link to nothing in a folder (listed since links to nothing are): opened while
    planning, it stopped the run (exit 7, on every rerun) instead of being quarantined."""
    folder = tmp_path / "crawl"
    folder.mkdir()
    (folder / "a.warc.gz").write_bytes(WARC.read_bytes())
    (folder / "z.warc.gz").symlink_to(tmp_path / "gone.warc.gz")
    docs, _, quarantined = read_everything(folder, limit=limit)
    assert docs and [(Path(q["source"]).name, q["rows"]) for q in quarantined] == [("z.warc.gz", 0)]
    assert "cannot read WARC file" in quarantined[0]["error"]


def test_a_status_line_without_a_valid_code_is_no_200(tmp_path):
    """`HTTP/1.1 OK`, `2OO`, `200x`: no status a page is served with (they were kept as pages)."""
    lines = [b"HTTP/1.1 OK", b"HTTP/1.1 2OO OK", b"HTTP/1.1 200x OK", b"HTTP/1.1 200 OK"]
    records = [_warc_record(i, line + b"\r\nContent-Type: text/html\r\n\r\n<p>page</p>") for i, line in enumerate(lines)]
    table, errors = read_all(_write_records(tmp_path, "status", records, True))
    assert errors == [] and table.column("_read_reason").to_pylist() == ["read.http_status"] * 3 + [None]


def test_a_response_without_a_content_type_is_sniffed_as_a_browser_sniffs_it(tmp_path):
    """No Content-Type header: a body that starts as HTML is a page (it was set aside as not
    HTML), an image or text that does not is not; a labelled type is taken as it says."""
    page = b"<!DOCTYPE html><html><body><p>page</p></body></html>"
    bodies = [page, b"\xef\xbb\xbf\n <html><p>bom</p></html>", b"\x89PNG\r\n\x1a\n\x00\x00", b"just some text <p>",
              b"<p>labelled text/plain</p>", gzip.compress(page), b"%x\r\n%s\r\n0\r\n\r\n" % (len(page), page)]
    headers = [b""] * 4 + [b"Content-Type: text/plain\r\n", b"Content-Encoding: gzip\r\n", b"Transfer-Encoding: chunked\r\n"]
    records = [_warc_record(i, b"HTTP/1.1 200 OK\r\n" + header + b"\r\n" + body) for i, (header, body) in enumerate(zip(headers, bodies))]
    table, errors = read_all(_write_records(tmp_path, "untyped", records, True))
    assert errors == [] and table.column("_read_reason").to_pylist() == [None, None] + ["read.not_html"] * 3 + [None, None]


@pytest.mark.parametrize("compress", [True, False])
def test_headers_are_read_as_crawlers_write_them(tmp_path, compress):
    """wget 1.19's `<...>` target URI, a resource record's charset in its own Content-Type,
    merged Content-Type values (Fetch: the last type, with its charset), and HTTP headers whose
    lines end in a bare LF (FastWARC refuses them; warcio reads that record)."""
    euro = "<html><body><p>25 \u20ac only</p></body></html>".encode("iso-8859-15")
    records = [_warc_record(1, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>", b"<http://example.com/wget>"),
               _warc_record(2, euro, b"file:///euro.html", kind=b"resource", content_type=b"text/html; charset=iso-8859-15"),
               _warc_record(3, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain,text/html; charset=iso-8859-15\r\n\r\n" + euro),
               _warc_record(4, b"HTTP/1.1 200 OK\nContent-Type: text/html; charset=iso-8859-15\nServer: old\n\n" + euro, b"http://lf/"),
               _warc_record(5, b"HTTP/1.1 404 Not Found\nContent-Type: text/html\n\n<p>gone</p>", b"http://lf/404"),
               _warc_record(6, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>last</p>", b"http://example.com/last")]
    table, errors = read_all(_write_records(tmp_path, "headers", records, compress))
    assert errors == [] and table.column("_read_reason").to_pylist() == [None, None, None, None, "read.http_status", None]
    assert table.column("url").to_pylist()[0] == "http://example.com/wget"
    assert table.column("text").to_pylist()[1:4] == ["<html><body><p>25 \u20ac only</p></body></html>"] * 3
    # merged values after a parameter: FastWARC's charset field holds "iso-8859-15, text/html"
    merged = [_warc_record(7, b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=iso-8859-15, text/html\r\n\r\n" + euro)]
    table, errors = read_all(_write_records(tmp_path, "merged", merged, compress))
    assert errors == [] and table.column("text").to_pylist() == ["<html><body><p>25 \u20ac only</p></body></html>"]
    assert table.column("warc_offset").to_pylist() == sorted(table.column("warc_offset").to_pylist())


def test_a_record_claiming_a_huge_length_is_quarantined_not_fatal(tmp_path):
    """A damaged header (one digit too many in Content-Length) must cost one quarantined record:
    asked for that length whole, FastWARC would reserve it and abort the process."""
    import gzip

    record = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
              b"WARC-Target-URI: http://example.com/\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
              b"Content-Type: application/http; msgtype=response\r\nContent-Length: 1000000000000\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>")
    path = tmp_path / "lying.warc.gz"
    path.write_bytes(WARC.read_bytes() + gzip.compress(record))
    table, errors = read_all(path)
    assert table.num_rows == len(warcio_records(WARC))
    assert len(errors) == 1 and errors[0][0] == WARC.stat().st_size and "truncated" in errors[0][1], errors


def test_a_run_on_a_damaged_crawl_accounts_for_every_record(ray_session, tmp_path):
    copies = _broken_copies(tmp_path)
    folder = tmp_path / "crawl"
    folder.mkdir()
    for path, _ in copies.values():
        path.rename(folder / path.name)
    out = tmp_path / "out"
    # copies of one crawl: most of their records are quarantined as duplicate ids, far over the error budget
    stats = run_pipeline(STAGES, folder, out, part_bytes=200_000, error_budget=1.0)
    assert stats["invariant_ok"], stats["problems"]
    total = len(warcio_records(WARC))
    assert stats["input"]["docs"] == len(copies) * total  # a broken record counts once, in quarantine
    assert stats["input"]["parts"] > 3, "each file is read in several byte ranges"
    removed = read_folder(out / "removed").to_pandas()
    read_removed = removed[removed.stage == "read"]
    assert set(read_removed.reason) == {"read.not_html", "read.http_status"}
    assert (read_removed[read_removed.warc_type == "request"].reason == "read.not_html").all()
    quarantine = read_folder(out / "quarantine").to_pylist()
    broken = [q for q in quarantine if "unreadable" in q["error"]]
    assert sorted(q["source"].rsplit("/", 1)[1] for q in broken) == sorted(p.name for p, _ in copies.values())
    assert all(q["row"] is not None and f"byte {q['row']}" in q["error"] for q in broken)
    # the copies hold the same WARC-Record-IDs: the later copies' records are duplicates
    assert all("duplicate id" in q["error"] for q in quarantine if q not in broken)
    kept = read_folder(out / "kept")
    assert "_read_reason" not in kept.column_names and kept.num_rows == len(set(kept.column("id").to_pylist()))
    # the report says where the records that never reached a stage went (it said nothing of them)
    page = (out / "report.html").read_text()
    reading = page[page.index("<h3 id='reading'>"):page.index("<h3 id='stage-0'>")]
    assert f"{len(read_removed):,} set aside" in reading
    assert f"{stats['quarantine']['read_rows'] + stats['quarantine']['file_rows']:,} quarantined" in reading
    for reason, count in read_removed.reason.value_counts().items():
        assert f">{reason}</text>" in reading and f">{count:,}</text>" in reading


def _response_bodies() -> dict[str, bytes]:
    """URL -> raw page bytes of the sample crawl's HTML responses whose charset the page itself
    declares (or that are UTF-8): the pages that read the same with or without HTTP headers."""
    bodies = {}
    with open(WARC, "rb") as handle:
        for record in WarcioIterator(handle):
            http = record.http_headers
            if record.rec_type == "response" and http.get_statuscode() == "200" and "charset=utf-8" in (http.get_header("Content-Type") or ""):
                bodies[record.rec_headers.get_header("WARC-Target-URI")] = record.content_stream().read()
    return bodies


def test_same_pages_as_warc_html_files_and_html_column_give_the_same_text(ray_session, tmp_path):
    bodies = _response_bodies()
    assert len(bodies) >= 60
    names = {url: url.rsplit("debian-faq/", 1)[1].replace("/", "_").removesuffix(".html") for url in bodies}
    files = {url: names[url] + (".html.gz" if k % 2 else ".html") for k, url in enumerate(bodies)}
    warc = tmp_path / "warc" / "pages.warc.gz"
    warc.parent.mkdir()
    with open(warc, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, body in bodies.items():
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    html_dir = tmp_path / "html"
    html_dir.mkdir()
    for k, (url, body) in enumerate(bodies.items()):
        (html_dir / files[url]).write_bytes(gzip.compress(body) if k % 2 else body)
    column = tmp_path / "column" / "pages.parquet"
    column.parent.mkdir()
    pq.write_table(pa.table({"id": [names[u] for u in bodies], "html": pa.array(list(bodies.values()), pa.binary()),
                             "url": list(bodies)}), column)
    texts = {}
    for kind, path, options in (("warc", warc, {}), ("html", html_dir, {}), ("column", column, {"text_column": "html"})):
        out = tmp_path / f"out-{kind}"
        stats = run_pipeline(STAGES, path, out, **options)
        assert stats["invariant_ok"], stats["problems"]
        kept = read_folder(out / "kept").to_pylist()
        key = "url" if kind != "html" else "id"
        texts[kind] = {(d[key] if kind != "html" else next(u for u, n in files.items() if n == d["id"])): d["text"] for d in kept}
    assert len(texts["warc"]) == len(bodies)
    assert texts["warc"] == texts["html"] == texts["column"]


def test_wet_conversion_records_are_documents(tmp_path):
    path = tmp_path / "pages.warc.wet.gz"
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
        for k, text in enumerate(["Première ligne.\nDeuxième ligne.", "Zweite Seite mit Umlauten: äöü."]):
            writer.write_record(writer.create_warc_record(f"https://example.org/{k}", "conversion", payload=io.BytesIO(text.encode()),
                                                          warc_content_type="text/plain"))
    table, errors = read_all(path, wet=True)
    assert errors == []
    docs = table.filter(pa.compute.is_null(table.column("_read_reason")))
    assert docs.column("text").to_pylist() == ["Première ligne.\nDeuxième ligne.", "Zweite Seite mit Umlauten: äöü."]
    assert table.column("_read_reason").to_pylist()[0] == "read.not_text"


def test_web_pipeline_runs_from_warc_to_tokens(ray_session, tmp_path):
    """pipelines/web.yaml on the sample crawl: WARC -> url_filter -> extract -> filters -> dedup ->
    pii -> tokenizer -> token shards, every record accounted for."""
    out = tmp_path / "web"
    stats = run(pipeline.load(REPO / "pipelines" / "web.yaml", {"output": str(out), "input": str(WARC.parent)}))
    assert stats["invariant_ok"], stats["problems"]
    assert stats["input"]["docs"] == len(warcio_records(WARC))
    assert set(stats["input"]["removed"]) == {"read.not_html", "read.http_status"}
    kept = read_folder(out / "kept")
    assert kept.num_rows >= 10 and "<html" not in "".join(kept.column("text").to_pylist()).lower()
    assert all(h > len(t.encode()) for h, t in zip(kept.column("html_bytes").to_pylist(), kept.column("text").to_pylist()))
    report_html = (out / "report.html").read_text()
    assert "Sizes, html_bytes against text_bytes kept" in report_html
    removed_urls = [u for u in read_folder(out / "removed").column("url").to_pylist() if u]
    assert any(f"<small>{u}</small>" in report_html for u in removed_urls), "samples name their page"
    from dataprep.explain import explain

    record_id = kept.column("id")[0].as_py()  # kept bare; explain takes it as the WARC writes it too
    assert explain(out, f"<{record_id}>").splitlines()[:2] == [f"id: {record_id}", "kept: it passed every stage"]
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    assert manifest["documents"] == kept.num_rows
    tokens = TokenDataset(out / "tokens")
    assert len(tokens) == kept.num_rows and sum(len(tokens[i]) for i in range(len(tokens))) == manifest["tokens"]


def test_input_format_html_reads_a_table_of_pages(ray_session, tmp_path):
    """--input-format html on a Parquet file: its html column holds the pages (no --text-column needed)."""
    bodies = _response_bodies()
    table = tmp_path / "pages.parquet"
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(len(bodies))], "html": pa.array(list(bodies.values()), pa.binary())}), table)
    stats = run_pipeline(STAGES, table, tmp_path / "out", input_format="html")
    assert stats["invariant_ok"] and stats["output"]["kept"] == len(bodies)
    kept = read_folder(tmp_path / "out" / "kept")
    assert all(t.lstrip().lower().startswith(("<!doctype", "<?xml", "<html")) for t in kept.column("text").to_pylist())
    # a text_column given is the column of pages, `text` included (it was taken for the default and read as `html`)
    named = tmp_path / "named.parquet"
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(len(bodies))], "text": pa.array(list(bodies.values()), pa.binary())}), named)
    stats = run_pipeline(STAGES, named, tmp_path / "named-out", input_format="html", text_column="text")
    assert stats["invariant_ok"] and stats["output"]["kept"] == len(bodies)
    assert read_folder(tmp_path / "named-out" / "kept").column("text").to_pylist() == kept.column("text").to_pylist()


def read_everything(spec: Path, **options) -> tuple[list[dict], list[dict], list[dict]]:
    """(documents, records set aside for the ledger, quarantine records) as a run's first segment reads them, without Ray."""
    from dataprep import documents
    from dataprep.outputs import split_read_removals

    text_column, limit, declared = options.get("text_column", "text"), options.get("limit"), options.get("input_format", "auto")
    parts, quarantined = documents.plan(documents.discover(str(spec), declared), text_column, documents.PART_BYTES, limit, declared)
    docs, aside = [], []
    for part in parts:
        for raw, rows, bad in documents.read_part(part, text_column, options.get("batch_rows", 512)):
            quarantined += bad
            if raw is not None:
                table, rejected = documents.conform(raw, rows, part, text_column, documents.MAX_DOC_BYTES, {})
                quarantined += rejected
                kept, ledger = split_read_removals(table)
                docs += kept.to_pylist()
                aside += ledger.to_pylist() if ledger is not None else []
    return docs, aside, quarantined


def test_odd_files_in_a_folder_of_pages_are_each_accounted_for(tmp_path):
    """A gzipped page whose deflate data is corrupt costs that page only (it cost its whole
    bundle, blamed on the bundle's first file); an image saved as .html is set aside as
    `read.not_html`, not kept, but a page starting as HTML with a control byte in its title is a
    page, as from a WARC; a link to nothing is quarantined; `a.html` and `a.htm` are two pages
    with ids of their own, and a quarantined file keeps the id its page would have had (`explain`
    finds it)."""
    bodies = list(_response_bodies().values())[:4]
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "p0.html").write_bytes(bodies[0])
    broken = bytearray(gzip.compress(bodies[1]))
    broken[len(broken) // 2] ^= 0xFF
    (folder / "p1.html.gz").write_bytes(bytes(broken))
    (folder / "p2.html.gz").write_bytes(gzip.compress(bodies[2]))
    (folder / "a.html").write_bytes(bodies[2])
    (folder / "a.htm").write_bytes(bodies[3])
    (folder / "logo.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "stray.html").write_bytes(b"\n <!DOCTYPE html><html><head><title>A\x01B</title>" + bodies[0])  # starts as HTML: a page
    (folder / "zip.html").write_bytes(b"<!--\x00\x01PK\x03\x04" + bytes(range(64)))  # `<!--` needs a space or `>` after it
    (folder / "moved.html").symlink_to(tmp_path / "nowhere.html")  # pyarrow's listing leaves a link to nothing out
    docs, aside, quarantined = read_everything(folder)
    assert sorted(d["id"] for d in docs) == ["a.htm", "a.html", "p0.html", "p2.html.gz", "stray.html"]
    assert sorted((q["source"].rsplit("/", 1)[1], q["rows"], q["id"]) for q in quarantined) == [("moved.html", 1, "moved.html"),
                                                                                               ("p1.html.gz", 1, "p1.html.gz")]
    assert all("cannot read HTML file" in q["error"] for q in quarantined)
    assert sorted((r["id"], r["reason"]) for r in aside) == [("logo.html", "read.not_html"), ("zip.html", "read.not_html")]


def test_a_file_name_that_is_not_utf8_is_a_one_line_error(tmp_path, capsys):
    """pyarrow can neither list nor open a local file whose name is not UTF-8 (a wget mirror of a
    Latin-1 site): it was an internal error on every rerun; it is a config error naming it, in a
    folder, through a linked folder and from a glob."""
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "good.html").write_bytes(list(_response_bodies().values())[0])
    with open(os.fsencode(folder) + b"/caf\xe9.html", "wb") as page:
        page.write(b"<p>caf\xe9</p>")
    with pytest.raises(ConfigError, match=r"1 file name\(s\) under .* are not UTF-8.*caf\\xe9\.html.*rename them"):
        read_everything(folder)
    with pytest.raises(ConfigError, match=r"not UTF-8.*caf\\xe9\.html"):  # named by a glob
        read_everything(Path(f"{folder}/*.html"), input_format="html")
    linking = tmp_path / "linking"
    linking.mkdir()
    (linking / "good.html").write_bytes(list(_response_bodies().values())[0])
    (linking / "linked").symlink_to(folder)  # pyarrow's listing follows the link, and passed the name over
    with pytest.raises(ConfigError, match=r"not UTF-8.*linked/caf\\xe9\.html"):
        read_everything(linking)


def test_east_asian_and_thai_labels_decode_as_browsers_decode_them():
    """Browsers read Shift_JIS as windows-31j, EUC-KR as windows-949, GBK as GB18030, Big5 with
    HKSCS, windows-874 with its quotes and euro: Python's codecs of those names lost ①, 똠, €
    and 㗎 (U+FFFD) or turned “ ” into C1 controls (replacing nothing). ISO-2022-JP is 7-bit:
    it was passed through as ASCII, escape sequences and all."""
    for label, text, codec in (("shift_jis", "①②③ 髙 ㈱", "cp932"), ("euc-kr", "똠", "cp949"), ("gbk", "€ 中文", "gb18030"),
                               ("big5", "香港 㗎", "big5hkscs"), ("windows-874", "“ทดสอบ” – €", "cp874"),
                               ("iso-2022-jp", "こんにちは", "iso2022_jp")):
        page = to_utf8(f'<meta charset="{label}"><p>{text}</p>'.encode(codec))
        assert (page.data.decode("utf-8"), page.replaced) == (f'<meta charset="{label}"><p>{text}</p>', 0), label


def test_euc_jp_reads_necs_characters_as_browsers_do():
    """WHATWG's EUC-JP decoder reads index-jis0208, which holds NEC's row 13 (①, ㈱, Ⅰ) and the
    NEC-selected IBM kanji; Python's euc_jp lost them to U+FFFD and misread the bytes after.
    (The EUC-JP bytes of row 13, cell 1 are AD A1: row and cell plus 0xA0.)"""
    nec = {"①": b"\xad\xa1", "②": b"\xad\xa2", "㈱": b"\xad\xea", "Ⅰ": b"\xad\xb5", "纊": b"\xf9\xa1"}
    body = "第①回の会議は②月、㈱テスト Ⅰ 纊"
    encoded = b"".join(nec[ch] if ch in nec else ch.encode("euc_jp") for ch in body)
    page = to_utf8(b'<meta charset="EUC-JP"><p>' + encoded + b"\xff</p>")
    assert (page.data.decode("utf-8"), page.replaced) == (f'<meta charset="EUC-JP"><p>{body}\ufffd</p>', 1)
    # no character there: one error per pair or 0x8F triple, and the next character read right
    for bad in (b"\xa9\xa1", b"\xfe\xfe", b"\xad\xff", b"\x8f\xad\xa1", b"\x8f\xf9\xa1"):
        page = to_utf8(b'<meta charset="EUC-JP"><p>' + bad + "あ".encode("euc_jp") + b"</p>")
        assert (page.data.decode("utf-8"), page.replaced) == ('<meta charset="EUC-JP"><p>\ufffdあ</p>', 1), bad


def test_a_cut_jsonl_gz_keeps_the_records_before_the_damage(tmp_path):
    """The records before a gzip stream's cut were lost with it (up to a batch of them), and
    under --limit the whole file was dropped with no word."""
    bodies = list(_response_bodies().values())[:20]
    lines = "".join(json.dumps({"id": f"p{i}", "html": body.decode("utf-8")}) + "\n" for i, body in enumerate(bodies)).encode()
    packed = gzip.compress(lines)
    (tmp_path / "pages.jsonl.gz").write_bytes(packed[: len(packed) * 7 // 10])
    docs, _, quarantined = read_everything(tmp_path / "pages.jsonl.gz", text_column="html")
    assert 8 <= len(docs) < 20 and [d["id"] for d in docs] == [f"p{i}" for i in range(len(docs))]
    assert len(quarantined) == 1 and "read failed after" in quarantined[0]["error"]
    limited, _, quarantined = read_everything(tmp_path / "pages.jsonl.gz", text_column="html", limit=19)
    assert [d["id"] for d in limited] == [d["id"] for d in docs] and quarantined[0]["rows"] == 1  # the damaged rest, as one


def test_a_table_of_pages_uses_its_charset_column_and_any_text_column(tmp_path):
    """A crawl's table often holds the HTTP header's charset: it is the page's header charset
    (it crashed the run, a duplicate column), and `--input-format html` decodes the pages of
    any `--text-column`; a JSONL record with both `html` and `text` is quarantined, as a Parquet
    file with both columns is (it crashed the run)."""
    russian = next(b for u, b in _response_bodies().items() if "/ru/" in u)
    page = re.sub(rb"(?i)<meta[^>]*charset[^>]*>", b"", russian).decode("utf-8").encode("cp1251", "ignore")
    pq.write_table(pa.table({"id": ["r"], "html": pa.array([page], pa.binary()), "charset": ["windows-1251"]}), tmp_path / "a.parquet")
    (doc,), _, _ = read_everything(tmp_path / "a.parquet", text_column="html")
    assert (doc["charset"], doc["charset_source"], doc["charset_replaced"]) == ("cp1251", "http", 0)
    assert doc["text"] == page.decode("cp1251")
    pq.write_table(pa.table({"id": ["r"], "body": pa.array([page], pa.binary())}), tmp_path / "b.parquet")
    (doc,), _, _ = read_everything(tmp_path / "b.parquet", text_column="body", input_format="html")
    assert doc["charset_source"] == "detected" and doc["text"] == page.decode("cp1251")
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "x", "html": "<p>page</p>", "text": "page"}) + "\n")
    docs, _, (quarantined,) = read_everything(tmp_path / "c.jsonl", text_column="html")
    assert docs == [] and quarantined["error"] == "has both 'html' and 'text' fields; rename one"


def test_an_input_whose_name_looks_like_a_glob_is_read_as_named(tmp_path):
    folder = tmp_path / "crawl[2024]"
    folder.mkdir()
    (folder / "page[1].html").write_bytes(next(iter(_response_bodies().values())))
    for spec in (folder, folder / "page[1].html"):
        docs, _, _ = read_everything(spec)
        assert [d["id"] for d in docs] == ["page[1].html"]


def test_extract_keeps_the_text_of_wet_records_as_it_is(tmp_path):
    """A WET record is a crawl's extracted text: parsed as HTML, `a<b and c>d` lost its words and
    `<script>` everything after it. `extract` keeps such records' text (engine "none") and
    extracts the pages beside them."""
    from dataprep.stages.base import TextBatch
    from dataprep.stages.extract import Extract

    path = tmp_path / "mixed.warc.wet.gz"
    text = "A line that says a<b and c>d, which is fine.\nUse <script> tags & entities like &amp; in examples."
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warc_record("https://example.org/t", "conversion", payload=io.BytesIO(text.encode()),
                                                      warc_content_type="text/plain"))
    docs, _, _ = read_everything(path)
    page = next(iter(_response_bodies().values())).decode("utf-8")
    html_doc = {**docs[0], "id": "page", "text": page, "warc_type": "response"}
    decided = Extract().apply(TextBatch(pa.Table.from_pylist([docs[0], html_doc])))
    texts, used = decided.batch.text.to_pylist(), decided.batch.table.column("extract_engine").to_pylist()
    assert texts[0] == text and used[0] == "none" and decided.batch.table.column("title").to_pylist()[0] is None
    assert used[1] in ("resiliparse", "trafilatura") and "<html" not in texts[1].lower() and len(texts[1]) > 200


def test_a_limit_reads_no_record_past_it(tmp_path):
    """--limit N takes the first N records, bad ones counted: the bad lines and the unreadable
    files past N were read and quarantined (3 good lines then 3 bad, --limit 2: 5 records)."""
    bodies = list(_response_bodies().values())[:3]
    lines = [json.dumps({"id": f"g{i}", "html": b.decode("utf-8")}) for i, b in enumerate(bodies)] + ["bad", "[1]", '{"id": "n"}']
    (tmp_path / "pages.jsonl").write_text("\n".join(lines) + "\n")
    for limit, good, bad in ((2, 2, 0), (4, 3, 1), (10, 3, 3)):
        docs, _, quarantined = read_everything(tmp_path / "pages.jsonl", text_column="html", limit=limit)
        assert (len(docs), len(quarantined)) == (good, bad), limit
    folder = tmp_path / "files"
    folder.mkdir()
    for i, body in enumerate(bodies):
        (folder / f"p{i}.html").write_bytes(body)
    (folder / "p3.html.gz").write_bytes(gzip.compress(bodies[0])[:40])
    docs, _, quarantined = read_everything(folder, limit=3)
    assert [d["id"] for d in docs] == ["p0.html", "p1.html", "p2.html"] and quarantined == []


def test_files_of_no_input_format_in_a_folder_are_counted_not_silently_skipped(tmp_path):
    """A folder read as HTML holds files that are no HTML by name (a wget mirror's `page.php`, a
    `notes.txt`): they are not read, and discovery returns them, for the run to name and count."""
    from dataprep import documents

    folder = tmp_path / "mirror"
    (folder / "_logs").mkdir(parents=True)
    for name in ("a.html", "page.php", "notes.txt", "_logs/x.txt", ".hidden"):
        (folder / name).write_bytes(list(_response_bodies().values())[0])
    files, web, unread = documents.discover_all(str(folder), "html")
    assert [Path(f).name for f in files] == ["a.html"] and web == []
    assert sorted(Path(f).name for f in unread) == ["notes.txt", "page.php"]


def test_the_web_pipeline_keeps_text_that_looks_like_a_tag():
    """After `extract`, a page's text holds no markup: `<path>` in "poetry env use <path>" or
    `x <y und z> w` is the page's own text, which keywords' HTML stripping deleted in web.yaml."""
    from dataprep.stages.base import TextBatch

    web = pipeline.load(REPO / "pipelines" / "web.yaml", {})
    keywords = next(stage for stage in web.stages if stage.name == "keywords")
    text = "Run poetry env use <path> to pick the interpreter for this project.\nDer Vertrag gilt, wenn x <y und z> w ist."
    decided = keywords.apply(TextBatch(pa.table({"id": ["a"], "text": [text]})))
    assert decided.batch.table["text"][0].as_py() == text


def test_linked_folders_are_read_once_and_a_link_loop_ends(tmp_path):
    """pyarrow's listing followed a link to `.` for ever (the run grew to GBs, deaf to SIGTERM),
    and a link to `..` read each page 40 times; each real folder is listed once, by its own path."""
    body = list(_response_bodies().values())[0]
    folder = tmp_path / "pages"
    (folder / "sub").mkdir(parents=True)
    (folder / "deep" / "data").mkdir(parents=True)
    (folder / "p.html").write_bytes(body)
    (folder / "sub" / "q.html").write_bytes(body)
    (folder / "deep" / "data" / "z.html").write_bytes(body)
    (folder / "a").symlink_to(".")
    (folder / "sub" / "up").symlink_to("..")
    (folder / "alias").symlink_to(folder / "deep" / "data")  # before `deep` in name order: the folder's own path wins
    docs, _, quarantined = read_everything(folder)
    assert sorted(d["id"] for d in docs) == ["deep/data/z.html", "p.html", "sub/q.html"] and not quarantined


def test_ids_are_paths_below_the_input_folder(tmp_path):
    """A crawl's pages keep their ids when a sibling folder appears: `2024/a.html` was `a.html`
    while 2024/ was the folder's only one (ids were paths below the files' common folder)."""
    from dataprep import documents

    folder = tmp_path / "crawl"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "a.html").write_bytes(list(_response_bodies().values())[0])
    files = documents.discover(str(folder))
    assert documents.relative_names(files, documents.input_folder(str(folder))) == ["2024/a.html"]
    assert documents.relative_names(files, documents.input_folder(f"{folder}/*/*.html")) == ["a.html"]  # a glob: their common folder
    assert documents.relative_names(["s3://bucket/crawl/2024/a.html"], "s3://bucket/crawl") == ["2024/a.html"]  # on a store too


def test_upper_case_and_xhtml_gz_suffixes_are_gunzipped(tmp_path):
    """`.GZ` was found (suffixes match in any case) but not gunzipped: the page went to the ledger
    as not HTML, and a JSONL.GZ's one record became three quarantined "lines"; `.xhtml.gz` was
    passed over; a plain page named `.html.gz` was quarantined (BadGzipFile)."""
    body = list(_response_bodies().values())[0]
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "PAGE.HTML.GZ").write_bytes(gzip.compress(body))
    (folder / "page.xhtml.gz").write_bytes(gzip.compress(body))
    (folder / "never-zipped.html.gz").write_bytes(body)  # saved with the suffix, never compressed: read as it is
    docs, aside, quarantined = read_everything(folder)
    assert sorted(d["id"] for d in docs) == ["PAGE.HTML.GZ", "never-zipped.html.gz", "page.xhtml.gz"] and not aside and not quarantined
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "PAGES.JSONL.GZ").write_bytes(gzip.compress(json.dumps({"text": "one record, gzipped"}).encode() + b"\n"))
    docs, _, quarantined = read_everything(tables)
    assert [d["text"] for d in docs] == ["one record, gzipped"] and not quarantined


def test_undeclared_bytes_that_are_not_utf8_are_read_as_windows_1252():
    """uchardet says UTF-8 for a short page it cannot place, though the bytes are not UTF-8: a
    cp1252 page's ’, — and ï came out as U+FFFD; a browser's fallback is windows-1252. And the
    WHATWG label x-mac-cyrillic, which resiliparse's table lacks, is read as a browser reads it."""
    text = "<p>It’s a test, isn’t it—yes. Naïve Ørsted, Français.</p>"
    page = to_utf8(text.encode("cp1252"))
    assert (page.data.decode("utf-8"), page.replaced, page.source) == (text, 0, "detected")
    cyrillic = "<p>Привет, мир! Это страница.</p>"
    page = to_utf8(cyrillic.encode("mac_cyrillic"), "x-mac-cyrillic")
    assert (page.data.decode("utf-8"), page.replaced, page.source) == (cyrillic, 0, "http")
    # but UTF-8 cut inside its last character, or with a stray byte, is still UTF-8 (not mojibake whole)
    for damaged, kept in ((cyrillic.encode()[:-6], cyrillic[:-6] + "\ufffd"), ("<p>中文页面的内容。</p>".encode() + b"\xff", "<p>中文页面的内容。</p>\ufffd")):
        page = to_utf8(damaged)
        assert (page.data.decode("utf-8"), page.replaced, page.charset) == (kept, 1, "utf-8")
