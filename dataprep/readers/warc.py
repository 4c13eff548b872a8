"""WARC and WET files -> documents, streamed with FastWARC, resumable at any gzip member.

A part of a WARC file is a byte range of the compressed file, not a whole file: Common Crawl
writes every record as its own gzip member, so a reader can start at any member boundary. A part
starts at the first member whose start lies in its range (found by scanning for the gzip magic
and checking that the member inflates to a WARC header) and reads every record that *starts*
in its range, so the parts of a file together read each record exactly once and a 1 GB file is
thirty-odd tasks, not one. A file gzipped as one stream, or not compressed, is one part
(`splittable`); a record FastWARC places past its part's range is left to the next part only
if it truly starts the member there (`_Boundaries`).

Every record is accounted for. Response records with status 200 and an HTML body (WET:
conversion records) become documents; every other record is returned with a reason for the
removed-documents ledger (`read.not_html`, `read.http_status`, `read.not_text`). A record that
cannot be parsed (a truncated or corrupt gzip member, a broken header or Content-Length, a body
shorter than its Content-Length, or longer: holding the next record's header or followed by
the rest of its block) is quarantined with the file and its byte offset, and reading goes on
from the next good member; where FastWARC stops before the end of the file without an error,
reading goes on from the next record too.
"""

from __future__ import annotations

import codecs
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import brotli
import pyarrow as pa
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from dataprep import storage
from dataprep.readers.charset import Page, PageColumn, to_utf8
from dataprep.readers.html import HTML_START

WARC_SUFFIXES = (".warc", ".warc.gz")
WET_SUFFIXES = (".wet", ".wet.gz")  # Common Crawl's "*.warc.wet.gz" end in ".wet.gz"
GZIP_MAGIC = b"\x1f\x8b\x08"
HTML_TYPES = ("text/html", "application/xhtml+xml")
SCAN_CHUNK = 1 << 20
HEADER_PROBE = 1 << 14  # bytes read (and inflated) to see the WARC header at an offset
RECORD_ID = re.compile(rb"(?im)^WARC-Record-ID:[ \t]*(\S+)")
CONTENT_LENGTH = re.compile(rb"(?im)^Content-Length:[ \t]*(\d+)")
GAP_PROBE = 1 << 26  # bytes of damage looked at for the records it holds
SPLIT_PROBE = 1 << 20  # bytes of a gzipped file read to see whether its first member is one record

#: columns of a document read from WARC (text is the decoded HTML) or WET (text is the page text)
WARC_COLUMNS = {
    "id": pa.string(), "text": pa.large_string(), "url": pa.string(), "crawl_date": pa.string(),
    "warc_type": pa.string(), "content_type": pa.string(), "http_status": pa.int32(),
    "charset": pa.string(), "charset_source": pa.string(), "charset_replaced": pa.int32(),
    "warc_truncated": pa.string(), "warc_file": pa.string(), "warc_offset": pa.int64(), "_read_reason": pa.string(),
}
RECORD_COLUMNS = [name for name in WARC_COLUMNS if name not in ("text", "charset", "charset_source", "charset_replaced")]


def is_gzip(path: str) -> bool:
    with storage.open_input(path) as handle:
        return handle.read(3) == GZIP_MAGIC


def splittable(path: str) -> bool:
    """Whether a file can be read in byte ranges: gzipped with a member per record, as its first
    member shows (it ends where its record does). A file gzipped as one stream, or not
    compressed, is one part: its records' offsets say nothing of where a range could start."""
    with storage.open_input(path) as handle:
        head = handle.read(SPLIT_PROBE)
    if not head.startswith(GZIP_MAGIC):
        return False
    inflater = zlib.decompressobj(31)
    try:
        first = inflater.decompress(head)
    except zlib.error:
        return True  # a damaged first member: the reader quarantines it, and a range may start after it
    header_end = first.find(b"\r\n\r\n")
    length = CONTENT_LENGTH.search(first, 0, max(header_end, 0))
    if header_end < 0 or length is None:
        return True  # a header longer than the probe, or broken: the reader judges it
    return len(first) <= header_end + 4 + int(length.group(1)) + 4  # nothing of a second record in the member


