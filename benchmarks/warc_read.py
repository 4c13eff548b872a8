"""WARC reading speed: dataprep's reader against FastWARC and warcio on the same file, one core.

    python benchmarks/warc_read.py [--warc FILE.warc.gz] [--pages 3000]

Without --warc, a WARC is written to a temporary folder from the real article pages of
../shared/data/extraction (request, response and metadata records per page, each its own gzip
member, as in Common Crawl), and deleted afterwards. Rates are MB of *gzipped* WARC per
CPU-second of this process (time.process_time), so a busy machine slows them less than wall
time would; the load average is printed with them.

Rows:
- fastwarc: FastWARC's iterator, every payload read (the floor: inflate + parse, no documents);
- warcio: warcio's iterator, every payload read;
- dataprep ids: our reader as the duplicate-id pass runs it (records and ids, no page decoding);
- dataprep documents: our reader as a run's first segment uses it (pages decoded by the
  browser's charset rules into an Arrow batch, other records set aside with a reason).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("DATAPREP_SHARED_DATA", REPO.parent / "shared" / "data"))


def build(path: Path, pages: int) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    bodies = [gzip.open(p).read() for p in sorted((SHARED / "extraction" / "html").glob("*.html.gz"))]
    if not bodies:
        raise SystemExit(f"no pages under {SHARED / 'extraction'}; give --warc")
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for i in range(pages):
            url = f"https://example.org/page/{i}"
            writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n")))
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(bodies[i % len(bodies)]), http_headers=http))
            writer.write_record(writer.create_warc_record(url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 100\r\n"),
                                                          warc_content_type="application/warc-fields"))


def rate(path: Path, read) -> tuple[float, int]:
    started = time.process_time()
    records = read(path)
    return path.stat().st_size / 1e6 / (time.process_time() - started), records


def fastwarc(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator

    n = 0
    with open(path, "rb") as handle:
        for record in ArchiveIterator(handle, parse_http=True, auto_decode="all"):
            record.reader.read()
            n += 1
    return n


def warcio(path: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    with open(path, "rb") as handle:
        for record in ArchiveIterator(handle):
            record.content_stream().read()
            n += 1
    return n


def ours(ids_only: bool):
    def read(path: Path) -> int:
        from dataprep.readers.warc import read_records

        return sum(t.num_rows for t, _, _ in read_records(str(path), 0, path.stat().st_size, False, 512, True, ids_only))
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warc", type=Path)
    parser.add_argument("--pages", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.warc or Path(scratch) / "bench.warc.gz"
        if not args.warc:
            build(path, args.pages)
        size = path.stat().st_size
        print(f"{path.name}: {size / 1e6:.0f} MB gzipped; load average {os.getloadavg()[0]:.2f} (2 cores)")
        print(f"{'reader':22s} {'records':>8s} {'MB/s gz per core':>17s}")
        for name, read in (("fastwarc", fastwarc), ("warcio", warcio), ("dataprep ids", ours(True)), ("dataprep documents", ours(False))):
            best, records = max(rate(path, read) for _ in range(2))
            print(f"{name:22s} {records:8,d} {best:17.0f}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
