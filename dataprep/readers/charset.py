"""Bytes of a web page -> UTF-8 text, with the charset chosen the way browsers choose it.

Order (WHATWG's encoding sniffing, simplified): a byte-order mark, then the charset of the HTTP
`Content-Type` header, then a `<meta charset>` / `http-equiv` declaration in the first 1024
bytes, then, for an undeclared page, UTF-8 if the bytes are valid UTF-8, else detection
(resiliparse's uchardet wrapper). Labels are mapped as browsers map them (`iso-8859-1` and
`ascii` mean windows-1252). Bytes that are not valid in the chosen charset are replaced with
U+FFFD and counted, so a page is never dropped for a bad byte and never silently altered.

Most of the web is UTF-8, so a page declared UTF-8 is not decoded here at all: its bytes go
into an Arrow column, which validates a whole batch at once (`utf8_column` for HTML files,
`PageColumn` for WARC records, which copies each page into the batch's buffer as it is read),
and only a page that fails that check is decoded again with replacement. Re-encoding every page through Python
strings cost more than reading the WARC file.
"""

from __future__ import annotations

import codecs
import functools
import re
from typing import NamedTuple

import numpy as np
import pyarrow as pa
from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

#: a `<meta>` tag, and each of its attributes (name, then a quoted or bare value), as WHATWG's
#: prescan reads them: its white space is ASCII's but \v, and a name may start with `=`
META_TAG = re.compile(rb"<meta[\t\n\f\r /]", re.IGNORECASE)
ATTRIBUTE = re.compile(rb"""([^\t\n\f\r />][^\t\n\f\r />=]*)(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"([^"]*)"?|'([^']*)'?|([^\t\n\f\r >]*)))?""")
#: the charset in a `content` attribute's value (WHATWG: "extracting a character encoding from a meta element")
CONTENT_CHARSET = re.compile(rb"""charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;"']+))""", re.IGNORECASE)
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
PRESCAN_BYTES = 1024  # WHATWG: the meta prescan looks at the first 1024 bytes
COUNTING_REPLACE = "dataprep-replace-and-count"


#: what WHATWG's prescan steps over: a comment (ended by the first `>` after two dashes, those of
#: `<!--` included: `<!-->` is one), a `<!DOCTYPE ...>` or `<?...>` (to the first `>`, quotes or
#: not), or a tag or end tag with its attributes (a quoted value may hold `>` or `<!--`)
PRESCAN_TOKEN = re.compile(rb"""<!--(?:>|->|.*?-->|.*\Z)|<[!?][^>]*>?|</?[a-zA-Z][^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>?""",
                           re.DOTALL)


def _meta_charset(body: bytes) -> str | None:
    """The encoding of the first `<meta>` declaring one that a browser knows, in the first
    PRESCAN_BYTES bytes, read tag by tag as WHATWG's prescan reads them: a meta in a comment is
    none (a commented-out meta naming another charset turned a UTF-8 page into mojibake), a `<!--`
    in an attribute's value opens no comment, nor does a meta quoted in a DOCTYPE, a meta cut by
    the 1024th byte is not read (`iso-8859-1` of `iso-8859-15`), a `content` attribute counts only beside
    `http-equiv="content-type"` (`<meta name="description" content="...charset=...">` made a
    UTF-8 page mojibake), and a meta naming an unknown label is passed over for the next."""
    for token in PRESCAN_TOKEN.finditer(body, 0, PRESCAN_BYTES):
        tag = token.group()
        if not META_TAG.match(tag) or not tag.endswith(b">"):  # a tag the first 1024 bytes cut is not read
            continue
        attributes: dict[bytes, bytes] = {}
        for found in ATTRIBUTE.finditer(tag, 5):
            attributes.setdefault(found.group(1).lower(), next((v for v in found.groups()[1:] if v is not None), b""))
        label = attributes.get(b"charset")
        if label is None and attributes.get(b"http-equiv", b"").lower() == b"content-type":
            content = CONTENT_CHARSET.search(attributes.get(b"content", b""))
            label = next((v for v in content.groups() if v is not None), None) if content else None
        if label is not None and (declared := browser_label(label)):
            return declared
    return None


