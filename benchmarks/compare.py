"""The peers side by side on whole pipelines: datatrove's LocalPipelineExecutor (and NeMo
Curator's Ray Data executor where it runs on CPU) next to `dataprep run`.

    bash benchmarks/setup_peers.sh                      # once: datatrove and NeMo Curator, each in its own venv
    python benchmarks/compare.py [--docs 0,100000] [--rows filters,minhash,exact,survey,survey_same] [--cpus 2]
    python benchmarks/compare.py --docs 0 --sides dataprep --repo /tmp/base   # our side only, from another checkout

Same input, same machine, each side a whole command in a fresh process (start-up included):
datatrove with 2 worker processes (benchmarks/datatrove_pipeline.py), ours as `dataprep run
--num-cpus 2`. Rows:
  filters  Gopher quality + repetition, C4, FineWeb, each with its defaults; NeMo Curator runs its
           published English heuristic cascade (27 filters after Gopher's and C4's rules) with 2
           CPUs (benchmarks/nemo_pipeline.py): the same job, other rules, so other decisions
  minhash  MinHash dedup: datatrove's four stages at 14 bands x 8 rows over word 5-grams, ours
           `minhash_dedup: {}` (the same bands and rows, candidates verified at Jaccard 0.7)
  exact    exact dedup: datatrove's three stages, ours `exact_dedup: {}`
  survey   pipelines/default.yaml end to end, against datatrove's filters -> exact -> MinHash ->
           PII (as far as datatrove goes offline: its language filter and tokenizer are downloads)
  survey_same  the same datatrove pipeline, against ours cut to its steps: the four filters, exact
           and MinHash dedup, and PII of e-mail and IP addresses without NER (what datatrove redacts)
Inputs: the 2,577 real documents of shared/data (id and text only), and --docs N synthetic
documents of ~5 KB made of real lines (5% exact and 5% near copies planted; in a temp folder
outside the repository, deleted afterwards): lines of every file, or with `--lines english` of
the documents the data's own labels call English (for the survey row, whose `language` stage
removes nearly every document that mixes lines of many languages: 99.7% of them at 100k). Per row: wall time, docs/s per core, peak RSS of the
process tree (sampled from /proc), documents kept by each side and the share of documents both
keep or both remove (by id). The machine is shared: the load average is printed with the figures.
Our fixed cost is printed first, on its own line, with the CPU seconds of each kind of process
of its tree (the driver, Ray's daemons, Ray's workers). `--repo` runs our side from another
checkout (a snapshot of main, say) and `--sides` picks the sides, so two versions of ours are
compared in one sitting with the peers run once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from dedup_speed import real_lines, synthetic_shards  # noqa: E402
from fixed_cost import ProcessCPU  # noqa: E402
from pipeline import TreeMemory  # noqa: E402

OUR_STAGES = {
    "filters": [{"gopher_quality": {}}, {"gopher_repetition": {}}, {"c4_quality": {}}, {"fineweb_quality": {}}],
    "minhash": [{"minhash_dedup": {}}],
    "exact": [{"exact_dedup": {}}],
    # the survey row's steps that datatrove runs, in its order, as ours: its four filters, exact and
    # MinHash dedup, and PII as datatrove's PIIFormatter redacts it (e-mail and IP addresses, no NER)
    "survey_same": [{"gopher_repetition": {}}, {"gopher_quality": {}}, {"c4_quality": {}}, {"fineweb_quality": {}},
                    {"exact_dedup": {}}, {"minhash_dedup": {}}, {"pii": {"entities": ["EMAIL_ADDRESS", "IP_ADDRESS"], "ner": False}}],
}
#: the survey row's pipeline, in the measured checkout (OURS, --repo)
SURVEY = Path("pipelines") / "default.yaml"
#: the rows each peer runs: NeMo Curator's dedup stages need a GPU (cuDF), and its filters are
#: its own published English cascade (benchmarks/nemo_pipeline.py), not Gopher/C4/FineWeb as
#: written: its decisions differ by design, its speed is what the row shows
PEER_ROWS = {"datatrove": {"filters", "minhash", "exact", "survey", "survey_same"}, "nemo": {"filters"}}
#: the peer pipeline a row runs, where its name differs (survey_same: datatrove's survey, against ours cut to its steps)
PEER_PIPELINE = {"survey_same": "survey"}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


#: our checkout: the `dataprep` our side runs (--repo)
OURS = REPO


class SideFailed(Exception):
    """A side's command exited non-zero: a peer's failure is printed as its row, ours ends the run."""


def measured(command: list[str], env: dict | None = None, sampler: type[TreeMemory] = TreeMemory,
             cwd: Path | None = None) -> tuple[float, float, int, str, TreeMemory]:
    """Run a command in a fresh process: wall seconds, CPU seconds of its process tree (Ray's
    daemons and workers, datatrove's workers), peak RSS of the tree, stdout. CPU seconds move
    far less than wall time when other work shares the machine, though not nothing: Ray's
    daemons poll for as long as a run lasts, so a slowed run also costs us more CPU."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    with sampler(proc.pid, interval=0.1) as memory:
        out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise SideFailed(f"{' '.join(command[:4])}... failed:\n{err.decode()[-3000:]}")
    return seconds, memory.cpu_seconds, memory.peak, out.decode(), memory


def ids_in(folder: Path) -> set[str]:
    files = sorted(folder.glob("*.parquet"))
    return {i for f in files for i in pq.read_table(f, columns=["id"])["id"].to_pylist()}


def ours(row: str, source: Path, work: Path, cpus: int) -> tuple[float, float, int, set[str]]:
    if row == "survey":
        spec = OURS / SURVEY
    else:
        spec = work / f"{row}.yaml"
        spec.write_text(json.dumps({"name": f"compare_{row}", "stages": OUR_STAGES[row]}), encoding="utf-8")
    out = work / f"ours_{row}"
    env = {**os.environ, "PYTHONPATH": str(OURS)}
    *figures, _, _ = measured([sys.executable, "-m", "dataprep.cli", "run", str(spec), "--input", str(source),
                            "--output", str(out), "--num-cpus", str(cpus), "--no-progress"], env, cwd=OURS)  # `-m` puts the cwd first
    return (*figures, ids_in(out / "kept"))


def theirs(row: str, source: Path, work: Path, peer: str, python: str, cpus: int) -> tuple[float, float, int, set[str]]:
    """A peer's whole command (benchmarks/<peer>_pipeline.py in its own venv); its python's folder
    goes first on PATH, where NeMo Curator's RayClient looks for the `ray` command."""
    folder = work / f"{peer}_{row}"
    env = {**os.environ, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    *figures, out, _ = measured([python, str(REPO / "benchmarks" / f"{peer}_pipeline.py"), PEER_PIPELINE.get(row, row), str(source), str(folder),
                                 "--workers", str(cpus)], env)
    return (*figures, ids_in(Path(json.loads(out.strip().splitlines()[-1])["kept"])))


def fixed_cost(work: Path, cpus: int) -> tuple[float, float, dict[str, float]]:
    """Our start-up: `dataprep run` of one stage on one tiny document, in a fresh process; also
    its CPU seconds by kind of process (driver, Ray's daemons, Ray's workers)."""
    folder = work / "tiny"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["t0"], "text": ["One tiny document, to time what every run pays before its first part."]}),
                   folder / "one.parquet")
    spec = work / "tiny.yaml"
    spec.write_text(json.dumps({"name": "tiny", "stages": [{"normalize": {}}]}), encoding="utf-8")
    seconds, cpu, _, _, tree = measured([sys.executable, "-m", "dataprep.cli", "run", str(spec), "--input", str(folder), "--output",
                                   str(work / "tiny_out"), "--num-cpus", str(cpus), "--no-progress"], {**os.environ, "PYTHONPATH": str(OURS)},
                                  ProcessCPU, OURS)
    kinds: dict[str, float] = {}
    for process_cpu, name in tree.by_process():
        kind = "workers" if name.startswith("ray::") and "Agent" not in name else "driver" if "dataprep" in name else "Ray's daemons"
        kinds[kind] = kinds.get(kind, 0.0) + process_cpu
    return seconds, cpu, kinds


