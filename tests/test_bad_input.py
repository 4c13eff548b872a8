"""Bad input is quarantined with a reason and the run goes on; only configuration stops it."""

from __future__ import annotations

import gzip
import json
import os
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SAMPLES, output_ids, read_folder, run_pipeline
from dataprep import pipeline
from dataprep.errors import ConfigError
from dataprep.run import run

STAGES = [{"normalize": {}}, {"length": {"min_words": 5}}]


@pytest.fixture
def folder(tmp_path, sample_docs):
    """An input folder holding one good shard of 60 real documents."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    pq.write_table(sample_docs.slice(0, 60), inputs / "a-good.parquet")
    return inputs


def run_and_check(folder, tmp_path, good_docs: int = 60, **options):
    """Run on the folder with an error budget of 100% (these tests show what is quarantined and
    how: tests/test_error_budget.py shows the budget) and check the invariant."""
    out = tmp_path / "out"
    stats = run_pipeline(STAGES, folder, out, **{"error_budget": 1.0, **options})
    assert stats["invariant_ok"], stats["problems"]
    ids = output_ids(out)
    assert len(ids["kept"]) + len(ids["removed"]) >= good_docs, "the good shard was processed"
    quarantine = read_folder(out / "quarantine")
    return stats, (quarantine.to_pylist() if quarantine is not None else [])


def test_corrupt_parquet_file_is_quarantined_whole(ray_session, folder, tmp_path, sample_docs):
    (folder / "b-garbage.parquet").write_bytes(b"PAR1 this is not parquet at all" * 50)
    good = folder / "a-good.parquet"
    (folder / "c-truncated.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    stats, records = run_and_check(folder, tmp_path)
    assert stats["quarantine"]["files"] == 2
    by_file = {r["source"].rsplit("/", 1)[-1]: r for r in records}
    assert "cannot read Parquet file" in by_file["b-garbage.parquet"]["error"]
    assert "cannot read Parquet file" in by_file["c-truncated.parquet"]["error"]


def test_damaged_row_group_costs_only_its_rows(ray_session, folder, tmp_path, web_docs):
    path = folder / "b-damaged.parquet"
    pq.write_table(web_docs.slice(0, 90), path, row_group_size=30, compression="zstd")
    meta = pq.ParquetFile(path).metadata
    middle = meta.row_group(1).column(1)  # the text column chunk of the second row group
    data = bytearray(path.read_bytes())
    start = middle.data_page_offset + 40
    data[start:start + 400] = b"\xff" * 400
    path.write_bytes(bytes(data))
    stats, records = run_and_check(folder, tmp_path)
    damaged = [r for r in records if r["source"].endswith("b-damaged.parquet")]
    assert len(damaged) == 1 and "row group 1 unreadable" in damaged[0]["error"]
    assert damaged[0]["row"] == 30 and damaged[0]["rows"] == 30
    assert stats["input"]["docs"] == 60 + 90
    ids = output_ids(tmp_path / "out")
    processed = set(ids["kept"] + ids["removed"])
    page_ids = web_docs["id"].to_pylist()
    assert set(page_ids[:30] + page_ids[60:90]) <= processed and not set(page_ids[30:60]) & processed


def test_shard_without_text_column(ray_session, folder, tmp_path, sample_docs):
    pq.write_table(sample_docs.slice(60, 20).rename_columns(["id", "body", "source", "lang_hint", "url"]), folder / "b.parquet")
    stats, records = run_and_check(folder, tmp_path)
    (record,) = records
    assert "no column 'text'" in record["error"] and "body" in record["error"] and record["rows"] == 20
    assert stats["input"]["docs"] == 80 and stats["output"]["quarantined"] == 20


@pytest.mark.parametrize(("limit", "docs", "unreadable"), [(50, 50, 0), (70, 70, 10)])
def test_a_limit_counts_an_unreadable_file_as_far_as_it_reaches(ray_session, folder, tmp_path, sample_docs, limit, docs, unreadable):
    """Under --limit, a shard without the text column counts only the rows the limit reaches
    (it was counted whole even past the limit: `input 51` for `--limit 50`)."""
    pq.write_table(sample_docs.slice(60, 20).rename_columns(["id", "body", "source", "lang_hint", "url"]), folder / "b.parquet")
    stats, records = run_and_check(folder, tmp_path, good_docs=min(limit, 60), limit=limit)
    assert stats["input"]["docs"] == docs and stats["output"]["quarantined"] == unreadable
    assert [r["rows"] for r in records] == ([unreadable] if unreadable else [])


def test_null_and_non_string_text(ray_session, folder, tmp_path, sample_docs):
    texts = sample_docs["text"].to_pylist()[60:70]
    texts[3] = None
    texts[7] = None
    pq.write_table(pa.table({"id": [f"n{i}" for i in range(10)], "text": texts}), folder / "b-nulls.parquet")
    pq.write_table(pa.table({"id": ["i0", "i1"], "text": [3, 4]}), folder / "c-ints.parquet")
    stats, records = run_and_check(folder, tmp_path)
    nulls = sorted((r["id"], r["error"]) for r in records if r["source"].endswith("b-nulls.parquet"))
    assert nulls == [("n3", "text is null"), ("n7", "text is null")]
    (ints,) = [r for r in records if r["source"].endswith("c-ints.parquet")]
    assert "has type int64, expected string" in ints["error"] and ints["rows"] == 2


def test_invalid_utf8_in_binary_and_in_string_columns(ray_session, folder, tmp_path, real_docs):
    texts = [t.encode() for t in real_docs["text"].to_pylist()[:6]]
    texts[1] = texts[1][:50] + b"\xc3\x28 broken" + texts[1][50:]
    texts[4] = b"\xff\xfe" + texts[4]
    pq.write_table(pa.table({"id": [f"b{i}" for i in range(6)], "text": pa.array(texts, pa.binary())}), folder / "b-bin.parquet")
    # a string column whose bytes are not UTF-8: what a careless writer produces
    as_string = pa.array(texts, pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": [f"s{i}" for i in range(6)], "text": as_string}), folder / "c-str.parquet")
    stats, records = run_and_check(folder, tmp_path)
    bad = sorted(r["id"] for r in records)
    assert bad == ["b1", "b4", "s1", "s4"]
    assert all("not valid UTF-8" in r["error"] for r in records)
    kept_or_removed = output_ids(tmp_path / "out")
    assert {"b0", "b2", "s5"} <= set(kept_or_removed["kept"] + kept_or_removed["removed"])


def test_fifty_megabyte_document(ray_session, folder, tmp_path, real_docs):
    page = real_docs["text"][0].as_py()
    giant = (page + "\n") * (50 * 2**20 // (len(page.encode()) + 1) + 1)
    pq.write_table(pa.table({"id": ["giant", "small"], "text": [giant, page]}), folder / "b-giant.parquet")
    stats, records = run_and_check(folder, tmp_path)
    (record,) = records
    assert record["id"] == "giant"
    assert record["error"] == f"text is {len(giant.encode()):,} bytes, above max_doc_bytes ({8 * 2**20:,})"
    assert "small" in output_ids(tmp_path / "out")["kept"]


def test_empty_shards(ray_session, folder, tmp_path, sample_docs):
    pq.write_table(sample_docs.slice(0, 0), folder / "b-empty.parquet")
    (folder / "c-empty.jsonl").write_text("")
    stats, records = run_and_check(folder, tmp_path)
    assert records == [] and stats["input"]["docs"] == 60 and stats["input"]["files"] == 3


@pytest.mark.parametrize("on_driver", [True, False], ids=["driver", "ray-data"])
def test_duplicate_ids_across_shards(ray_session, folder, tmp_path, sample_docs, monkeypatch, on_driver):
    """The same quarantine whether the ids are grouped on the driver (a small Parquet input) or
    by the hash-partitioned pass on Ray Data (any input above run.DRIVER_ID_ROWS)."""
    if not on_driver:
        monkeypatch.setattr("dataprep.run.DRIVER_ID_ROWS", 0)
    copy = sample_docs.slice(50, 20)  # ids of rows 50..59 are in the good shard too
    pq.write_table(copy, folder / "b-dups.parquet")
    from dataprep import resolution

    on_the_driver = []  # the path under test is the one that ran
    written = resolution.write_decisions_table
    monkeypatch.setattr(resolution, "write_decisions_table", lambda *a: on_the_driver.append(1) or written(*a))
    stats, records = run_and_check(folder, tmp_path)
    assert bool(on_the_driver) == on_driver
    assert len(records) == 10 and all("duplicate id" in r["error"] for r in records)
    assert {r["id"] for r in records} == set(sample_docs["id"].to_pylist()[50:60])
    assert all(r["source"].endswith("b-dups.parquet") for r in records), "the first occurrence is kept"
    assert all(f"first seen in {folder / 'a-good.parquet'}, row " in r["error"] for r in records), records[0]["error"]
    if on_driver:  # explain names both records of a repeated id (it showed the quarantined one alone)
        from dataprep.explain import explain

        text = explain(tmp_path / "out", records[0]["id"])
        assert text.splitlines()[1].startswith("quarantined: duplicate id") and "another record with this id" in text
        assert re.search(r"^(kept: it passed every stage|removed by stage length)", text, re.M), text


def test_broken_jsonl_lines(ray_session, folder, tmp_path, web_docs):
    good = [json.dumps({"id": f"j{i}", "text": t}) for i, t in enumerate(web_docs["text"].to_pylist()[:5])]
    lines = [good[0], '{"id": "x1", "text": "unterminated', good[1], "[1, 2]", json.dumps({"id": "x3", "body": "no text"}),
             json.dumps({"id": "x4", "text": 42}), good[2], good[3], good[4]]
    data = "\n".join(lines).encode() + b'\n{"id": "x5", "text": "caf\xe9"}\n'
    # a lone surrogate escape parses as JSON but is no Unicode text (it cost the whole file); a pair is one character
    data += b'{"id": "x6", "text": "lone \\ud800 surrogate"}\n{"id": "j5", "text": "an emoji \\ud83d\\ude00 is fine here"}\n'
    (folder / "b.jsonl").write_bytes(data)
    with gzip.open(folder / "c.jsonl.gz", "wb") as handle:
        handle.write(b"\n".join(line.replace('"id": "j', '"id": "gz').encode() for line in good[:2]))
    stats, records = run_and_check(folder, tmp_path)
    assert all(r["source"].endswith("b.jsonl") for r in records)
    errors = {r["row"]: r["error"] for r in records}
    assert "invalid JSON" in errors[1] and "expected an object" in errors[3] and "no 'text' field" in errors[4]
    assert "is a JSON int" in errors[5] and "not valid UTF-8" in errors[9] and "lone UTF-16 surrogate" in errors[10]
    ids = output_ids(tmp_path / "out")
    assert {"j0", "j1", "j2", "j3", "j4", "gz0", "gz1"} <= set(ids["kept"]) and "j5" in ids["kept"] + ids["removed"]
    assert stats["input"]["docs"] == 60 + 12 + 2


def test_a_jsonl_field_of_mixed_types_keeps_its_strings_as_they_are(tmp_path, web_docs):
    """A metadata field that is a string in one line and a number or an object in another is a
    text column: the strings unchanged (a URL stays a URL the url_filter can read), the rest JSON."""
    from dataprep import documents

    texts = web_docs["text"].to_pylist()[:3]
    urls = ["https://www.debian.org/doc/", 17, {"host": "example.org"}]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps({"id": f"m{i}", "text": t, "url": u}) + "\n" for i, (t, u) in enumerate(zip(texts, urls))))
    parts, refused = documents.plan(documents.discover(str(path), "jsonl"), "text", 2**16, None, "jsonl")
    assert not refused
    (table, _, bad), = documents.read_part(parts[0], "text", 64)
    assert not bad and table.column("url").to_pylist() == ["https://www.debian.org/doc/", "17", '{"host": "example.org"}']


def test_an_unforeseen_jsonl_read_error_counts_the_lines_it_leaves_unread(tmp_path, monkeypatch):
    """A JSONL read that fails where no line check foresaw it quarantines the rest of the file
    with its size (its lines counted then), so the count check sees those documents: with no size
    a lost file passed as "invariant OK"."""
    from dataprep import documents

    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": "some text"}) + "\n" + ("\n" if i % 3 else "") for i in range(10)))
    parts, _ = documents.plan(documents.discover(str(path), "jsonl"), "text", 2**16, None, "jsonl")
    whole = documents._records_table

    def failing(records):
        if any(r["id"] == "d6" for r in records):
            raise RuntimeError("unforeseen")
        return whole(records)

    monkeypatch.setattr(documents, "_records_table", failing)
    batches = list(documents.read_part(parts[0], "text", 4))
    assert sum(t.num_rows for t, _, _ in batches if t is not None) == 4
    (record,) = [q for _, _, bad in batches for q in bad]
    assert record["rows"] == 6 and "unforeseen" in record["error"]


def test_output_folder_of_another_run_stops_up_front(ray_session, folder, tmp_path):
    out = tmp_path / "out"
    run_pipeline(STAGES, folder, out)
    other = pipeline.from_dict({"input": str(folder), "output": str(out), "stages": [{"length": {"min_words": 50}}]})
    with pytest.raises(ConfigError, match="holds a different run .*: other stages or parameters\\)"):
        run(other)
    with pytest.raises(ConfigError, match="holds a different run .*: other limit\\)"):
        run(pipeline.from_dict({"name": "test", "input": str(folder), "output": str(out), "stages": STAGES, "limit": 3}))
    # the same pipeline over an input changed since: it said "a different run", and no more
    changed = sorted(p for p in folder.iterdir() if p.is_file())[0]
    os.utime(changed, ns=(changed.stat().st_mtime_ns, changed.stat().st_mtime_ns + 10**9))
    with pytest.raises(ConfigError, match=f"holds a different run .*: input file {changed} changed, came or went since\\)"):
        run(pipeline.from_dict({"name": "test", "input": str(folder), "output": str(out), "stages": STAGES}))
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no dataprep run"):
        run_pipeline(STAGES, folder, stranger)
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        run_pipeline(STAGES, folder, stranger / "notes.txt")
    stats = run(other, overwrite=True)
    assert stats["invariant_ok"] and stats["stages"][0]["name"] == "length"


def test_duplicate_ids_in_parts_read_by_one_task(ray_session, folder, tmp_path, sample_docs, monkeypatch):
    """On Ray Data the ids are read by as many tasks as the shuffle has partitions (2 here), each
    reading consecutive parts: copies of ids in parts that are not the first of their task's
    range are found all the same, and the first occurrence is kept."""
    monkeypatch.setattr("dataprep.run.DRIVER_ID_ROWS", 0)
    for name, offset, rows in (("b", 60, 10), ("c-dups", 10, 5), ("d", 70, 10), ("e-dups", 20, 5)):
        pq.write_table(sample_docs.slice(offset, rows), folder / f"{name}.parquet")
    stats, records = run_and_check(folder, tmp_path)
    assert {r["id"] for r in records} == set(sample_docs["id"].to_pylist()[10:15] + sample_docs["id"].to_pylist()[20:25])
    assert {r["source"].rsplit("/", 1)[-1] for r in records} == {"c-dups.parquet", "e-dups.parquet"}
    assert all(f"first seen in {folder / 'a-good.parquet'}, row " in r["error"] for r in records)


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_an_input_column_named_as_a_ledger_column_stops_up_front(ray_session, tmp_path, sample_docs, suffix):
    """An input column `stage`, `reason` or `details` would meet the ledger's own in removed/ (the
    run failed with an internal error on every rerun once a document was removed): one line."""
    inputs = tmp_path / f"in.{suffix}"
    rows = sample_docs.slice(0, 20).select(["id", "text"]).append_column("reason", pa.array(["crawled"] * 20))
    if suffix == "parquet":
        pq.write_table(rows, inputs)
    else:
        inputs.write_text("".join(json.dumps(r) + "\n" for r in rows.to_pylist()))
    with pytest.raises(ConfigError, match="the input column 'reason' has a name the removed-documents ledger gives its own"):
        run_pipeline(STAGES, inputs, tmp_path / "out")


class _StoreRefusing:
    """A file whose store refuses a read part-way, as pyarrow's S3 client raises it."""

    def __init__(self, data: bytes, fail_at: int):
        self.data, self.fail_at, self.at = data, fail_at, 0

    def read(self, n: int = -1) -> bytes:
        n = len(self.data) - self.at if n is None or n < 0 else n
        if self.at + n > self.fail_at:
            raise OSError("AWS Error ACCESS_DENIED during GetObject operation: Access Denied")
        chunk = self.data[self.at:self.at + n]
        self.at += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        chunk = self.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def __iter__(self):
        while True:
            line = b""
            while not line.endswith(b"\n"):
                byte = self.read(1)
                if not byte:
                    break
                line += byte
            if not line:
                return
            yield line


