"""A Python API that fits a notebook: `import dataprep as dp`.

    pipeline = dp.Pipeline.from_yaml("pipelines/quality.yaml")      # or dp.Pipeline([dp.stage(...), ...])
    result = pipeline.run("samples/", "out/quality")                 # the same run as the CLI's
    result.stats                                                     # per stage, as a DataFrame
    result.removed("gopher_quality")                                 # the ledger, as a DataFrame
    result.explain("shard-00:12")                                    # where one document ended and why
    result.report()                                                  # report.html, inline in Jupyter

    dp.apply(dp.stage("gopher_quality", min_stop_words=3), ["ten sentences", ...])

`apply` runs per-document stages in this process on a handful of texts (no Ray, no output
folder) and returns each document's decision, reason and measured values: the quickest way for a
student to see what a threshold does. Stages that need the whole corpus (dedup, tokenizer
training) run only in `Pipeline.run`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from dataprep import explain as explaining
from dataprep import pipeline as pipelines
from dataprep import report as reporting
from dataprep import storage
from dataprep.errors import ConfigError
from dataprep.layout import OutputLayout
from dataprep.stages.base import DocStage, Stage, TextBatch


@dataclass(frozen=True)
class StageSpec:
    """A stage by name and parameters (checked when made), as a pipeline YAML lists it."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Stage:
        return pipelines.build_stage(self.name, self.params, self.name)


def stage(name: str, **params: Any) -> StageSpec:
    """A stage for a Pipeline or for `apply`: `dp.stage("length", min_words=50)`."""
    spec = StageSpec(name, params)
    spec.build()  # a misspelt name or parameter fails here, with the CLI's one-line message
    return spec


class Pipeline:
    """Stages and run options; `run` is exactly `dataprep run` (same output folder, resume, checks)."""

    def __init__(self, stages: list[StageSpec | str | dict[str, Any]], **options: Any):
        specs = [{s.name: dict(s.params)} if isinstance(s, StageSpec) else s for s in stages]
        self._pipeline = pipelines.from_dict({"stages": specs, **options})

    @classmethod
    def from_yaml(cls, path: str | Path, **options: Any) -> Pipeline:
        loaded = pipelines.load(path, options)
        made = cls.__new__(cls)
        made._pipeline = loaded
        return made

    @property
    def stages(self) -> list[Stage]:
        return self._pipeline.stages

    def run(self, input: str | Path | None = None, output: str | Path | None = None, overwrite: bool = False,
            **options: Any) -> Result:
        from dataprep.run import run

        opts = self._pipeline.options
        overrides = {"input": str(input) if input else opts.input, "output": str(output) if output else opts.output, **options}
        spec = {"stages": self._pipeline.specs, **{k: v for k, v in vars(opts).items() if v is not None}, **overrides}
        run(pipelines.from_dict(spec), overwrite=overwrite)
        return Result(OutputLayout.of(spec["output"]))

    def __repr__(self) -> str:
        return f"Pipeline({[s.name for s in self.stages]})"


@dataclass
class Result:
    """A finished run's output folder (local or on an object store), read back as DataFrames."""

    layout: OutputLayout

    @property
    def out(self) -> str:
        """The output folder (a path or a URI)."""
        return self.layout.root

    @property
    def summary(self) -> dict[str, Any]:
        return self.layout.finished_stats()

    @property
    def stats(self) -> pd.DataFrame:
        """One row per stage: in, kept, removed (total and by reason), quarantined, seconds."""
        rows = [{"stage": s["name"], "kind": s["kind"], "in": s["in"], "kept": s["kept"], "removed": sum(s["removed"].values()),
                 "quarantined": s["quarantined"], "seconds": s["seconds"], "by_reason": s["removed"]}
                for s in self.summary["stages"]]
        return pd.DataFrame(rows)

    def kept(self, columns: list[str] | None = None) -> pd.DataFrame:
        return _read(self.layout.kept, columns)

    def removed(self, stage: str | None = None) -> pd.DataFrame:
        """The ledger (every removed document with stage, reason and its measured values as details)."""
        frame = _read(self.layout.removed, None)
        return frame if stage is None or frame.empty else frame[frame["stage"] == stage].reset_index(drop=True)

    def quarantined(self) -> pd.DataFrame:
        return _read(self.layout.quarantine, None)

    def explain(self, doc_id: str) -> Text:
        return Text(explaining.explain(self.layout, doc_id))

    def report(self) -> Report:
        return Report(reporting.write(self.layout))

    def _repr_html_(self) -> str:
        return f"<p>dataprep run in <code>{html.escape(storage.public(self.out))}</code></p>" + self.stats.drop(columns="by_reason").to_html(index=False)


