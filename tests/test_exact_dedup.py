"""`exact_dedup`, the first global stage: corpus-wide, deterministic, independent of sharding."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_DATA, one_and_four_shards, read_folder, run_pipeline

STAGES = [{"normalize": {}}, {"exact_dedup": {}}, {"length": {"min_words": 1}}]


def expected_duplicates(table: pa.Table) -> dict[str, str]:
    """Plain Python: removed id -> kept id, grouping by lower-cased, whitespace-collapsed text."""
    from dataprep.stages.base import TextBatch
    from dataprep.stages.normalize import Normalize

    batch = Normalize().apply(TextBatch(table.select(["id", "text"]).cast(
        pa.schema([("id", pa.string()), ("text", pa.large_string())])))).batch
    groups = defaultdict(list)
    for doc_id, text in zip(batch.table["id"].to_pylist(), batch.text.to_pylist()):
        if text:
            groups[re.sub(r"\s+", " ", text.lower()).strip()].append(doc_id)
    return {d: min(ids) for ids in groups.values() if len(ids) > 1 for d in ids if d != min(ids)}


def ledger(out, key: str = "duplicate_of") -> dict[str, str | int]:
    """Removed id -> one field of its ledger details (the kept id, or the group's size)."""
    removed = read_folder(out / "removed")
    rows = [r for r in removed.to_pylist() if r["reason"] == "exact_dedup.exact_dup"]
    return {r["id"]: json.loads(r["details"])[key] for r in rows}


@pytest.mark.parametrize("on_driver", [True, False], ids=["driver", "ray-data"])
def test_exact_duplicates_across_all_shards(ray_session, tmp_path, web_docs, monkeypatch, on_driver):
    """The same removals whether the keys (one partition's worth here) are resolved on the driver
    or by the hash-partitioned shuffles on Ray Data (any corpus above resolution.PARTITION_ROWS)."""
    if not on_driver:
        monkeypatch.setattr("dataprep.stages.exact_dedup.ExactDedup.resolves_tables", False)
    files = sorted(SHARED_DATA.glob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f, columns=["id", "text"]) for f in files])
    expected = expected_duplicates(table)
    assert len(expected) > 300, "shared/data holds hundreds of exact copies (OSCAR original vs deduplicated)"
    from dataprep import resolution

    monkeypatch.setattr("dataprep.run.DRIVER_ID_ROWS", 0)  # the id check on Ray Data: the spy below sees the resolve only
    on_the_driver = []  # the path under test is the one that ran
    written = resolution.write_decisions_table
    monkeypatch.setattr(resolution, "write_decisions_table", lambda *a: on_the_driver.append(1) or written(*a))
    stats = run_pipeline(STAGES, SHARED_DATA, tmp_path / "o")
    assert bool(on_the_driver) == on_driver
    assert stats["invariant_ok"]
    assert ledger(tmp_path / "o") == expected
    # each removal names the size of its group: the kept document and every copy of it
    group_sizes = Counter(expected.values())
    assert ledger(tmp_path / "o", "copies") == {d: group_sizes[k] + 1 for d, k in expected.items()}
    assert max(group_sizes.values()) > 1  # some groups hold more than a pair
    kept = set(read_folder(tmp_path / "o" / "kept")["id"].to_pylist())
    assert set(expected.values()) <= kept


def test_same_result_with_one_or_four_shards_and_any_part_size(ray_session, tmp_path, sample_docs):
    one, four = one_and_four_shards(sample_docs, tmp_path)
    a = run_pipeline(STAGES, one, tmp_path / "a", part_bytes=1, keep_work=True)  # one part per row group; its work folder kept to look at
    b = run_pipeline(STAGES, four, tmp_path / "b")
    assert a["invariant_ok"] and b["invariant_ok"] and a["input"]["parts"] > 10
    assert ledger(tmp_path / "a") == ledger(tmp_path / "b") and len(ledger(tmp_path / "a")) > 20
    assert a["stages"][1]["removed"] == b["stages"][1]["removed"]
    # one read of the corpus for the global stage: normalize's task wrote each part's keys
    # before its marker, so exact_dedup's keys pass had no part left to read
    key_files = sorted((tmp_path / "a" / "_work" / "s1" / "keys").glob("part-*.parquet"))
    assert len(key_files) == a["input"]["parts"]
    for keys in key_files:
        marker = tmp_path / "a" / "_parts" / f"s0-{keys.stem.removeprefix('part-')}.json"
        assert keys.stat().st_mtime_ns <= marker.stat().st_mtime_ns
    # decided per part: each part's file names exactly the copies that part's task removed
    decisions = sorted((tmp_path / "a" / "_work" / "s1" / "decisions").glob("part-*.parquet"))
    assert len(decisions) > 1
    for path in decisions:
        removed = tmp_path / "a" / "removed" / f"{path.stem}-s1.parquet"
        assert set(pq.read_table(path)["id"].to_pylist()) == set(pq.read_table(removed)["id"].to_pylist())


def test_collapsing_whitespace_runs_but_lone_spaces_is_collapsing_every_run():
    """exact_dedup replaces newlines, then only the runs that are not a lone space (SPACE_RUN):
    for every code point, alone and among spaces, newlines and letters, that is what replacing
    every run does; and OTHER_WHITESPACE is exactly the class of text.WHITESPACE_RUN without the space."""
    import pyarrow.compute as pc

    from dataprep import text as textutil
    from dataprep.stages.exact_dedup import OTHER_WHITESPACE, one_space_per_run

    points = pa.array([chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF], pa.large_string())
    members = pc.match_substring_regex(points, f"^{textutil.WHITESPACE_RUN}$")
    others = pc.match_substring_regex(points, f"^{OTHER_WHITESPACE}$")
    assert points.filter(others).to_pylist() == [c for c in points.filter(members).to_pylist() if c != " "]
    assert len(points.filter(others)) > 10  # Unicode's spaces, not only ASCII's
    texts = pa.array([form.format(c=c) for form in ("{c}", "a{c}b", " {c}x{c}{c} {c}", "{c} {c} y  {c}", "\n{c}z\n {c}\n")
                      for c in points.to_pylist()], pa.large_string())
    every_run = pc.replace_substring_regex(texts, textutil.WHITESPACE_RUN, " ")
    assert one_space_per_run(texts).equals(every_run)