class Page(NamedTuple):
    data: bytes  # the page as UTF-8 (not yet validated when `charset` is utf-8 and replaced is None)
    charset: str  # Python codec name of the page's bytes
    source: str  # "bom", "http", "meta", "valid-utf8" or "detected"
    replaced: int | None  # invalid sequences replaced with U+FFFD; None: left to the column's check (utf8_column, PageColumn)


@functools.lru_cache(maxsize=256)
def browser_label(label: str | bytes | None) -> str | None:
    """A charset label as a browser reads it (WHATWG's table of labels; quotes around it, as in
    `charset="windows-1251"`, dropped), or None for a label not in that table, which a browser
    ignores: `latin_1` or `cp932`, which Python's codecs know, included.

    Cached: a crawl uses a few dozen labels, and the lookups cost more than the rest of a page's
    charset choice."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    label = (label or "").strip().strip("\"'").strip()
    if label.lower() in MISSING_LABELS:
        return MISSING_LABELS[label.lower()]
    return _browser_codec(map_encoding_to_html5(label, fallback_utf8=False)) if label else None


#: WHATWG labels resiliparse's table lacks, with the Python codec of their encoding
MISSING_LABELS = {"x-mac-cyrillic": "mac_cyrillic", "x-mac-ukrainian": "mac_cyrillic"}


#: WHATWG's decoders that are supersets of the Python codec resiliparse names for them: the
#: encodings Windows and browsers use under those labels (a Shift_JIS page's ① or 髙, an EUC-KR
#: page's 똠, a GBK page's €, Big5's HKSCS characters, windows-874's quotes were lost or turned
#: into C1 controls)
BROWSER_CODECS = {"shift_jis": "cp932", "euc_kr": "cp949", "gbk": "gb18030", "big5": "big5hkscs", "iso8859-11": "cp874"}
#: 7-bit encodings whose bytes are ASCII but whose text is not: escape sequences switch sets
ESCAPED = ("iso2022",)


def _browser_codec(name: str | None) -> str | None:
    return BROWSER_CODECS.get(name, name) if name else None


def to_utf8(body: bytes, http_charset: str | None = None) -> Page:
    """The page's bytes as UTF-8, with the charset they were read in and where it came from."""
    for bom, name in BOMS:
        if body.startswith(bom):
            return _recode(body[len(bom):], name, "bom")
    declared = browser_label(http_charset)
    source = "http"
    if not declared:
        declared, source = _meta_charset(body), "meta"
        if declared in ("utf-16-le", "utf-16-be"):  # WHATWG: a meta tag read as ASCII cannot be right about UTF-16
            declared = "utf-8"
    if declared == "utf-8" or (declared and body.isascii() and _ascii_compatible(declared)):
        return Page(body, "utf-8", source, None)
    if (not declared or _ascii_compatible(declared)) and _valid_utf8(body) \
            and (declared not in THREE_BYTE_SCRIPTS or WIDE_UTF8.search(body)):
        # a declaration the bytes contradict (a stale meta gb2312 or a server's iso-8859-1 on a
        # UTF-8 page: text in a legacy charset is hardly ever valid UTF-8), as trafilatura reads it
        return Page(body, "utf-8", "valid-utf8", 0)
    if declared:
        return _recode(body, declared, source)
    detected = _browser_codec(detect_encoding(body))
    if detected in (None, "utf-8") and not _damaged_utf8(body):
        # uchardet answers UTF-8 for text it cannot place: a cp1252 page's ’ or ï came out as
        # U+FFFD; bytes with no UTF-8 sequence in them are a legacy charset, and a browser's
        # fallback for those is windows-1252
        detected = "cp1252"
    return _recode(body, detected, "detected")