def record_start(handle: BinaryIO, position: int, end: int, compressed: bool) -> int | None:
    """The first record boundary at or after `position` (and before `end`).

    Compressed: a gzip member that inflates to a WARC header line (the magic bytes alone may
    occur inside compressed data). Uncompressed: a line that starts with a WARC version.
    """
    marker = GZIP_MAGIC if compressed else b"WARC/1."
    while position < end:
        handle.seek(position)
        chunk = handle.read(min(SCAN_CHUNK, end - position) + 4096)
        found = chunk.find(marker)
        while 0 <= found and position + found < end:
            if _is_record_start(chunk, found, position, compressed):
                return position + found
            found = chunk.find(marker, found + 1)
        if len(chunk) <= 4096:
            return None
        position += len(chunk) - 4096
    return None


def _is_record_start(chunk: bytes, found: int, position: int, compressed: bool) -> bool:
    if not compressed:  # not only after a newline: damage can end without one, right before a good record
        return chunk[found + 7:found + 10] in (b"0\r\n", b"1\r\n")
    try:
        return zlib.decompressobj(31).decompress(chunk[found:found + 4096], 16).startswith(b"WARC/")
    except zlib.error:
        return False


@dataclass
class Batch:
    """Records read from a part, one tuple per record (RECORD_COLUMNS' order), until a batch is full.

    Rows are tuples turned into columns once per batch: per-record dict and list work was a
    fifth of the reader's time on top of FastWARC's. Pages go straight into a PageColumn."""

    capacity: int = 1 << 20  # a first guess of the batch's page bytes (the last batch's, and a quarter)
    rows: list[tuple] = field(default_factory=list)
    pages: PageColumn = field(init=False)

    def __post_init__(self) -> None:
        self.pages = PageColumn(self.capacity)

    def __len__(self) -> int:
        return len(self.rows)

    def drop_last(self) -> None:
        self.rows.pop()
        self.pages.drop_last()

    def table(self) -> pa.Table:
        text, replaced = self.pages.finish()
        columns = {name: pa.array(values, WARC_COLUMNS[name]) for name, values in zip(RECORD_COLUMNS, zip(*self.rows))}
        columns["charset"] = pa.array(self.pages.charsets, pa.string())
        columns["charset_source"] = pa.array(self.pages.sources, pa.string())
        columns["charset_replaced"] = pa.array(replaced, pa.int32())
        return pa.table({"id": columns.pop("id"), "text": text, **columns}).select(list(WARC_COLUMNS))


#: what a byte range could not read: (offset, error, records lost, the broken record's WARC-Record-ID if its header was read)
Damage = tuple[int, str, int, str | None]