@pytest.mark.parametrize("form", ["jsonl", "html", "parquet", "warc"])
def test_a_store_that_refuses_a_read_stops_the_run_not_quarantines_the_file(tmp_path, monkeypatch, form):
    """A store that refuses or throttles a read part-way (S3's AccessDenied, SlowDown after the
    SDK's retries) is no damaged file: quarantined, the file's records were lost from a run that
    exited 0 and said "invariant OK", and the same command did not read them again. The read
    raises (the run stops, exit 7, resumable); a damaged file is still quarantined."""
    from dataprep import documents, storage

    texts = [f"document {i} " + "with enough words to be a document " * 20 for i in range(200)]
    if form == "parquet":
        path = tmp_path / "docs.parquet"
        pq.write_table(pa.table({"id": [str(i) for i in range(200)], "text": texts}), path, row_group_size=50)
        real = storage.parquet_file

        def refusing(uri: str):
            data = open(uri, "rb").read()
            return pq.ParquetFile(pa.BufferReader(data)) if "plan" in refusing.phase else _refused_parquet(real(uri))
        refusing.phase = "plan"
        monkeypatch.setattr(storage, "parquet_file", refusing)
        parts, quarantined = documents.plan([str(path)], "text", 2**30, None)
        refusing.phase = "read"
    elif form == "warc":
        path = tmp_path / "crawl.warc.gz"
        body = (SAMPLES / "_web" / "debian-faq.warc.gz").read_bytes()
        path.write_bytes(body)
        parts, quarantined = documents.plan([str(path)], "text", 2**30, None)
        real_open = storage.open_input
        monkeypatch.setattr(storage, "open_input", lambda uri: _Seekable(real_open(uri), len(body) // 2))
    else:
        path = tmp_path / ("docs.jsonl" if form == "jsonl" else "page.html")
        body = ("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)) if form == "jsonl"
                else "<html><body>" + "".join(f"<p>{t}</p>" for t in texts) + "</body></html>").encode()
        path.write_bytes(body)
        parts, quarantined = documents.plan([str(path)], "text", 2**30, None)
        monkeypatch.setattr(storage, "open_input", lambda uri: _StoreRefusing(body, len(body) // 2))
    assert parts and not quarantined
    with pytest.raises(OSError, match="AWS Error (ACCESS_DENIED|SLOW_DOWN)"):
        for _ in documents.read_part(parts[0], "text", 64):
            pass


class _Seekable:
    """A real file whose store refuses reads past a byte, as pyarrow's S3 client raises it."""

    def __init__(self, handle, fail_at: int):
        self.handle, self.fail_at = handle, fail_at

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or self.handle.tell() + n > self.fail_at:
            raise OSError("AWS Error ACCESS_DENIED during GetObject operation: Access Denied")
        return self.handle.read(n)

    def __getattr__(self, name: str):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()


def _refused_parquet(handle):
    class Refused:
        metadata = handle.metadata

        def iter_batches(self, **kwargs):
            raise OSError("AWS Error SLOW_DOWN during GetObject operation: Please reduce your request rate")
    return Refused()


def test_files_of_one_name_in_two_formats_get_ids_of_their_own(ray_session, tmp_path, sample_docs):
    """`a.parquet` and `a.jsonl` without ids: both had `a:<row>`, so the second file's documents
    were quarantined as duplicates of the first's. Ids keep the short form where it is unique."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    texts = sample_docs.column("text").to_pylist()
    pq.write_table(pa.table({"text": texts[:50]}), inputs / "a.parquet")
    (inputs / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[50:80]))
    pq.write_table(pa.table({"text": texts[80:90]}), inputs / "b.parquet")
    stats = run_pipeline(STAGES, inputs, tmp_path / "out")
    assert stats["invariant_ok"] and stats["output"]["quarantined"] == 0
    ids = output_ids(tmp_path / "out")
    found = set(ids["kept"] + ids["removed"])
    assert {"a.parquet:0", "a.jsonl:0", "b:0"} <= found and len(found) == 90


@pytest.mark.parametrize("form", ["dictionary", "string_view"])
def test_a_text_column_of_any_string_encoding_is_read(ray_session, folder, tmp_path, sample_docs, form):
    """pandas' Categorical writes a dictionary-encoded column, pyarrow can write string_view:
    both are strings, and a file of them was quarantined whole as of the wrong type."""
    chunk = sample_docs.slice(60, 20).select(["id", "text"])
    text = chunk.column("text").combine_chunks()
    text = text.dictionary_encode() if form == "dictionary" else text.cast(pa.string_view())
    pq.write_table(chunk.set_column(1, "text", text), folder / "b.parquet")
    stats, records = run_and_check(folder, tmp_path, error_budget=0.0)
    assert records == [] and stats["input"]["docs"] == 80
    ids = output_ids(tmp_path / "out")
    assert set(chunk.column("id").to_pylist()) <= set(ids["kept"] + ids["removed"])


def test_id_prefixes_never_meet():
    from dataprep.documents import id_prefixes

    names = ["a.parquet", "a.jsonl", "a.parquet.jsonl", "b.parquet", "x/a.jsonl.gz", "a.parquet.jsonl.gz"]
    prefixes = id_prefixes(names)
    assert len(set(prefixes)) == len(names) and prefixes[3:5] == ["b", "x/a"], prefixes
