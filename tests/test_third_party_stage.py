"""A stage from outside the package: docs/adding_a_stage.md's example, built in a temporary
package and run by import path and by entry point, end to end through the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO, read_folder

DOC = REPO / "docs" / "adding_a_stage.md"


@pytest.fixture
def package(tmp_path):
    """mypkg with the doc's DigitRatio, and a dist-info publishing it as `digit_ratio`."""
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    root = tmp_path / "site"
    (root / "mypkg").mkdir(parents=True)
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "filters.py").write_text(code)
    info = root / "mypkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dataprep.stages]\ndigit_ratio = mypkg.filters:DigitRatio\n")
    return root


@pytest.fixture
def corpus(tmp_path, sample_docs):
    texts = sample_docs.column("text").to_pylist()[:30]
    tables = ["Price list\n" + "\n".join(f"{i:05d} {i * 37 % 1000:4d}.{i % 100:02d} EUR" for i in range(40)),
              "Log 2024-01-01 00:00:01 0x00ff 1234567 9876543 42 17 3.14159 2718281 1618033"]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(32)], "text": texts + tables}), path)
    return path


def test_doc_example_by_import_path(package, corpus, monkeypatch):
    from dataprep.pipeline import build_stage
    from dataprep.stages import TextBatch

    monkeypatch.syspath_prepend(str(package))
    stage = build_stage("mypkg.filters:DigitRatio", {"max_ratio": 0.3}, "stage 1")
    decisions = stage.apply(TextBatch(pq.read_table(corpus)))
    assert [i for i, r in enumerate(decisions.reasons) if r] == [30, 31]


def test_doc_example_runs_by_entry_point_through_the_cli(tmp_path, package, corpus):
    name = "digit_ratio"
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"name: third-party\nstages:\n  - normalize: {{}}\n  - {name}: {{max_ratio: 0.3}}\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{package}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "dataprep.cli", "run", str(pipeline), "--input", str(corpus), "--output", str(out),
                           "--no-progress", "--num-cpus", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["invariant_ok"] and stats["stages"][1]["name"] == "digit_ratio"
    removed = read_folder(out / "removed").to_pylist()
    assert {r["id"] for r in removed} == {"d30", "d31"}
    assert all(r["reason"] == "digit_ratio.too_many_digits" and json.loads(r["details"])["digit_ratio"] > 0.3 for r in removed)
    assert stats["stages"][1]["thresholds"] == [{"param": "max_ratio", "metric": "digit_ratio", "bound": 0.3, "side": "max",
                                                 "code": "too_many_digits", "alternatives": [0.15, 0.225, 0.375, 0.45, 0.6]}]
    explained = subprocess.run([sys.executable, "-m", "dataprep.cli", "explain", str(out), "--id", "d30"], env=env,
                               capture_output=True, text=True, timeout=120)
    assert "digit_ratio = " in explained.stdout and "max_ratio: needs <= 0.3: FAILS" in explained.stdout
    page = (out / "report.html").read_text()
    assert "digit_ratio" in page and "<mark title='digits'>" in page, "the stage's own highlight() marks its removals"


def test_a_class_that_is_not_a_stage_is_a_config_error(tmp_path):
    from dataprep.errors import ConfigError
    from dataprep.pipeline import build_stage

    with pytest.raises(ConfigError, match="is not a dataprep stage"):
        build_stage("json:JSONDecoder", {}, "stage 1")
    with pytest.raises(ConfigError, match="cannot import stage"):
        build_stage("no_such_pkg.mod:Thing", {}, "stage 1")


def test_a_threshold_on_an_unknown_side_is_a_config_error(package, monkeypatch):
    """A third-party rule's side is checked when the pipeline is read: an unknown one failed
    nothing (it read as "below"), or raised a KeyError in explain."""
    from dataprep.errors import ConfigError
    from dataprep.pipeline import build_stage

    code = (package / "mypkg" / "filters.py").read_text()
    assert '"max", ' in code
    (package / "sided_digits.py").write_text(code.replace('"max", ', '"maximum", '))
    monkeypatch.syspath_prepend(str(package))
    with pytest.raises(ConfigError, match="side is one of min, max, below, above, not 'maximum'"):
        build_stage("sided_digits:DigitRatio", {"max_ratio": 0.3}, "stage 1")