def read_records(path: str, start: int, end: int, wet: bool, batch_rows: int, compressed: bool,
                 ids_only: bool = False) -> Iterator[tuple[pa.Table | None, list[int], list[Damage]]]:
    """Yield (records as a table, their byte offsets, [(offset, error, records lost, WARC-Record-ID
    of the broken record when its header was read)]) for a byte range.

    Records that start in [start, end) are read. Errors are returned, never raised: the caller
    quarantines them, and reading resumes at the next record boundary after the broken one.
    """
    batch, offsets, errors = Batch(), [], []
    after: tuple[int, Exception, int] | None = None  # a read error after this record (and the records it cost), not yet placed
    boundaries = _Boundaries(path, compressed)
    with storage.open_input(path) as handle:
        position = start if start == 0 else record_start(handle, start, end, compressed)
        while position is not None:
            handle.seek(position)
            good = current = None
            try:
                for record in ArchiveIterator(handle, parse_http=not wet, auto_decode="none"):  # payloads decoded here (_decoded_payload)
                    current = record.stream_pos
                    if current >= end and boundaries.starts(current, record):
                        break
                    # yielded only once the next record reads: damage right after a record can
                    # still take it back (a Content-Length too short, below)
                    if len(batch.rows) >= batch_rows:
                        capacity = batch.pages.nbytes * 5 // 4  # headroom: growing past it copies the buffer
                        yield batch.table(), offsets, errors
                        batch, offsets, errors = Batch(capacity), [], []
                    _convert(record, path, current, wet, ids_only, batch, compressed)
                    offsets.append(current)
                    good = current
                    if after is not None:  # the damage lay between two good records
                        errors.append(_gap(*after))
                        after = None
                else:  # FastWARC ended: at the end of the file, or quietly before it
                    resume = None if good is None else record_start(handle, good + 1, end, compressed)
                    if resume is not None:  # it stopped before a record it could have read (FastWARC 2.0 does after a chunked, gzipped payload)
                        errors.append((good, f"reading stopped after the WARC record at byte {good}; went on at the next record, byte {resume}", 0, None))
                        position = resume
                        continue
                    if compressed:  # FastWARC stops quietly at a cut-off last member
                        errors.extend(_damaged_tail(handle, position if good is None else good))
                position = None
            except (OSError, _Truncated) as exc:
                if storage.store_failed(exc):
                    raise
                if (current is not None and current != good) or good is None:
                    broken = current if current is not None and current != good else position  # being read, or the first
                    if after is not None and after[2]:  # the records lost before it, which its retry ended
                        errors.append(_gap(*after))
                    after = None
                    # FastWARC refused its header (current None): warcio, more lenient, may read it whole
                    if current is None and not isinstance(exc, _Truncated) and _read_leniently(path, broken, wet, ids_only, batch, compressed):
                        offsets.append(broken)
                    else:
                        known = document_id(record, path, broken) if current is not None and current == record.stream_pos else None
                        errors.append((broken, f"unreadable WARC record at byte {broken}: {exc}", 1, known))
                    position = record_start(handle, broken + 1, end, compressed)
                else:  # failed while reading past `good`: retry at the next boundary, which may be the broken one
                    position = record_start(handle, good + 1, end, compressed)
                    # the damage is this part's up to the next readable record, in its range or past it
                    following = position if position is not None else record_start(handle, good + 1, 1 << 62, compressed)
                    after = (good, exc, _headers_between(handle, good, following, compressed) - 1)
                    overrun = _block_mismatch(path, good, batch.rows[-1][0], compressed) if offsets and offsets[-1] == good else None
                    if overrun is not None:  # the bytes after it are its own: it was cut at its Content-Length
                        errors.append((good, f"unreadable WARC record at byte {good}: {overrun}", 1, batch.rows[-1][0]))
                        batch.drop_last()
                        offsets.pop()
                        after = after if after[2] > 0 else None
        if after is not None:
            errors.append(_gap(*after))
    if len(batch) or errors:
        yield (batch.table() if len(batch) else None), offsets, errors


class _Truncated(Exception):
    pass


class _Boundaries:
    """Whether a record is the first of the gzip member at the offset FastWARC gives for it.

    FastWARC gives a record the offset of the gzip member its decompressor is in when the record
    starts. With a member per record (Common Crawl, warcio, wget) that is the record's own; in a
    member that holds several records (a file gzipped as one stream) the records after the first
    get a later member's offset, or the file's size. A part stops at the first record past its
    range only when it is that member's first record (its WARC-Record-ID is the one written
    there), so no record is left to a part that will not read it. Checked once per part, and
    once per offset."""

    def __init__(self, path: str, compressed: bool):
        self.path, self.compressed, self._ids = path, compressed, {}

    def starts(self, offset: int, record: WarcRecord) -> bool:
        if offset not in self._ids:
            self._ids[offset] = self._first_id(offset)
        return self._ids[offset] == _bare_id(record.record_id)

    def _first_id(self, offset: int) -> str | None:
        with storage.open_input(self.path) as probe:
            try:
                header, _, _ = _probe_header(probe, offset, self.compressed)
            except zlib.error:
                return None
        found = RECORD_ID.search(header) if header.startswith(b"WARC/") else None
        return _bare_id(found.group(1).decode("latin-1")) if found else None


def _probe_header(handle: BinaryIO, offset: int, compressed: bool) -> tuple[bytes, bytes, Any]:
    """(the WARC header at `offset`, up to its blank line; the HEADER_PROBE bytes read there,
    inflated when compressed; the inflater to read on with, or None). Raises zlib.error."""
    handle.seek(offset)
    data = handle.read(HEADER_PROBE)
    inflater = zlib.decompressobj(31) if compressed else None
    if inflater is not None:
        data = inflater.decompress(data, HEADER_PROBE)
    return data.partition(b"\r\n\r\n")[0], data, inflater


