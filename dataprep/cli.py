"""The `dataprep` command: run a pipeline, print a run's stats again."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from dataprep import __version__, ledger, storage
from dataprep.errors import ConfigError, NoSpace, StageOverBudget, TaskCrashed


#: exit status of a run stopped on purpose, resumable by the same command once the cause is fixed
STOPPED_STATUS = {StageOverBudget: 4, TaskCrashed: 5, NoSpace: 6, OSError: 7}


INTERRUPTED = "dataprep: interrupted; run the same command again to resume"
HEAD_LOST = ("dataprep: stopped: the Ray head at {address} stopped answering (its node, or its GCS, was lost); the parts "
             "done are kept: start the cluster again and run the same command to resume")


def main(argv: list[str] | None = None) -> int:
    from dataprep import runtime
    from dataprep.runtime import sigterm_interrupts

    sigterm_interrupts()  # from the start: a scheduler's SIGTERM while Ray starts or the report is written is one line too
    runtime.SIGTERM_LINE = INTERRUPTED  # and while Ray runs, before Ray's client can end the process on its own
    runtime.HEAD_LOST_LINE = HEAD_LOST
    parser = argparse.ArgumentParser(prog="dataprep", description="Raw web corpus -> clean text -> training tokens.")
    parser.add_argument("--version", action="version", version=f"dataprep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a pipeline YAML (resumes an interrupted run of the same pipeline)")
    run.add_argument("pipeline", help="pipeline YAML file")
    for option, (kind, default, why) in option_help().items():
        flag, about = f"--{option.replace('_', '-')}", f"{why} (YAML key {option}; default: {default})"
        if kind is bool:  # a switch: given, it is true; not given, the YAML's (or the default) holds
            run.add_argument(flag, dest=option, action="store_const", const=True, default=None, help=about)
        else:
            run.add_argument(flag, dest=option, type=kind, help=about)
    run.add_argument("--overwrite", action="store_true", help="delete the output folder first if it holds another run")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")

    stats = commands.add_parser("stats", help="print the per-stage table of a finished run")
    stats.add_argument("output", help="a run's output folder (a path or a URI)")

    train = commands.add_parser("train-quality", help="train the fastText quality classifier (offline)")
    train.add_argument("--positive", required=True, help="reference text you want more of (file, folder or glob)")
    train.add_argument("--negative", required=True, help="raw crawl text (file, folder or glob)")
    train.add_argument("--output", default="quality_model.bin", help="model file to write (default: quality_model.bin)")
    train.add_argument("--text-column", dest="text_column", default="text")
    train.add_argument("--epoch", type=int, default=10)

    index = commands.add_parser("index", help="build a reference n-gram index for the decontaminate stage")
    index.add_argument("action", choices=["build"])
    index.add_argument("reference", help="reference corpus or evaluation set: Parquet/JSONL (file, folder, glob) or a .txt of one text per line")
    index.add_argument("--output", required=True, help="index folder to write")
    index.add_argument("--ngram", type=int, default=13, help="words per n-gram (default: 13, as GPT-3)")
    index.add_argument("--min-item-words", dest="min_item_words", type=int, default=8,
                       help="a reference item shorter than --ngram but this long is looked for whole inside documents (default: 8, GPT-3's shortest n-gram)")
    index.add_argument("--text-column", dest="text_column", default="text")

    explain = commands.add_parser("explain", help="where one document ended and why")
    explain.add_argument("output", help="a run's output folder (a path or a URI)")
    explain.add_argument("--id", dest="doc_id", required=True, help="the document's id")

    report = commands.add_parser("report", help="(re)write OUT/report.html: waterfall, reasons, histograms, samples, tuning")
    report.add_argument("output", help="a run's output folder (a path or a URI)")

    inspect = commands.add_parser("inspect", help="run one stage (after the stages before it) on a sample; print what it changed or removed")
    inspect.add_argument("pipeline", help="pipeline YAML file")
    inspect.add_argument("--stage", required=True, help="the stage's name in the pipeline, or its position (1 = the first "
                         "stage), for a stage the pipeline holds twice")
    inspect.add_argument("--sample", type=int, default=100, help="documents read from the input (default: 100)")
    inspect.add_argument("--input", help="input instead of the YAML's (file, folder or glob)")

    args = parser.parse_args(argv)
    try:
        status = _command(args)
        sys.stdout.flush()  # here, not at exit: a reader that went away (`| head`) is seen below
        return status
    except ConfigError as exc:
        cause = getattr(exc, "cause", None) or exc  # raised in a Ray task: its own message, not Ray's traceback
        print(f"dataprep: error: {cause}", file=sys.stderr)
        return 2
    except (StageOverBudget, TaskCrashed, NoSpace) as exc:
        print(f"dataprep: stopped: {exc}", file=sys.stderr)
        return STOPPED_STATUS[type(exc)]
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except BrokenPipeError:  # whoever read our output stopped (`| head`): nothing failed
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        return 0
    except Exception as exc:  # noqa: BLE001 (one line here, the traceback in a file)
        import tempfile
        import traceback

        log = Path(tempfile.gettempdir()) / f"dataprep-error-{os.getpid()}.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        cause = getattr(exc, "cause", None) or exc  # a Ray task's error: what the task raised
        line = re.sub(r"\x1b\[[0-9;]*m", "", str(cause)).strip().splitlines()
        what = f"{type(cause).__name__}: {line[0] if line else ''} (traceback in {log}); run the same command again to resume"
        if isinstance(cause, OSError):  # the disk or the object store failed (unreachable, denied, full): not a bug
            print(f"dataprep: stopped: reading or writing failed: {what} once it is fixed{_on_a_node(exc)}", file=sys.stderr)
            return STOPPED_STATUS[OSError]
        print(f"dataprep: internal error: {what}", file=sys.stderr)
        return 3


#: environment variables that configure an object store (their names are said, never their values)
STORE_VARIABLES = ("AWS_", "GOOGLE_", "GCS_", "CLOUDSDK_", "STORAGE_EMULATOR_HOST")
TASK_NODE = re.compile(r"\(pid=\d+, ip=([^,)\s]+)")


def _on_a_node(exc: BaseException) -> str:
    """For a store's failure in a Ray task on a joined cluster: the node, and the store settings
    this driver has, which that node's environment needs too (README: a node started in a shell
    without them reached for AWS's own endpoint instead of the store's)."""
    from ray.exceptions import RayTaskError

    from dataprep import runtime

    names = sorted(name for name in os.environ if name.startswith(STORE_VARIABLES))
    if not isinstance(exc, RayTaskError) or runtime.joined is None or not names or not storage.store_failed(exc.cause):
        return ""
    node = TASK_NODE.search(str(exc))  # Ray's task traceback opens "ray::fn() (pid=..., ip=...)"
    return f" (on the node at {node.group(1) if node else 'a worker'}: every node needs the store settings this driver has: {', '.join(names)})"


#: control characters a terminal acts on (escape sequences that set its title or colours, a
#: bell, a carriage return over the line), as documents' text and titles may hold them
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text for the terminal: its control characters written as `\\xNN`, not sent to act."""
    return CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def _command(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "train-quality":
        return _train_quality(args)
    if args.command == "index":
        return _index_build(args)
    if args.command == "explain":
        from dataprep.explain import explain as explain_document

        print(printable(explain_document(args.output, args.doc_id)))
        return 0
    if args.command == "report":
        from dataprep.report import write

        print(f"report: {storage.public(write(args.output))}")
        return 0
    if args.command == "inspect":
        from dataprep import pipeline as pipeline_module
        from dataprep.inspection import inspect as inspect_stage

        print(printable(inspect_stage(pipeline_module.load(args.pipeline, {"input": args.input}), args.stage, args.sample)))
        return 0
    return _stats(args.output)


def option_help() -> dict[str, tuple[type, object, str]]:
    """Every RunOptions field as a CLI flag: its type, default and help."""
    import dataclasses
    import typing

    from dataprep.pipeline import RunOptions

    hints = typing.get_type_hints(RunOptions)
    result = {}
    for field in dataclasses.fields(RunOptions):
        kind = next(t for t in (bool, int, float, str) if t in (hints[field.name], *typing.get_args(hints[field.name])))
        result[field.name] = (kind, field.default, field.metadata["help"])
    return result


def _run(args: argparse.Namespace) -> int:
    from dataprep import pipeline as pipeline_module
    from dataprep.run import run

    overrides = {k: getattr(args, k) for k in option_help()}
    pipeline = pipeline_module.load(args.pipeline, overrides)
    result = run(pipeline, overwrite=args.overwrite, progress=args.progress)
    if result.get("already_finished"):
        print(f"this run had already finished on {result['finished']}; nothing to do (--overwrite to run it again)")
    print(ledger.table(result))
    print(f"output: {storage.public(storage.normalize(pipeline.options.output))}")
    for problem in result["problems"]:
        print(f"dataprep: invariant broken: {problem}", file=sys.stderr)
    return 0 if result["invariant_ok"] else 1


def _train_quality(args: argparse.Namespace) -> int:
    from dataprep.stages.quality_classifier import train

    try:
        report = train(args.positive, args.negative, args.output, epoch=args.epoch, text_column=args.text_column)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    print(json.dumps(report, indent=2))
    return 0


def _index_build(args: argparse.Namespace) -> int:
    from dataprep.stages.decontaminate import build_index
    from dataprep.documents import read_texts

    if args.reference.endswith(".txt"):
        if not Path(args.reference).is_file():
            raise ConfigError(f"reference not found: {args.reference}")
        texts = [line for line in Path(args.reference).read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        texts = read_texts(args.reference, args.text_column)
    if not texts:
        where = "" if args.reference.endswith(".txt") else f" (no non-empty `{args.text_column}` column: --text-column names another)"
        raise ConfigError(f"no texts in {args.reference}{where}")
    if args.ngram < 1:
        raise ConfigError(f"--ngram must be at least 1, not {args.ngram}")
    if not 1 <= args.min_item_words <= args.ngram:
        raise ConfigError(f"--min-item-words must be within [1, --ngram ({args.ngram})], not {args.min_item_words}")
    print(json.dumps(build_index(texts, args.output, args.ngram, source=str(Path(args.reference).resolve()),
                                 min_item_words=args.min_item_words), indent=2))
    return 0


def _stats(output: str) -> int:
    from dataprep.layout import OutputLayout

    print(ledger.table(OutputLayout.of(output).finished_stats()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