class Text(str):
    """A multi-line answer that prints as itself in a notebook (not as a quoted string)."""

    def __repr__(self) -> str:
        return str(self)


@dataclass
class Report:
    """report.html, shown inline in Jupyter (in a sandboxed frame: the page is self-contained)."""

    path: str

    def _repr_html_(self) -> str:
        page = html.escape(storage.read_bytes(self.path).decode("utf-8"), quote=True)
        return f"<iframe srcdoc=\"{page}\" style='width:100%;height:600px;border:1px solid #ccc'></iframe>"


def _read(folder: str, columns: list[str] | None) -> pd.DataFrame:
    """Every part file of a folder (the run wrote them with one schema) as one DataFrame."""
    files = OutputLayout.parts(folder)
    if not files:
        return pd.DataFrame()
    import pyarrow.parquet as pq

    fs, _ = storage.resolve(folder)
    return pq.read_table([storage.resolve(f)[1] for f in files], columns=columns, filesystem=fs).to_pandas()


def apply(stages: StageSpec | Stage | Pipeline | list[StageSpec | Stage], texts: list[str] | pd.DataFrame | pa.Table,
          text_column: str = "text") -> pd.DataFrame:
    """Each document's fate under per-document stages, in this process: a DataFrame with id, the
    text as the stages left it, `removed_by` and `reason` (None when kept), and every value each
    stage measured (columns `<stage>.<metric>`, missing for stages a document did not reach)."""
    built = _stages(stages)
    table = _table(texts, text_column)
    ids = table.column("id").to_pylist()
    frame = pd.DataFrame({"id": ids, "text": table.column("text").to_pylist(), "removed_by": None, "reason": None})
    frame = frame.set_index("id", drop=False)
    batch = TextBatch(table)
    for stage in built:
        stage.setup()
        decisions = stage.apply(batch)
        alive = decisions.batch.table.column("id").to_pylist()
        frame.loc[alive, "text"] = decisions.batch.table.column("text").to_pylist()
        for metric, values in (decisions.metrics or {}).items():
            frame.loc[alive, f"{stage.name}.{metric}"] = pd.Series(list(np.asarray(values)), index=alive, dtype=object)
        gone = decisions.reasons != None  # noqa: E711 (elementwise)
        frame.loc[[i for i, g in zip(alive, gone) if g], "removed_by"] = stage.name
        frame.loc[[i for i, g in zip(alive, gone) if g], "reason"] = [r for r in decisions.reasons if r is not None]
        batch = decisions.batch.filter(~gone)
    return frame.reset_index(drop=True).infer_objects()


def _stages(stages: Any) -> list[DocStage]:
    if isinstance(stages, Pipeline):
        items = stages.stages
    else:
        items = stages if isinstance(stages, list) else [stages]
    built = [s.build() if isinstance(s, StageSpec) else s for s in items]
    for s in built:
        if not isinstance(s, DocStage):
            raise ConfigError(f"{s.name} needs the whole corpus ({s.kind}); run it with Pipeline.run, or see `dataprep inspect`")
    return built


def _table(texts: Any, text_column: str) -> pa.Table:
    if isinstance(texts, pa.Table):
        table = texts
    elif isinstance(texts, pd.DataFrame):
        table = pa.Table.from_pandas(texts, preserve_index=False)
    else:
        table = pa.table({text_column: pa.array(list(texts), pa.string())})
    if text_column != "text":
        table = table.rename_columns(["text" if n == text_column else n for n in table.column_names])
    if "id" not in table.column_names:
        table = table.add_column(0, "id", pa.array([str(i) for i in range(table.num_rows)]))
    text = table.column("text").combine_chunks().cast(pa.large_string())
    return table.set_column(table.schema.get_field_index("text"), "text", text)