def _block_mismatch(path: str, offset: int, record_id: str, compressed: bool) -> str | None:
    """How the record at `offset` breaks its Content-Length, or None if its block ends where the
    format says: at Content-Length bytes, then CRLF CRLF (the record's own gzip member ending
    there, when each record has one).

    Looked at only when a record looks broken: damage right after it (a Content-Length too short
    reads as a whole record, and the rest of its block makes the next read fail), or the next
    record's header inside its block (too long; or a page that quotes a WARC file: then the block
    ends as it should, and the record is kept)."""
    with storage.open_input(path) as handle:
        try:
            header, data, inflater = _probe_header(handle, offset, compressed)
            identity, length = RECORD_ID.search(header), CONTENT_LENGTH.search(header)
            if len(header) == len(data) or not (identity and length) or _bare_id(identity.group(1).decode("latin-1")) != _bare_id(record_id):
                return None  # not the record's own start (a gzip stream of several records): nothing to check
            declared = int(length.group(1))
            block_end = len(header) + 4 + declared
            if inflater is None:
                handle.seek(offset + block_end)
                tail = handle.read(4)
            else:
                while len(data) < block_end + 4 and not inflater.eof:  # inflate up to the block's end
                    more = inflater.unconsumed_tail or handle.read(SCAN_CHUNK)
                    if not more:
                        break
                    data += inflater.decompress(more, block_end + 4 - len(data))
                if inflater.eof and len(data) < block_end + 4:
                    return f"its Content-Length ({declared:,} bytes) runs past the end of its gzip member"
                tail = data[block_end:block_end + 4]
        except zlib.error:
            return None
    if tail in (b"\r\n\r\n", b""):
        return None
    return f"its block does not end at its Content-Length ({declared:,} bytes)"


def document_id(record: WarcRecord, path: str, offset: int) -> str:
    """A record's document id: its WARC-Record-ID without the angle brackets (its file and offset
    when it has none); a quarantined record whose header was read carries it too."""
    return (record.record_id or f"{path}@{offset}").strip("<>")


def _bare_id(record_id: str | None) -> str | None:
    return record_id.strip().strip("<>") if record_id else None


def _gap(good: int, exc: Exception, lost: int) -> Damage:
    """Damaged bytes between the record at `good` and the next good one, with the records whose
    headers lie in them (lost: a header too broken to read, or a record cut before the next)."""
    held = f", holding {lost} unreadable record(s)" if lost else ""
    return good, f"unreadable bytes after the WARC record at byte {good}{held}: {exc}", lost, None


def _headers_between(handle: BinaryIO, start: int, stop: int | None, compressed: bool) -> int:
    """WARC-Type header lines in the file's bytes [start, stop or its end), inflated member by member (up to
    a damaged one) when compressed; GAP_PROBE bytes at most."""
    handle.seek(start)
    data = handle.read(GAP_PROBE if stop is None else min(stop - start, GAP_PROBE))
    if compressed:
        members = []
        while data:
            inflater = zlib.decompressobj(31)
            try:
                members.append(inflater.decompress(data, GAP_PROBE))
            except zlib.error:
                break
            if not inflater.eof:
                break
            data = inflater.unused_data
        data = b"".join(members)
    return data.count(b"\nWARC-Type:")


def _damaged_tail(handle: BinaryIO, last: int) -> list[Damage]:
    """What follows the last record read, if it is not whole gzip members: a cut-off file
    (one record lost) or trailing bytes that are no member at all (none lost)."""
    handle.seek(last)
    data = handle.read()
    member = 0
    while member < len(data):
        inflater = zlib.decompressobj(31)
        try:
            inflater.decompress(data[member:])
            complete = inflater.eof
        except zlib.error:
            complete = False
        if not complete:
            lost = int(member > 0 and data.startswith(GZIP_MAGIC, member))
            what = "the file ends inside this gzip member" if lost else "bytes that are not a gzip member"
            return [(last + member, f"unreadable WARC record at byte {last + member}: {what}", lost, None)]
        member = len(data) - len(inflater.unused_data)
    return []