def real_input(data: Path, folder: Path) -> int:
    """shared/data's documents (id and text, one file per input file): what both sides read."""
    folder.mkdir(parents=True)
    total = 0
    for path in sorted(data.glob("*.parquet")):
        table = pq.read_table(path, columns=["id", "text"])
        pq.write_table(table.cast(pa.schema([("id", pa.string()), ("text", pa.string())])), folder / path.name)
        total += table.num_rows
    return total


#: the shared/data documents whose own labels say English (no model of ours picks them): the
#: crawl samples labelled "en", OSCAR's English, and the Enron mails
ENGLISH = {"03_oscar2019_multilingual.parquet": ("oscar_lang", "en"), "04_cc_processed_samples.parquet": ("lang_label", "en"),
           "05_emails_enron_dpk.parquet": (None, None)}


def english_lines(data: Path) -> pa.Array:
    """The distinct lines of >= 5 words of shared/data's English documents (ENGLISH)."""
    import pyarrow.compute as pc

    texts = []
    for name, (column, value) in ENGLISH.items():
        table = pq.read_table(data / name)
        texts.append((table.filter(pc.equal(table[column], value)) if column else table)["text"].combine_chunks().cast(pa.large_string()))
    lines = pc.utf8_trim_whitespace(pc.list_flatten(pc.split_pattern(pa.concat_arrays(texts), "\n")))
    return pc.unique(lines.filter(pc.greater_equal(pc.list_value_length(pc.utf8_split_whitespace(lines)), 5)))


def synthetic_input(data: Path, folder: Path, docs: int, english: bool = False) -> int:
    folder.mkdir(parents=True)
    synthetic_shards(english_lines(data) if english else real_lines(data), docs, folder, np.random.default_rng(docs), doc_bytes=5000)
    return docs


