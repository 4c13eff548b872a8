"""Stage kinds, each with its contract in one place, the batch they work on, and the registry.

A stage is a plain class: its parameters are its typed `__init__` arguments (the YAML keys),
and its work is a pure function over an Arrow batch. The kinds: `Filter` (measure, keep or
remove), `Mapper` (rewrite; remove only what it empties), `LineFilter` (rewrite and remove by
rules), `Writer` (write files of its own, keep all; last), all per document (`DocStage`), and
`Global` (needs the whole corpus). Per-document stages return the batch plus their decisions;
the runner fuses adjacent ones into one task per part and takes care of the ledger, counts and
errors, so a stage only says *what* and *why*.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
import pyarrow as pa

from dataprep import text as textutil
from dataprep.spans import Span

if TYPE_CHECKING:
    from dataprep.layout import OutputLayout

REGISTRY: dict[str, type[Stage]] = {}


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to pipelines under `cls.name`."""
    if cls.name in REGISTRY:
        raise RuntimeError(f"two stages are registered as {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


class TextBatch:
    """A batch of documents (an Arrow table with `id` and `text`) and its cached text views.

    Word and line splits are computed once per batch and shared by every stage that asks for
    them; a mapper that rewrites the text gets a fresh batch (the caches would be stale).
    """

    def __init__(self, table: pa.Table):
        self.table = table

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @cached_property
    def text(self) -> pa.Array:
        return self.table.column("text").combine_chunks()

    @cached_property
    def words(self) -> pa.ListArray:
        return textutil.split_words(self.text)

    @cached_property
    def word_counts(self) -> np.ndarray:
        return textutil.list_lengths(self.words)

    def words_by(self, splitter: str, language: str = "en") -> pa.ListArray:
        """Words from the named splitter (see text.WORD_SPLITTERS) for `language`, cached per batch."""
        if splitter == "whitespace":
            return self.words
        key = f"words_{splitter}_{language}"
        if key not in self.__dict__:
            self.__dict__[key] = textutil.split_words_by(splitter, self.text, language)
        return self.__dict__[key]

    def words_of(self, rows: np.ndarray, splitter: str, language: str = "en") -> pa.ListArray:
        """Words of the documents where `rows` is true: from the batch's cache when an earlier
        stage split them all, else only those documents are split (not cached)."""
        key = f"words_{splitter}_{language}"
        if rows.all() or splitter == "whitespace" or key in self.__dict__:
            return self.words_by(splitter, language).filter(pa.array(rows))
        return textutil.split_words_by(splitter, self.text.filter(pa.array(rows)), language)

    @cached_property
    def lines(self) -> pa.ListArray:
        return textutil.split_lines(self.text)

    @cached_property
    def char_counts(self) -> np.ndarray:
        return textutil.char_lengths(self.text)

    def with_text(self, new_text: pa.Array) -> TextBatch:
        index = self.table.schema.get_field_index("text")
        return TextBatch(self.table.set_column(index, "text", new_text.cast(pa.large_string())))

    def with_columns(self, columns: dict[str, pa.Array]) -> TextBatch:
        """Add (or replace) columns; the text is unchanged, so the caches carry over."""
        table = self.table
        for name, values in columns.items():
            index = table.schema.get_field_index(name)
            table = table.append_column(name, values) if index < 0 else table.set_column(index, name, values)
        out = TextBatch(table)
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k != "table"})
        return out

    def filter(self, mask: np.ndarray) -> TextBatch:
        """Rows where `mask` is true, with the cached views filtered alike."""
        arrow_mask = pa.array(mask, pa.bool_())
        out = TextBatch(self.table.filter(arrow_mask))
        for key, value in self.__dict__.items():
            if key == "table":
                continue
            out.__dict__[key] = value[mask] if isinstance(value, np.ndarray) else value.filter(arrow_mask)
        return out