def _convert(record: WarcRecord, path: str, offset: int, wet: bool, ids_only: bool, batch: Batch, compressed: bool) -> None:
    """Append one record to the batch: a document, or a record the ledger counts with a reason.

    FastWARC's record properties are used where they exist (`record_id`, `http_content_type`):
    `record_id` takes 0.6 us where a `headers.get` took 5-10 us (measured on the benchmark WARC)."""
    headers = record.headers
    body = _payload(record)
    if len(body) < record.content_length:
        raise _Truncated(f"truncated: {len(body)} of {record.content_length} bytes")
    if record.content_length == 0 and not (headers.get("Content-Length") or "").strip().isdigit():
        raise _Truncated(f"no valid Content-Length: {headers.get('Content-Length')!r}")
    if not wet and record.content_length == 0 and record.record_type == WarcRecordType.response and isinstance(record, WarcRecord) \
            and not len(record.http_headers) and _read_leniently(path, offset, wet, ids_only, batch, compressed, record.record_id):
        # FastWARC took a block whose HTTP header lines end in a bare LF for headers only: no header,
        # no payload. Responses only: a request without headers (`GET / HTTP/1.1` alone) reads the
        # same, and re-reading every such record took the reader from 117 to 61-81 MB/s
        return
    swallowed = body.find(NEXT_RECORD, max(0, len(body) - SWALLOWED_TAIL))
    if swallowed >= 0 and body[swallowed + 7:swallowed + 10] in (b"0\r\n", b"1\r\n") and RECORD_FIELD in body[swallowed:swallowed + 4096] \
            and (mismatch := _block_mismatch(path, offset, record.record_id or "", compressed)):
        raise _Truncated(f"its block holds the next WARC record's header at byte {swallowed} of {len(body)}: {mismatch}")
    record_id = document_id(record, path, offset)
    kind = record.record_type
    # wget 1.19 wrote the target URI in angle brackets (warcio drops them too)
    url, date = (headers.get("WARC-Target-URI") or "").strip().strip("<>") or None, headers.get("WARC-Date")
    truncated = headers.get("WARC-Truncated")  # the crawler cut the payload (Common Crawl at 1 MiB): a prefix, kept
    if wet:
        reason = None if kind == WarcRecordType.conversion else "read.not_text"
        page = None if reason or ids_only else Page(body, "utf-8", "wet", None)  # WET text is UTF-8
        batch.pages.append(page)
        batch.rows.append((record_id, url, date, str(kind), headers.get("Content-Type"), None, truncated, path, offset, reason))
        return
    http = record.is_http
    status = record.http_headers.status_code if http else None
    # FastWARC's parse (0.6 us, where headers.get takes 5-10) unless values are merged: it cuts the
    # type at `;`, so a comma after parameters shows in the charset (`windows-1252, text/html`)
    if http and "," not in (record.http_content_type or "") and "," not in (record.http_charset or ""):
        content_type, charset = (record.http_content_type or "").strip().lower(), record.http_charset
    else:  # a resource record's own header, or merged values
        content_type, charset = _mime((record.http_headers if http else headers).get("Content-Type") or "")
    if kind not in (WarcRecordType.response, WarcRecordType.resource):
        reason = "read.not_html"
    elif http and status != 200:  # a status line without a valid code (`HTTP/1.1 OK`) is no 200 either
        reason = "read.http_status"
    elif content_type not in HTML_TYPES and content_type:
        reason = "read.not_html"
    else:
        reason = None
    if reason is None and http and (not ids_only or not content_type):  # (an untyped body is sniffed decoded, in both modes)
        transfer = record.http_headers.get("Transfer-Encoding")
        short = _shorter_than_declared(body, transfer, record.http_headers.get("Content-Length"))
        body, whole = _decoded_payload(body, transfer, record.http_headers.get("Content-Encoding"))
        truncated = truncated or (CUT if short or not whole else None)
    if reason is None and not content_type and not HTML_START.match(body.removeprefix(codecs.BOM_UTF8)):
        reason = "read.not_html"  # no Content-Type at all: a browser sniffs the body, and so do we
    batch.pages.append(None if reason or ids_only else to_utf8(body, charset))
    batch.rows.append((record_id, url, date, str(kind), content_type or None, status, truncated, path, offset, reason))


def _read_leniently(path: str, offset: int, wet: bool, ids_only: bool, batch: Batch, compressed: bool,
                    record_id: str | None = None) -> bool:
    """Read the record at `offset` with warcio and append it to the batch, as `_convert` does;
    False if warcio cannot read it either, its block does not end where its Content-Length says
    (damage, not leniency), or it is not the record `record_id` (`offset` is a gzip member's, and
    the record is not its first). For records FastWARC refuses or misreads that a browser would
    read: HTTP headers whose lines end in a bare LF ("Maximum header length exceeded", or, for a
    short block, all of it taken for headers)."""
    from warcio.archiveiterator import ArchiveIterator as WarcioIterator

    try:
        with storage.open_input(path) as handle:
            handle.seek(offset)
            record = next(iter(WarcioIterator(handle, no_record_parse=wet)))
            lenient = _WarcioRecord(record, record.raw_stream.read())
        declared = record.rec_headers.get_header("Content-Length") or ""
        if record_id is not None and _bare_id(lenient.record_id) != _bare_id(record_id):
            return False
        if not declared.strip().isdigit() or _block_mismatch(path, offset, lenient.record_id or "", compressed):
            return False
        _convert(lenient, path, offset, wet, ids_only, batch, compressed)
        return True
    except Exception:  # noqa: BLE001 (any error of a damaged record: the caller quarantines it)
        return False


