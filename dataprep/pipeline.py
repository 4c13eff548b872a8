"""YAML -> a validated pipeline: stage instances plus the run's options.

Everything is checked here, before Ray starts: stage names, parameter names and types, and the
stages' own value checks. A typo costs a one-line error that lists what would have been valid,
not a worker traceback ten minutes into a run.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dataprep.documents import BATCH_ROWS, INPUT_FORMATS, MAX_DOC_BYTES, PART_BYTES
from dataprep.errors import ConfigError
from dataprep.ledger import LEDGER_TEXT
from dataprep.stages import REGISTRY, Stage
from dataprep.stages.base import Threshold, side_of, tuning_bounds


def _option(default: Any, why: str) -> Any:
    return field(default=default, metadata={"help": why})


@dataclass
class RunOptions:
    """Settings of a run that are not stages. Each is a YAML key and a CLI flag of the same name."""

    name: str = _option("pipeline", "the run's name in stats and reports")
    input: str | None = _option(None, "a file, folder or glob of Parquet / JSONL / WARC / HTML files: a path or an s3://, gs://, "
                                      "hdfs://, file:// URI (credentials from the environment)")
    output: str | None = _option(None, "the output folder (kept/, removed/, quarantine/, stats.json): a path or a URI")
    work_dir: str | None = _option(None, "where the intermediate files between segments go (a path or a URI); default: OUTPUT/_work")
    input_format: str = _option("auto", "auto (by file suffix), parquet, jsonl, warc, wet or html (files of pages, or tables with an html column)")
    text_column: str = _option("text", "the input column that holds the document text ('html': raw pages, decoded by their charset)")
    limit: int | None = _option(None, "read only the first N records (in file order): rows, JSONL lines, HTML files, WARC records, those set aside as no page included")
    max_doc_bytes: int = _option(MAX_DOC_BYTES, "quarantine larger documents: no web page is 8 MiB of text")
    part_bytes: int = _option(PART_BYTES, "target uncompressed size of one unit of work (a Ray task)")
    batch_rows: int = _option(BATCH_ROWS, "documents per Arrow batch inside a task")
    error_budget: float = _option(0.01, "a stage that quarantines more than this share of the documents it took in stops the run")
    ray_address: str | None = _option(None, "join a running Ray cluster ('auto', 'host:port', or RAY_ADDRESS); default: embedded Ray")
    num_cpus: int | None = _option(None, "CPUs (worker processes) of the embedded Ray; default: all of this machine's")
    ledger_text: str = _option("full", "text of removed documents in the ledger: full, redacted (PII replaced as by the pii stage) or none")
    keep_work: bool = _option(False, "keep the work folder once the run has finished (what each segment kept: a copy of the corpus "
                                     "per segment; the global stages' keys and decisions); by default it is deleted")


@dataclass
class Pipeline:
    options: RunOptions
    stages: list[Stage] = field(default_factory=list)
    specs: list[dict[str, Any]] = field(default_factory=list)  # [{stage name: params}] as given (secrets included)

    def public_specs(self) -> list[dict[str, Any]]:
        """The specs with every secret parameter's value replaced: what may be written down."""
        return [{name: {k: SECRET if k in stage.secrets else v for k, v in params.items()} for name, params in spec.items()}
                for stage, spec in zip(self.stages, self.specs)]

    def alternatives(self, position: int, rule: Threshold) -> list[float | None] | None:
        """The other bounds the report's tuning table tries for a rule of the stage at `position`,
        each None where the stage refuses it (language's min_score stays below 1, a share at most
        1), whole numbers for a count; None for a rule without one bound (per language), or when
        the stage refuses its own bound here (its parameters name a file elsewhere: no probe)."""
        if rule.bound is None or not self.accepts(position, rule.param, rule.bound):
            return None
        hint = typing.get_type_hints(type(self.stages[position]).__init__).get(rule.param.partition(".")[0], float)
        whole = float not in _within(hint)  # int | None: a count; float, or a dict[int, float]'s entry: a fraction
        return [bound if self.accepts(position, rule.param, bound) else None for bound in tuning_bounds(rule.bound, whole)]

    def accepts(self, position: int, param: str, value: Any) -> bool:
        """Whether the stage at `position` takes `value` for `param`, the rest as given: its
        constructor is the one statement of what a parameter may be. `param` may name one entry of a
        mapping parameter (gopher_repetition's `top_ngrams.2`)."""
        (params,) = self.specs[position].values()
        stage = self.stages[position]
        name, _, key = param.partition(".")
        if key:
            value = {**{str(k): v for k, v in getattr(stage, name).items()}, key: value}
        try:
            type(stage)(**{**params, name: value})
        except (ValueError, TypeError):
            return False
        return True


#: what a secret parameter's value reads as in run.json and reports
SECRET = "<secret>"