@dataclass
class Decisions:
    """What a per-document stage did to a batch.

    `batch` has every input row (with rewritten text or added columns). `reasons` holds, per row,
    the reason code of a removal (`"<stage>.<code>"`) or None to keep it. `details` holds, per
    removed row, the measured values the decision was made on (JSON-able dicts). `metrics`, when
    the stage measures every document, holds those values for all rows (one array per metric):
    the runner records them so reports can draw every document's value against the thresholds.
    """

    batch: TextBatch
    reasons: np.ndarray  # object array of str | None
    details: list[dict[str, Any] | None]
    metrics: dict[str, np.ndarray] | None = None

    @classmethod
    def keep_all(cls, batch: TextBatch) -> Decisions:
        n = batch.num_rows
        return cls(batch, np.full(n, None, dtype=object), [None] * n)


class Threshold(NamedTuple):
    """One numeric rule of a stage: a document fails it when its `metric` is on the failing `side`
    of `bound` (one of SIDES), and is then removed with reason `<stage>.<code>`; `param` is the
    YAML key.

    `bound` None: the bound varies per document (per-language settings); the stage records each
    document's bound as the metric named `param` (NaN: the rule is off for that document).
    """

    param: str
    metric: str
    bound: float | None
    side: str
    code: str

    def failed(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        """Where the documents of a batch fail this rule."""
        return fails(metrics[self.metric], metrics[self.param] if self.bound is None else self.bound, self.side)


#: the other bounds the report's tuning table tries, relative to a threshold's configured one
TUNING_FACTORS = (0.5, 0.75, 1.25, 1.5, 2.0)


def tuning_bounds(bound: float, whole: bool) -> list[float]:
    """A threshold's bound times each of TUNING_FACTORS, rounded as a user would write it: to a
    whole number for a parameter that takes only those (a count)."""
    return [round(bound * f) if whole else round(bound * f, 4) for f in TUNING_FACTORS]


def non_negative(**thresholds: Any) -> None:
    """A one-line error for a negative threshold, when the pipeline is read: null turns a rule
    off (datatrove's -1 or 0 for that removed every document here, and a negative n-gram size
    failed on every batch as a stage bug). Values that are not numbers (a profile's) pass."""
    _refuse(lambda value: value < 0, "must be >= 0", thresholds)


def in_order(**bounds: Any) -> None:
    """A one-line error for a minimum above its maximum (given as min_X=..., max_X=..., in pairs):
    no document could pass both rules. Values that are not numbers (a profile's) pass."""
    for name, low in bounds.items():
        high = bounds.get("max_" + name.removeprefix("min_")) if name.startswith("min_") else None
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            raise ValueError(f"{name} ({low}) is above max_{name.removeprefix('min_')} ({high}): no document could pass both")


def shares(**thresholds: Any) -> None:
    """As non_negative, for bounds on a share (of lines, words or characters), which is at most 1:
    a bound above 1 decides as 1 does (a minimum removes every document, a maximum none)."""
    _refuse(lambda value: not 0 <= value <= 1, "is a share, within [0, 1],", thresholds)


def _refuse(wrong: Callable[[float], bool], rule: str, thresholds: dict[str, Any]) -> None:
    for key, value in thresholds.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and wrong(value):
            raise ValueError(f"{key} {rule} not {value} (null turns the rule off)")


class Side(NamedTuple):
    """Which values fail a bound: those under it (`low`) or over it, and whether the bound itself
    fails (`inclusive`); `keeps` is the comparison a kept value passes, as `explain` prints it."""

    low: bool
    inclusive: bool
    keeps: str


#: a threshold's sides, the one statement of each comparison for the stages, the report's tuning
#: and `explain`: "min" and "max" keep the bound itself; "below" is a count or similarity that
#: must stay under the bound, "above" a score that must exceed it (datatrove's LanguageFilter)
SIDES = {"min": Side(low=True, inclusive=False, keeps=">="), "max": Side(low=False, inclusive=False, keeps="<="),
         "below": Side(low=False, inclusive=True, keeps="<"), "above": Side(low=True, inclusive=True, keeps=">")}


def side_of(name: str) -> Side:
    if name not in SIDES:
        raise ValueError(f"a threshold's side is one of {', '.join(SIDES)}, not {name!r}")
    return SIDES[name]


def fails(values: Any, bound: Any, side: str) -> np.ndarray:
    """Where `values` fail a bound on `side` (a NaN value or bound never fails)."""
    values, rule = np.asarray(values, dtype=float), side_of(side)
    compare = {(True, False): np.less, (True, True): np.less_equal, (False, False): np.greater,
               (False, True): np.greater_equal}[rule.low, rule.inclusive]
    with np.errstate(invalid="ignore"):
        return compare(values, bound)


class Stage:
    """Common ground of every stage: a registry name, a kind and declared output columns."""

    name: ClassVar[str]
    kind: ClassVar[str]
    #: columns this stage adds to documents, with their Arrow types (schema is known up front)
    adds: ClassVar[dict[str, pa.DataType]] = {}
    #: must be the pipeline's last stage (its per-part files line up with kept/ row for row)
    last: ClassVar[bool] = False
    #: parameters that are secrets (a hash salt): never written to run.json, stats or reports
    secrets: ClassVar[tuple[str, ...]] = ()
    #: parameters this stage no longer takes, with where they went (the pipeline loader's error says so)
    moved: ClassVar[dict[str, str]] = {}

    def requires(self) -> set[str]:
        """Columns an earlier stage must add (checked when the pipeline is loaded)."""
        return set()

    def bind(self, output: OutputLayout) -> None:
        """The run's output layout, given before `setup`: stages that write files of their own
        take their folder from it (`tokenizer`, `tokens`: local folders or URIs, written through
        storage.py)."""
        self._output = output

    def setup(self) -> None:
        """Load models or other heavy state; called once per worker process before first use."""

    def start_part(self, key: str) -> None:
        """Before a part's first batch (stages that write per-part files reset their buffers)."""

    def finish_part(self, key: str) -> None:
        """After a part's last batch, before its marker: write the part's own files, atomically
        and named by part, so a resumed run skips or redoes them with the part."""

    def finish(self) -> dict[str, Any] | None:
        """Once on the driver after every part: per-run outputs (e.g. a manifest of the per-part
        files); the figures returned go into stats.json under `outputs`."""
        return None

    def params(self) -> dict[str, Any]:
        """The parameters this stage was built with (for stats, reports and fingerprints);
        secrets never (a stage keeps them in private attributes)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in self.secrets}

    def read_files(self) -> list[str]:
        """The files (or folders of them) the stage's decisions depend on: block lists, a model, an
        index, a tokenizer. Their sizes and modification times go into the run's fingerprint, as
        the input files' do, so a run whose list or model changed is another run: never resumed
        into a mix of parts decided with the old file and parts decided with the new one."""
        return []

    def threshold_rules(self) -> list[Threshold]:
        """The numeric rules this stage removes by, as configured (for reports, explain, tuning)."""
        return []

    @classmethod
    def highlight(cls, text: str, code: str, details: dict[str, Any], params: dict[str, Any]) -> list[Span]:
        """The parts of a document this stage removed with `code` that show why, as (start, end,
        label) character spans, for the report; `params` are the run's parameters of the stage
        (defaults filled in). A class method: the report has no stage instance (its model files
        may be gone). Strings and spans quoted in the details are marked for every stage."""
        return []


class DocStage(Stage):
    """A stage that decides about each document alone (fusable with its neighbours). Implement
    one of its kinds below; a stage that fits none may implement `apply` itself."""

    def apply(self, batch: TextBatch) -> Decisions:
        raise NotImplementedError


class Filter(DocStage):
    """Keep or remove each document, with a reason code and the values measured.

    Subclasses implement `measure` (vectorised measurements, one array per metric) and state each
    rule once: a numeric one in `threshold_rules()` (checked from there, and drawn, tuned and
    explained from there), any other in `checks` (an ordered list of (code, failed-mask)). The
    checks come before the thresholds (`thresholds_first` turns that round); the first failing
    rule names the reason, as in datatrove.
    """

    kind = "filter"
    #: check the thresholds before `checks()` (the order decides which reason a document gets)
    thresholds_first: ClassVar[bool] = False

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def checks(self, metrics: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        """The rules that are no threshold on a number (a language not wanted, a word found)."""
        return []

    def rules(self, metrics: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        """Every rule in the order they are checked: (code, failed-mask)."""
        numeric = [(t.code, t.failed(metrics)) for t in self.threshold_rules()]
        other = self.checks(metrics)
        return numeric + other if self.thresholds_first else other + numeric

    def reasons(self, metrics: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Per document, the reason code of the first rule it fails, or None."""
        reasons = np.full(n, None, dtype=object)
        for code, failed in reversed(self.rules(metrics)):
            reasons[np.asarray(failed, dtype=bool)] = f"{self.name}.{code}"
        return reasons

    def annotate(self, batch: TextBatch, metrics: dict[str, np.ndarray]) -> TextBatch:
        """Columns the filter adds to every document (none by default)."""
        return batch

    def apply(self, batch: TextBatch) -> Decisions:
        metrics = self.measure(batch)
        reasons = self.reasons(metrics, batch.num_rows)
        return Decisions(self.annotate(batch, metrics), reasons, metric_details(metrics, reasons), metrics)


class Mapper(DocStage):
    """Rewrite each document's text and record what changed; remove only what it empties.

    Subclasses implement `transform`, returning the new text and the columns that record the
    change. A document whose text the mapper empties is removed (see `emptied`).
    """

    kind = "mapper"

    def transform(self, batch: TextBatch) -> tuple[pa.Array, dict[str, pa.Array]]:
        raise NotImplementedError

    def apply(self, batch: TextBatch) -> Decisions:
        new_text, columns = self.transform(batch)
        reasons = emptied(self.name, batch, new_text, np.full(batch.num_rows, None, dtype=object))
        return Decisions(batch.with_text(new_text).with_columns(columns), reasons, [None] * batch.num_rows)


class LineFilter(Filter):
    """Rewrite each document (drop lines, strip what is not text) and remove documents by rules
    over what the rewrite measured: a filter and a mapper at once (`c4_quality`, `keywords`,
    `extract`).

    Subclasses implement `rewrite`, returning the rewritten batch (new text, columns recording
    the change) and the values measured on the way; the rules are a Filter's (`checks`,
    `threshold_rules`), and a document the rewrite empties that no rule removed is removed (see
    `emptied`). The ledger keeps a removed document's text as the stage was given it (the runner's
    `_as_given`), not what the rewrite left of it.
    """

    kind = "line_filter"

    def rewrite(self, batch: TextBatch) -> tuple[TextBatch, dict[str, np.ndarray]]:
        raise NotImplementedError

    def apply(self, batch: TextBatch) -> Decisions:
        out, metrics = self.rewrite(batch)
        reasons = emptied(self.name, batch, out.text, self.reasons(metrics, batch.num_rows))
        return Decisions(out, reasons, metric_details(metrics, reasons), metrics)


class Writer(DocStage):
    """Write every document to files of the stage's own (`tokenize` -> tokens/) and keep it.

    Subclasses implement `write` (per batch: buffer what goes to the part's files, return the
    columns to add) and the per-part hooks `start_part`/`finish_part` (the part's files, atomically,
    named by part) and `finish` (once, on the driver). A writer ends the pipeline, so its files
    line up with kept/ row for row.
    """

    kind = "writer"
    last = True

    def write(self, batch: TextBatch) -> dict[str, pa.Array]:
        raise NotImplementedError

    def apply(self, batch: TextBatch) -> Decisions:
        return Decisions.keep_all(batch.with_columns(self.write(batch)))


def emptied(stage: str, before: TextBatch, new_text: pa.Array, reasons: np.ndarray) -> np.ndarray:
    """The one rule for rewritten documents: one the stage left without text (that had some) is
    removed as `<stage>.emptied`, unless a rule of the stage already removed it. (Emptiness by
    UTF-8 byte length, read from the offsets: counting characters scanned every byte, a fortieth
    of `extract`'s time over the HTML.)"""
    gone = (textutil.byte_lengths(new_text) == 0) & (textutil.byte_lengths(before.text) > 0) & (reasons == None)  # noqa: E711
    reasons[gone] = f"{stage}.emptied"
    return reasons


class Global(Stage):
    """A stage that needs the whole corpus (dedup, tokenizer training).

    It runs in three phases over the documents the previous stages kept, with its state in
    Parquet under the run's `_work/` folder (so a run resumes), never by collecting the corpus
    in one process (dataprep/resolution.py):
    1. `keys`: per batch, a small record per document (its `id` and e.g. a hash), written per
       part; the runner adds the document's `part`;
    2. `resolve`: over all records as one Ray Data dataset, hash-partitioned shuffles
       (`resolution.by_hash`, `n` partitions) ending in a dataset of per-document *decisions*
       (`part`, `id` and the stage's `DECISIONS` columns) for the documents it acts on; the
       runner writes them partitioned by part;
    3. `decide`: per batch, with its part's decisions only (matched by id), the usual
       per-document decisions.
    """

    kind = "global"
    #: columns of a decision (besides `part`), as `decide` receives them
    DECISIONS: ClassVar[pa.Schema] = pa.schema([("id", pa.string())])
    #: True when `resolve` also takes all records as one Arrow table and returns a table (its
    #: shuffles only `resolution.by_hash`, the steps between them `resolution.map_batches` and
    #: `union`): the runner then resolves keys that fit one shuffle partition on the driver,
    #: without Ray Data (a stage may still hand back a Ray Dataset, e.g. above a budget of its own)
    resolves_tables: ClassVar[bool] = False
    #: True when a document it removes as `duplicate_of` another had that one's (normalized) text:
    #: `explain` then says so, where a similarity measured on the kept copy's final text (after pii,
    #: say) read 0.771 for an exact duplicate
    exact_copies: ClassVar[bool] = False

    def keys(self, batch: TextBatch | None) -> pa.Table:
        """Per-document records of a batch; with None, an empty table of the same schema."""
        raise NotImplementedError

    def resolve(self, records: Any, n: int) -> Any:
        """The decisions (a Ray Dataset with `part`, `id` and the DECISIONS columns, or None when
        there are none) from all records (a Ray Dataset, or None when there are none)."""
        raise NotImplementedError

    def decide(self, batch: TextBatch, decisions: pa.Table) -> Decisions:
        """Per-document decisions of a batch from its part's decisions (rows of DECISIONS)."""
        raise NotImplementedError


def metric_details(metrics: dict[str, np.ndarray], reasons: np.ndarray) -> list[dict[str, Any] | None]:
    """Per removed row, its measured values as a plain dict (kept rows get None; a value that is
    None or NaN, such as a word a document does not have or a ratio a rule never measured, is
    left out: NaN is no JSON)."""
    details: list[dict[str, Any] | None] = [None] * len(reasons)
    removed = np.flatnonzero(reasons != None)  # noqa: E711 (elementwise on an object array)
    if removed.size == 0:
        return details
    columns = {k: np.asarray(v)[removed].tolist() for k, v in metrics.items()}
    for j, row in enumerate(removed):
        details[row] = {k: _rounded(v[j]) for k, v in columns.items() if v[j] is not None and v[j] == v[j]}
    return details


def _rounded(value: Any) -> Any:
    """A measured value as the ledger's JSON holds it: floats to 4 decimals, an infinite one (the
    perplexity of a text without words) as "inf", which strict JSON readers accept (Infinity is not JSON)."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return round(value, 4) if isinstance(value, float) else value


def details_json(details: list[dict[str, Any] | None]) -> pa.Array:
    return pa.array([None if d is None else json.dumps(d, ensure_ascii=False) for d in details], pa.string())