def compare(label: str, source: Path, docs: int, work: Path, rows: list[str], peers: dict[str, str], cpus: int,
            ours_too: bool = True) -> None:
    print(f"\n{label}: {docs:,} documents, {sum(f.stat().st_size for f in source.glob('*.parquet')) / 1e6:.0f} MB of Parquet, "
          f"{cpus} cores; load average {load()}", flush=True)
    print(f"{'row':<11} {'side':<10} {'wall s':>8} {'docs/s/core':>12} {'CPU s':>8} {'docs/CPU s':>10} {'peak tree':>10} "
          f"{'kept':>8}  agreement (by id)")
    every = ids_in(source)
    for row in rows:
        a = ours(row, source, work, cpus) if ours_too else None
        sides = [("dataprep", a, f"  load {load()}")] if a else []
        for peer, python in peers.items():
            if row in PEER_ROWS[peer]:
                try:
                    b = theirs(row, source, work, peer, python, cpus)
                except SideFailed as failure:  # one peer's crash (say its own Ray start) costs its row, not the table
                    print(f"{row:<11} {peer:<10} failed: {str(failure).strip().splitlines()[-1][:300]}", flush=True)
                    continue
                versus = ""
                if a:
                    agree = sum((i in a[3]) == (i in b[3]) for i in every) / len(every)
                    versus = f"{agree:.2%}; {peer}/ours: wall {b[0] / a[0]:.1f}x, CPU {b[1] / a[1]:.1f}x; "
                sides.append((peer, b, f"  {versus}load {load()}"))
        for side, (seconds, cpu, peak, kept), note in sides:
            print(f"{row:<11} {side:<10} {seconds:>8.1f} {docs / seconds / cpus:>12,.0f} {cpu:>8.1f} {docs / cpu:>10,.0f} "
                  f"{peak / 2**30:>8.2f} G {len(kept):>8,}{note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DATAPREP_SHARED_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--peers", default=str(REPO / "benchmarks" / ".peers" / "bin" / "python"), help="datatrove's python")
    parser.add_argument("--nemo", default=str(REPO / "benchmarks" / ".nemo" / "bin" / "python"), help="NeMo Curator's python")
    parser.add_argument("--docs", default="0,100000", help="corpus sizes: 0 = shared/data's real documents, N = N synthetic ones")
    parser.add_argument("--rows", default="filters,minhash,exact,survey,survey_same")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--lines", choices=["all", "english"], default="all",
                        help="the synthetic documents' lines: of every shared/data file (each document then mixes "
                             "languages, and our `language` stage removes nearly all of them in the survey row), or of "
                             "its English documents only (ENGLISH): what the survey row needs")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()), help="where inputs and outputs go (deleted after)")
    parser.add_argument("--sides", default="dataprep,datatrove,nemo", help="which sides run")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout our side runs (e.g. a snapshot of main)")
    args = parser.parse_args()
    global OURS
    OURS = args.repo.resolve()
    sides = args.sides.split(",")
    if unknown := sorted(set(sides) - {"dataprep", "datatrove", "nemo"}):
        raise SystemExit(f"compare.py: --sides: unknown {', '.join(unknown)} (known: dataprep, datatrove, nemo)")
    peers = {}
    if "datatrove" in sides:
        if not Path(args.peers).is_file():
            raise SystemExit(f"no peers' venv at {args.peers}: run bash benchmarks/setup_peers.sh")
        peers["datatrove"] = args.peers
    if "nemo" in sides:
        if Path(args.nemo).is_file():
            peers["nemo"] = args.nemo
        else:
            print(f"no NeMo Curator venv at {args.nemo} (bash benchmarks/setup_peers.sh): its row is left out", flush=True)
    rows = args.rows.split(",")
    work = Path(tempfile.mkdtemp(prefix="compare-", dir=args.tmp))
    try:
        if "dataprep" in sides:
            seconds, cpu, kinds = fixed_cost(work, args.cpus)
            print(f"our fixed cost ({OURS}): {seconds:.1f} s wall, {cpu:.1f} s CPU of the process tree (`dataprep run` of "
                  f"normalize on 1 document, fresh process: Python imports, Ray start-up, id check, first task), of which "
                  f"{', '.join(f'{kind} {value:.1f} s' for kind, value in sorted(kinds.items()))}; load average {load()}", flush=True)
        for size in (int(n) for n in args.docs.split(",")):
            case = work / f"n{size}"
            if size:
                docs = synthetic_input(args.data, case / "input", size, args.lines == "english")
                label = f"synthetic documents of {'English ' if args.lines == 'english' else ''}real lines (~5 KB)"
            else:
                docs = real_input(args.data, case / "input")
                label = f"real documents of {args.data}"
            compare(label, case / "input", docs, case, rows, peers, args.cpus, "dataprep" in sides)
            shutil.rmtree(case)
    except SideFailed as failure:  # ours: the run ends with the command's error
        raise SystemExit(str(failure)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