OPTION_TYPES = typing.get_type_hints(RunOptions)
#: options that count something, so must be >= 1 (`part_bytes: 0` was an internal error, `-5` or
#: `batch_rows: 0` read no record of a WARC and reported the run as fine)
COUNTS = ("limit", "max_doc_bytes", "part_bytes", "batch_rows", "num_cpus")


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> Pipeline:
    """Read and validate a pipeline YAML; `overrides` (from the CLI) win over the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipeline file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'stages', got {type(raw).__name__}")
    return from_dict(raw, overrides, source=str(path))


def from_dict(raw: dict[str, Any], overrides: dict[str, Any] | None = None, source: str = "pipeline") -> Pipeline:
    raw = dict(raw)
    stages_raw = raw.pop("stages", None)
    if not isinstance(stages_raw, list) or not stages_raw:
        raise ConfigError(f"{source}: 'stages' must be a non-empty list of {{stage_name: {{params}}}}")
    unknown = set(raw) - set(OPTION_TYPES)
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r}; valid keys: stages, {', '.join(OPTION_TYPES)}")
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    settings = {**raw, **given}

    def named(key: str) -> str:
        """Where a user wrote an option: the command-line flag, or the pipeline file's key."""
        return f"--{key.replace('_', '-')}" if key in given else f"{source}: {key}"

    for key, value in settings.items():
        _check_type(value, OPTION_TYPES[key], named(key))
    options = RunOptions(**settings)
    if options.input_format not in INPUT_FORMATS:
        raise ConfigError(f"{named('input_format')} must be one of {', '.join(INPUT_FORMATS)}, not {options.input_format!r}")
    if options.input_format == "html" and "text_column" not in settings:
        options.text_column = "html"  # tables of raw pages keep them in an `html` column, unless told otherwise
    if not 0 <= options.error_budget <= 1:
        raise ConfigError(f"{named('error_budget')} must be within 0..1, not {options.error_budget}")
    for key in COUNTS:
        if getattr(options, key) is not None and getattr(options, key) < 1:
            raise ConfigError(f"{named(key)} must be >= 1, not {getattr(options, key)}")
    if options.ledger_text not in LEDGER_TEXT:
        raise ConfigError(f"{named('ledger_text')} must be one of {', '.join(LEDGER_TEXT)}, not {options.ledger_text!r}")
    pipeline = Pipeline(options)
    added: set[str] = set()
    for position, entry in enumerate(stages_raw, start=1):
        name, params = _split_entry(entry, f"{source}: stage {position}")
        stage = build_stage(name, params, f"{source}: stage {position} ({name})")
        missing = stage.requires() - added
        if missing:
            makers = sorted(n for n, cls in REGISTRY.items() if missing & set(cls.adds))
            raise ConfigError(f"{source}: stage {position} ({name}) needs column(s) {', '.join(sorted(missing))}; "
                              f"put {' or '.join(makers) or 'a stage that adds them'} before it")
        added |= set(stage.adds)
        pipeline.stages.append(stage)
        pipeline.specs.append({name: params})
    for position, stage in enumerate(pipeline.stages[:-1], start=1):
        if stage.last:
            raise ConfigError(f"{source}: stage {position} ({stage.name}) must be the last stage: its output lines up with kept/")
    return pipeline


ENTRY_POINTS = "dataprep.stages"  # the entry-point group other packages publish stages under


def stage_class(name: str, where: str) -> type[Stage]:
    """The class of a stage named in a pipeline: one of ours by registry name, another package's
    by import path (`package.module:Class`), or one published under the `dataprep.stages`
    entry-point group by its entry name."""
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" in name:
        module, _, attribute = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where}: cannot import stage {name!r}: {exc}") from None
    else:
        published = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)}
        if name not in published:
            valid = sorted(REGISTRY) + sorted(published)
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown stage {name!r}{hint}; valid stages: {', '.join(valid)}, "
                              "or a class by import path (package.module:Class)")
        cls = published[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Stage)) or not isinstance(getattr(cls, "name", None), str):
        raise ConfigError(f"{where}: {name!r} is not a dataprep stage (a subclass of dataprep.stages.Filter, Mapper or "
                          "Global with a class attribute name = '...')")
    return cls


def build_stage(name: str, params: dict[str, Any], where: str) -> Stage:
    """Instantiate a stage from its name (see stage_class) and YAML parameters, or raise ConfigError."""
    cls = stage_class(name, where)
    signature = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__)
    valid = [p for p in signature.parameters if p != "self"]
    for key, value in params.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid + list(cls.moved), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if close and close[0] in cls.moved:
                hint = f" ({close[0]}: {cls.moved[close[0]]})"
            raise ConfigError(f"{where}: unknown parameter {key!r}{hint}; valid: {', '.join(valid) or 'none'}")
        _check_type(value, hints.get(key, Any), f"{where}: {key}")
    try:
        stage = cls(**params)
        for rule in getattr(stage, "threshold_rules", list)():
            side_of(rule.side)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return stage


def _within(hint: Any) -> set[Any]:
    """A type hint and every type it is made of (int | None, dict[int, float]: their parts)."""
    return {hint, *(inner for arg in typing.get_args(hint) for inner in _within(arg))}


def _split_entry(entry: Any, where: str) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and len(entry) == 1:
        name, params = next(iter(entry.items()))
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ConfigError(f"{where}: parameters of {name!r} must be a mapping, got {params!r}")
        return str(name), params
    raise ConfigError(f"{where}: expected 'name' or {{name: {{params}}}}, got {entry!r}")


def _check_type(value: Any, annotation: Any, where: str) -> None:
    if not _matches(value, annotation):
        expected = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")


def _matches(value: Any, annotation: Any) -> bool:
    """A small runtime check of YAML values against the simple annotations stages use."""
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin in (list, tuple):
        (item,) = typing.get_args(annotation)[:1] or (Any,)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)