class _WarcioRecord:
    """A record warcio read, seen through the FastWARC record attributes `_convert` reads."""

    def __init__(self, record: Any, payload: bytes):
        warc = record.rec_headers
        self.headers = _Headers(warc.get_header)
        self.record_id = warc.get_header("WARC-Record-ID")
        self.record_type = getattr(WarcRecordType, record.rec_type, WarcRecordType.unknown)
        self.content_length = len(payload)
        self.reader = io.BytesIO(payload)
        http = record.http_headers if record.rec_type in ("response", "request") else None
        self.is_http = http is not None
        self.http_headers = _HttpHeaders(http) if http is not None else None
        self.http_content_type, self.http_charset = _mime(http.get_header("Content-Type") or "") if http is not None else ("", None)


@dataclass
class _Headers:
    get: Any  # name -> value or None


class _HttpHeaders:
    def __init__(self, headers: Any):
        self.get = headers.get_header
        status = (headers.get_statuscode() or "").strip()
        self.status_code = int(status) if status.isdigit() else None


#: a WARC header inside a record's block: the record claimed more bytes than it has (or was cut
#: short, and the next record follows). Looked for in the block's last SWALLOWED_TAIL bytes: the
#: whole block cost a sixth of the reader's time (5 GB/s); a header further back is not lost
#: either: the read after the block fails, and the resync finds it
NEXT_RECORD = b"WARC/1."
SWALLOWED_TAIL = 1 << 14
RECORD_FIELD = b"\r\nWARC-Type:"


#: a charset parameter of a Content-Type value
CHARSET = re.compile(r"""(?i);\s*charset\s*=\s*["']?([^"';,\s]+)""")


def _mime(value: str) -> tuple[str, str | None]:
    """A Content-Type value's MIME type and charset as Fetch extracts them: of values merged with
    commas (`text/html,text/html; charset=UTF-8`), the last valid one, with the charset of the
    last value of that type that names one."""
    essence, charset = "", None
    for item in value.split(","):
        kind = item.split(";")[0].strip().lower()
        if "/" not in kind or kind == "*/*":
            continue
        if kind != essence:
            essence, charset = kind, None
        found = CHARSET.search(item)
        charset = found.group(1) if found else charset
    return essence, charset


#: an HTTP Content-Length (ASCII digits: a header byte read as latin-1 may be another digit, `4²`)
DECIMAL = re.compile(r"\s*[0-9]+\s*")
#: `warc_truncated` of a payload cut with no WARC-Truncated header: it ends inside its coding or
#: short of its HTTP Content-Length (wget stores a transfer whose connection dropped as it came)
CUT = "cut"


def _decoded_payload(raw: bytes, transfer: str | None, content: str | None) -> tuple[bytes, bool]:
    """The payload as a browser reads it, and whether every coding's stream ended: chunked
    transfer coding, then each content coding (gzip and its alias x-gzip, deflate with or
    without the zlib wrapper, br) undone, the last applied first. A coding a browser does not know
    (`utf-8`, `none`: servers' mistakes) and a payload not in the coding it names at all (plain
    HTML labelled gzip) are read as they are. A payload that ends inside its coding (the crawler
    cut it, or its connection dropped) is kept as far as it decodes, as a browser shows what it
    received; a damaged one (a deflate error, a line that is no chunk size) is quarantined. Decoded here, not by FastWARC: its decoders refused those mistakes (quarantining
    real pages) and raised on a cut payload."""
    if not raw:  # nothing sent: nothing to decode (a dropped connection shows in its Content-Length)
        return raw, True
    chunked = ["chunked"] if "chunked" in (transfer or "").lower() else []  # the outer coding: undone first
    whole = True
    for coding in chunked + [c.strip().lower() for c in reversed((content or "").split(",")) if c.strip()]:
        undone = _undone(raw, coding)
        if undone is None:
            continue
        raw, complete = undone
        whole = whole and complete
    return raw, whole