#: charsets of scripts whose every letter takes three bytes in UTF-8: a page declared in one is
#: read as UTF-8 only if it holds such a sequence. A few GB2312 words are valid 2-byte UTF-8
#: (目录 -> Ŀ¼, 谢谢 -> лл: 1.5% of jieba's words, 8% by frequency), and nearly ASCII pages of
#: them were misread; a real UTF-8 page of these scripts always has a lead byte E0-F4
THREE_BYTE_SCRIPTS = frozenset({"gb18030", "big5hkscs", "cp949", "euc_jp", "cp932", "cp874"})
WIDE_UTF8 = re.compile(rb"[\xe0-\xf4]")


#: a well-formed UTF-8 sequence of two to four bytes
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _damaged_utf8(body: bytes) -> bool:
    """Bytes that are not valid UTF-8 but mostly UTF-8 all the same: at least as many well-formed
    multi-byte sequences as stray bytes (a page cut inside its last character, a stray byte in a
    Cyrillic page), read as UTF-8 with the strays replaced, not as windows-1252 whole."""
    sequences = UTF8_SEQUENCE.findall(body)
    stray = int(np.count_nonzero(np.frombuffer(body, np.uint8) >= 0x80)) - sum(map(len, sequences))
    return len(sequences) >= max(stray, 1)


def _valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ascii_compatible(charset: str) -> bool:
    name = codecs.lookup(charset).name
    return name not in ("utf-16-le", "utf-16-be", "utf-16", "utf-32") and not name.startswith(ESCAPED)


def _recode(body: bytes, charset: str, source: str) -> Page:
    text, replaced = decode_counting(body, charset)
    return Page(text.encode("utf-8"), charset, source, replaced)


#: WHATWG's windows-1252 (also what `iso-8859-1` and `ascii` mean): Python's cp1252 leaves 0x81,
#: 0x8D, 0x8F, 0x90 and 0x9D undefined, browsers read them as U+0081 ... (a UTF-8 page served as
#: iso-8859-1 lost ", Á, Í, Ï, Ð and Ý to U+FFFD, which normalize's mojibake repair then could not undo)
WINDOWS_1252 = "".join(bytes([byte]).decode("cp1252", "ignore") or chr(byte) for byte in range(256))


def decode_counting(data: bytes, charset: str) -> tuple[str, int]:
    """Decode; invalid sequences become U+FFFD, and how many there were is returned."""
    if codecs.lookup(charset).name == "cp1252":
        return codecs.charmap_decode(data, "strict", WINDOWS_1252)[0], 0
    try:
        return str(data, charset), 0
    except UnicodeDecodeError:
        before = _replaced[0]
        text = str(data, charset, errors=COUNTING_REPLACE)
        return text, _replaced[0] - before


class PageColumn:
    """Pages' UTF-8 bytes copied, as they are read, into one growing buffer of Arrow's memory
    pool, then validated by Arrow in one pass and wrapped as a large_string column without
    another copy.

    Why: a page is copied while it is still in the CPU cache from the read, and its `bytes` is
    let go at once, where before every page of a batch was held and copied at the end (one numpy
    view per page): the WARC reader's own work over FastWARC's went from 222 M to 169 M
    instructions on a 14 MB WARC of the article pages (callgrind, one pass after a warm one).
    `capacity` is a first guess of the batch's bytes (the reader passes the last batch's size);
    the buffer doubles past it and is cut to size at the end.
    """

    def __init__(self, capacity: int = 1 << 20):
        self._buffer = pa.allocate_buffer(max(capacity, 1 << 16), resizable=True)
        self._view = memoryview(self._buffer).cast("B")
        self._ends = [0]
        self._pages: list[tuple[str, str, int | None] | None] = []  # (charset, source, replaced): a Page but its data

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def nbytes(self) -> int:
        return self._ends[-1]

    def drop_last(self) -> None:
        """Forget the last page appended (its bytes are overwritten by the next)."""
        self._ends.pop()
        self._pages.pop()

    def append(self, page: Page | None) -> None:
        end = self._ends[-1]
        if page is not None:
            data = page.data
            if end + len(data) > len(self._view):
                self._view.release()
                self._buffer.resize(max(2 * self._buffer.size, end + len(data)))
                self._view = memoryview(self._buffer).cast("B")
            self._view[end:end + len(data)] = data
            end += len(data)
            page = page[1:]
        self._ends.append(end)
        self._pages.append(page)

    @property
    def charsets(self) -> list[str | None]:
        return [p and p[0] for p in self._pages]

    @property
    def sources(self) -> list[str | None]:
        return [p and p[1] for p in self._pages]

    def finish(self) -> tuple[pa.Array, list[int | None]]:
        """The column (a missing page is an empty string) and each page's replacement count
        (None for a missing page). Pages declared UTF-8 whose bytes are not are decoded again
        here, with replacement, and counted."""
        self._view.release()
        self._buffer.resize(self._ends[-1], shrink_to_fit=True)
        offsets = pa.py_buffer(np.array(self._ends, np.int64))
        binary = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(self), [None, offsets, self._buffer])
        # None: a missing page; 0: declared UTF-8, valid if the cast below succeeds
        replaced = [None if p is None else p[2] or 0 for p in self._pages]
        try:
            return binary.cast(pa.large_string()), replaced
        except pa.ArrowInvalid:
            pass
        again = PageColumn(self._ends[-1])
        for i, (value, page) in enumerate(zip(binary.to_pylist(), self._pages)):
            if page is not None and page[2] is None:
                text, replaced[i] = decode_counting(value, "utf-8")
                value = text.encode("utf-8")
            again.append(None if page is None else Page(value, page[0], page[1], replaced[i]))
        return again.finish()[0], replaced


