"""Shared fixtures: one embedded Ray per test session, real text from samples/ and shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
SHARED_DATA = Path(os.environ.get("DATAPREP_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def ray_session():
    """Embedded Ray, started once for the whole session (runs in this process reuse it)."""
    from dataprep import runtime

    runtime.start(num_cpus=2)
    yield
    import ray

    ray.shutdown()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real crawled text (shared/data); tests that read it whole skip when it is
    absent: they assert what this corpus holds (its own duplicate pages and lines)."""
    if not any(SHARED_DATA.glob("*.parquet")):
        pytest.skip(f"real web text not found at {SHARED_DATA} (set DATAPREP_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_docs() -> pa.Table:
    """Real text with ids and urls: shared/data's crawled pages, or samples/'s documents where
    it is absent (tests that need real text, not crawled text, run either way)."""
    path = SHARED_DATA / "01_web_pages_trafilatura.parquet"
    files = [path] if path.exists() else sorted(SAMPLES.glob("shard-*.parquet"))
    return pa.concat_tables([pq.read_table(f, columns=["id", "text", "url"]) for f in files])


@pytest.fixture(scope="session")
def web_docs() -> pa.Table:
    """Real crawled web pages (shared/data); tests about what only crawled pages hold (page
    chrome, spam, news URLs) skip when it is absent."""
    path = SHARED_DATA / "01_web_pages_trafilatura.parquet"
    if not path.exists():
        pytest.skip(f"real web text not found at {SHARED_DATA} (set DATAPREP_SHARED_DATA)")
    return pq.read_table(path, columns=["id", "text", "url"])


@pytest.fixture(scope="session")
def sample_docs() -> pa.Table:
    return pq.read_table(sorted(SAMPLES.glob("*.parquet")))


def run_pipeline(stages: list, input_path: Path | str, output: Path, **options):
    """Run stages (YAML-style list) on an input in the session's Ray; return the stats."""
    from dataprep import pipeline
    from dataprep.run import run

    spec = {"name": "test", "input": str(input_path), "output": str(output), "stages": stages, **options}
    return run(pipeline.from_dict(spec))


def read_folder(folder: Path) -> pa.Table | None:
    files = sorted(folder.glob("part-*.parquet"))
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def output_ids(out: Path) -> dict[str, list[str]]:
    """Ids in kept/, removed/ and quarantine/ of a run."""
    result = {}
    for folder in ("kept", "removed", "quarantine"):
        table = read_folder(out / folder)
        result[folder] = [] if table is None else [i for i in table.column("id").to_pylist()]
    return result


def one_and_four_shards(table: pa.Table, root: Path) -> tuple[Path, Path]:
    """The same documents as one reversed file of many row groups, and as four files in order:
    what a dedup stage must give identical results on."""
    one, four = root / "one", root / "four"
    one.mkdir()
    four.mkdir()
    pq.write_table(table.take(list(range(table.num_rows))[::-1]), one / "all.parquet", row_group_size=64)
    quarter = -(-table.num_rows // 4)
    for i in range(4):
        pq.write_table(table.slice(i * quarter, quarter), four / f"s{i}.parquet")
    return one, four