def _shorter_than_declared(raw: bytes, transfer: str | None, length: str | None) -> bool:
    """Whether a payload not sent chunked holds fewer bytes than its HTTP Content-Length says."""
    if "chunked" in (transfer or "").lower() or not DECIMAL.fullmatch(length or ""):
        return False
    return len(raw) < int(length)


def _undone(data: bytes, coding: str) -> tuple[bytes, bool] | None:
    """(data with one coding undone, whether its coded stream ended), or None when the data is not
    in that coding from its first byte (or the coding is unknown): then it is taken as it is."""
    if coding == "chunked":
        return _unchunked(data)
    if coding == "br":
        inflater = brotli.Decompressor()
        try:
            return inflater.process(data), inflater.is_finished()
        except brotli.error:
            return None
    if coding not in ("gzip", "x-gzip", "deflate"):
        return None
    zlib_wrapped = len(data) > 1 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0  # RFC 1950's header check
    if data.startswith(GZIP_MAGIC[:2]):
        wbits = 31
    elif zlib_wrapped:  # deflate as RFC 9110 names it; sent as "gzip" by some servers too
        wbits = 15
    elif coding == "deflate":  # raw deflate, as some servers send it and browsers read it
        wbits = -15
    else:
        return None  # plain bytes labelled gzip
    inflater, out = zlib.decompressobj(wbits), []
    try:
        for start in range(0, len(data), INFLATE_CHUNK):  # by pieces: what inflated before damage is kept
            out.append(inflater.decompress(data[start:start + INFLATE_CHUNK]))
            if inflater.eof:
                break
    except zlib.error as exc:
        if wbits != 31 and not out:
            return None  # not deflate at all (its header check passes by chance): plain bytes labelled so
        raise _Truncated(f"the payload's {coding} coding is damaged after {sum(map(len, out)):,} bytes: {exc}") from None
    return b"".join(out), inflater.eof


INFLATE_CHUNK = 1 << 16
HEX = re.compile(rb"[0-9a-fA-F]+")


def _unchunked(data: bytes) -> tuple[bytes, bool] | None:
    """Chunked transfer coding undone: (the chunks' data, whether the last chunk came), or None
    when the data does not start with a chunk size."""
    chunks, position = [], 0
    while True:
        line_end = data.find(b"\n", position)
        size = data[position:line_end].split(b";")[0].strip() if line_end >= 0 else b""
        if not HEX.fullmatch(size):
            if chunks and line_end >= 0:  # a line where a chunk size should be: damage, not a payload that ended early
                raise _Truncated(f"the payload's chunked coding is damaged after {sum(map(len, chunks)):,} bytes")
            return (b"".join(chunks), False) if chunks else None
        size = int(size, 16)
        if size == 0:
            return b"".join(chunks), True
        start = line_end + 1
        chunks.append(data[start:start + size])
        if start + size > len(data):
            return b"".join(chunks), False
        position = start + size
        position += 2 if data.startswith(b"\r\n", position) else 1 if data.startswith(b"\n", position) else 0


#: the most bytes of a payload asked for by its length (64 MiB: far above any page)
FIRST_READ = 1 << 26


def _payload(record: WarcRecord) -> bytes:
    """The record's payload. Asked for by its length first: FastWARC then fills one buffer of
    that size, where `read()` grew one (zeroing and copying as it went): 60 M fewer instructions
    a pass over a 14 MB WARC of article pages (callgrind), a fifth of the reader's work over
    FastWARC's. A payload over FIRST_READ is read on after."""
    if record.reader is None:
        return b""
    # capped: FastWARC reserves what it is asked for, and a damaged header's length would abort
    # the process (no exception to quarantine it by); a longer payload is read on below
    body = record.reader.read(min(record.content_length, FIRST_READ))
    rest = record.reader.read()
    return body + rest if rest else body


def count_records(path: str, wet: bool) -> int:
    """Records in a file as a read of it finds them, the ones lost to damage included (for
    --limit, which must know how many records each file holds)."""
    return sum(len(offsets) + sum(lost for _, _, lost, _ in errors)
               for _, offsets, errors in read_records(path, 0, storage.size(path), wet, 1 << 16, is_gzip(path), ids_only=True))
