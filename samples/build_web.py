"""Rebuild samples/_web/debian-faq.warc.gz: a small crawl of real pages, as Common Crawl stores one.

    apt-get install -y debian-faq debian-faq-de debian-faq-fr debian-faq-ru debian-faq-ja debian-faq-zh-cn
    python samples/build_web.py

The Debian FAQ's HTML pages in six languages (licence in samples/NOTICE), wrapped as WARC
records with warcio at the URLs where debian.org publishes them: per page a request, a response
and a metadata record, each its own gzip member, as in Common Crawl's WARC files. Around them,
what a crawl also holds and a reader must account for: a warcinfo record, robots.txt (text/plain),
an image, a 404 and a redirect. A few pages are served the way old servers serve them, so every
branch of the charset rules is exercised on real text: Russian pages as windows-1251 declared in
the HTTP header (which wins over the page's own meta tag), French pages as ISO-8859-1 with only
a rewritten meta tag, and German pages as windows-1252 with no declaration at all (detected).

The folder starts with "_" so that `samples/` as an input (the other pipelines) does not read
it; `pipelines/web.yaml` reads it by name. Deterministic: record ids and dates derive from the
URL, so the same packages give the same file.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import uuid
import zlib
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

FAQ = Path("/usr/share/doc/debian/FAQ")
OUT = Path(__file__).parent / "_web" / "debian-faq.warc.gz"
SITE = "https://www.debian.org/doc/manuals/debian-faq/"
DATE = "2026-11-01T12:00:00Z"
META = re.compile(rb"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" ?/?>", re.IGNORECASE)
XML_DECL = re.compile(rb"^<\?xml[^>]*\?>\s*")


def _headers(url: str, kind: str) -> dict[str, str]:
    rid = uuid.UUID(hashlib.sha256(f"{kind} {url}".encode()).hexdigest()[:32])
    return {"WARC-Record-ID": f"<urn:uuid:{rid}>", "WARC-Date": DATE}


def _serve(path: Path, language: str, index: int) -> tuple[bytes, str]:
    """The page's bytes and Content-Type as the (simulated) server sends them."""
    body = path.read_bytes()
    if language == "ru" and index % 3 == 0:
        return body.decode("utf-8").encode("cp1251", "xmlcharrefreplace"), "text/html; charset=windows-1251"
    if language == "fr" and index % 3 == 0:
        body = XML_DECL.sub(b"", META.sub(b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1" />', body))
        return body.decode("utf-8").encode("latin-1", "xmlcharrefreplace"), "text/html"
    if language == "de" and index % 3 == 0:
        body = XML_DECL.sub(b"", META.sub(b"", body))
        return body.decode("utf-8").encode("cp1252", "xmlcharrefreplace"), "text/html"
    return body, "text/html; charset=utf-8"


def _png() -> bytes:
    """A 1x1 grey PNG (an image record: the reader must count it, not read it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")


def _response(writer: WARCWriter, url: str, status: str, content_type: str, body: bytes, extra=()) -> None:
    http = StatusAndHeaders(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(f"GET {url} HTTP/1.1\r\n\r\n".encode()),
                                                  warc_headers_dict=_headers(url, "request")))
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                                  warc_headers_dict=_headers(url, "response")))


def main() -> None:
    pages = sorted(p for p in FAQ.rglob("*.html") if p.is_file())
    if not pages:
        raise SystemExit(f"no pages in {FAQ}: install the debian-faq packages first (see this file's docstring)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        info = writer.create_warcinfo_record(OUT.name, {"software": "dataprep samples/build_web.py (warcio)", "format": "WARC File Format 1.0"})
        info.rec_headers.replace_header("WARC-Record-ID", _headers(OUT.name, "warcinfo")["WARC-Record-ID"])
        info.rec_headers.replace_header("WARC-Date", DATE)
        writer.write_record(info)
        _response(writer, "https://www.debian.org/robots.txt", "200 OK", "text/plain", b"User-agent: *\nDisallow:\n")
        for index, path in enumerate(pages):
            relative = path.relative_to(FAQ).as_posix()
            language = relative.split("/")[0] if "/" in relative else "en"
            url = SITE + relative
            body, content_type = _serve(path, language, index)
            _response(writer, url, "200 OK", content_type, body)
            writer.write_record(writer.create_warc_record(url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 120\r\n"),
                                                          warc_content_type="application/warc-fields",
                                                          warc_headers_dict=_headers(url, "metadata")))
        _response(writer, SITE + "debian.png", "200 OK", "image/png", _png())
        _response(writer, SITE + "no-such-page.html", "404 Not Found", "text/html", b"<html><body><h1>Not Found</h1></body></html>")
        _response(writer, "http://www.debian.org/doc/FAQ/", "301 Moved Permanently", "text/html",
                  b"<html><body>Moved <a href=\"https://www.debian.org/doc/manuals/debian-faq/\">here</a></body></html>",
                  extra=[("Location", SITE)])
    print(f"{OUT}: {len(pages)} pages, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