def utf8_column(pages: list[Page | None]) -> tuple[pa.Array, list[int | None]]:
    """A large_string column of the pages (None -> empty), validated in one pass by Arrow, and
    each page's replacement count (see PageColumn)."""
    column = PageColumn(sum(len(p.data) for p in pages if p is not None))
    for page in pages:
        column.append(page)
    return column.finish()


def _replace_and_count(exc: UnicodeError) -> tuple[str, int]:
    """errors="replace", counting each replaced sequence (a decode runs on one thread); in EUC-JP,
    first the characters of WHATWG's index that Python's euc_jp lacks."""
    end = exc.end
    if isinstance(exc, UnicodeDecodeError) and exc.encoding == "euc_jp":
        found, end = _euc_jp(exc.object, exc.start, exc.end)
        if found is not None:
            return found, end
    _replaced[0] += 1
    return "\ufffd", end


def _euc_jp(data: bytes, at: int, end: int) -> tuple[str | None, int]:
    """What WHATWG's EUC-JP decoder reads at a sequence Python's euc_jp refuses, and where it
    goes on: a two-byte character of index-jis0208 that Python lacks (NEC's row 13: ①, ㈱, Ⅰ;
    the NEC-selected IBM kanji), read through cp932, whose table is the same index, at the
    Shift_JIS bytes of the same row and cell (an EUC-JP page lost them to U+FFFD, and the bytes
    after them were misread); a pair (a lead and any non-ASCII byte), or a 0x8F triple (JIS X
    0212), with no character is one error, not one per byte. A lead byte before an ASCII byte is
    an error alone (Python's end)."""
    def in_range(offset: int) -> bool:
        return at + offset < len(data) and 0xA1 <= data[at + offset] <= 0xFE

    if data[at] == 0x8F and in_range(1) and in_range(2):
        return None, at + 3
    if not (in_range(0) and in_range(1)):
        lead = in_range(0) or data[at] == 0x8E
        return None, at + 2 if lead and at + 1 < len(data) and data[at + 1] >= 0x80 else end
    row, cell = data[at] - 0xA0, data[at + 1] - 0xA0
    lead = ((row - 1) >> 1) + (0x81 if row <= 62 else 0xC1)
    trail = cell + 0x9E if row % 2 == 0 else cell + (0x3F if cell <= 63 else 0x40)
    try:
        return bytes([lead, trail]).decode("cp932"), at + 2
    except UnicodeDecodeError:
        return None, at + 2


_replaced = [0]
codecs.register_error(COUNTING_REPLACE, _replace_and_count)
