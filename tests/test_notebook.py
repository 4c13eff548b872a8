"""docs/quality_filters.ipynb runs top to bottom (nbclient), so the worked example never rots."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import REPO

NOTEBOOK = REPO / "docs" / "quality_filters.ipynb"


def test_worked_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("quality-*"))
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:  # the notebook leaves its output for its reader; every run of this test left one in /tmp
        for made in set(temp.glob("quality-*")) - before:
            shutil.rmtree(made, ignore_errors=True)
    outputs = ["".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
               for cell in notebook.cells if cell.cell_type == "code"]
    assert "gopher_quality" in outputs[1] and "kept" in outputs[1]
    assert "gopher_quality." in outputs[2]
    assert "removed by stage gopher_quality" in outputs[3]
    assert "with min_stop_words=8:" in outputs[4]
    strict = int(outputs[4].split("with min_stop_words=8:")[1].split()[0])
    default = int(outputs[4].split("removed with the default:")[1].split()[0])
    assert strict > default, "the stricter rule removes more of the same documents"
    assert "iframe" in str(notebook.cells[-1].outputs[0]["data"].get("text/html", ""))
