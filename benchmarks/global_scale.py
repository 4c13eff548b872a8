"""Global stages at scale: flat memory from 1M to 5M documents, near-linear time, same removals.

    python benchmarks/global_scale.py --sizes 1000000,2000000,5000000 --uncapped 1000000
    python benchmarks/global_scale.py --phases 100000 --doc-bytes 5000

Scale mode: `dataprep run` (the real CLI, a fresh process per size) of [exact_dedup,
minhash_dedup: {}] (FineWeb's 14 x 8 bands, verify 0.7) over synthetic documents of real text
(random lines of shared/data, ~1 KB each; 5% exact copies and 5% near copies, one line added, of
documents of the same or the previous shard). Caps: the embedded Ray's object store is 2 GiB
(runtime.OBJECT_STORE_BYTES, dataprep's fixed setting), and every process of the run (driver,
raylet, each Ray worker) gets RLIMIT_DATA = --worker-cap (`prlimit --data`, inherited by every
process Ray starts; it bounds a process's private heap, not the shared object store it maps), so
a worker that outgrew it would fail the run. Printed per size: wall time, docs/s, peak RSS of the
driver and of the largest Ray worker (the process tree sampled with psutil every 0.25 s; a
worker's RSS includes the object-store pages it maps; `private` is its RSS less shared pages,
what RLIMIT_DATA bounds), and the removals; --uncapped N runs size N
again without the RLIMIT_DATA cap and compares the removals. --trace-driver S has the driver sample
its own memory every S seconds (RSS by kind, Arrow's live bytes, glibc's heap in use and kept
free, anonymous memory by mapping, the object references it holds in Ray, the runner's phase)
and prints, per phase, the sample at its peak (`traced_driver`, `print_trace`).

Phases mode: one in-process run of [exact_dedup] over N documents of --doc-bytes, with the
runner's corpus-wide phases timed from the driver: the id check, keys, resolve (the shuffle and
the per-part decision files) and decide (every part read, decided and written).

Inputs go to a temporary folder outside the repository (--tmp), after a check of free disk, and
are deleted afterwards. Figures are noisy on a shared machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_speed import real_lines, synthetic_shards  # noqa: E402

SHARD_DOCS = 50_000  # ~50 MB files of ~1 KB documents: two parts each
STAGES = "name: global_scale\nstages:\n  - exact_dedup: {}\n  - minhash_dedup: {}\n"


class TreePeaks:
    """Peak RSS of a process (the driver) and of the largest Ray worker among its descendants."""

    def __init__(self, pid: int, interval: float = 0.25, cap: int | None = None):
        import psutil

        self.root, self.interval, self.driver, self.worker, self.tree = psutil.Process(pid), interval, 0, 0, 0
        self.private = 0  # the largest worker's RSS less its shared pages (the object store it maps)
        self.driver_private = 0  # the same for the driver
        self.cap, self.capped = cap, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreePeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                own = self.root.memory_info()
                self.driver, self.driver_private = max(self.driver, own.rss), max(self.driver_private, own.rss - own.shared)
                children = self.root.children(recursive=True)
            except psutil.Error:
                break
            total = self.root.memory_info().rss if self.root.is_running() else 0
            for child in children:
                try:
                    memory = child.memory_info()
                    rss = memory.rss
                    title = " ".join(child.cmdline()[:1])
                except psutil.Error:
                    continue
                total += rss
                if title.startswith("ray::") and not title.endswith("Agent"):  # a worker names itself ray::<task> (not the node's agents)
                    self.worker = max(self.worker, rss)
                    self.private = max(self.private, rss - memory.shared)
                    if self.cap and child.pid not in self.capped:  # a new worker: cap its private memory
                        try:
                            child.rlimit(psutil.RLIMIT_DATA, (self.cap, self.cap))
                            self.capped.add(child.pid)
                        except psutil.Error:
                            pass
            self.tree = max(self.tree, total)
            self._stop.wait(self.interval)


def tree_cpu() -> float:
    """CPU seconds (user + system) used so far by this process and every descendant alive
    (Ray's workers stay up between tasks, so a phase's delta counts its tasks' work)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


#: the driver's phases, named where `run` calls them (patched in by `traced_driver`)
TRACED_PHASES = ("_duplicate_ids", "_global_phases", "_execute", "_check_error_budget", "_summarise")


def _proc_status() -> dict[str, int]:
    """This process's resident memory by kind (/proc/self/status, bytes): anonymous (its heaps),
    file-backed (code), shared memory (the Ray object store pages it has mapped and touched)."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS", "RssAnon", "RssFile", "RssShmem")):
                name, value = line.split(":")
                found[name] = int(value.split()[0]) * 1024
    return found


def _anonymous_maps() -> dict[str, int]:
    """Resident anonymous memory of this process by mapping (/proc/self/smaps, bytes), named by
    what makes mappings of that size: glibc's main heap ([heap]) and thread arenas (64 MiB),
    CPython's object arenas (1 MiB each), mimalloc's arenas (1 GiB and more: Arrow's pool), the rest."""
    found: dict[str, int] = {}
    size = 0
    name = ""
    with open("/proc/self/smaps", encoding="ascii", errors="replace") as smaps:
        for line in smaps:
            first = line.split(maxsplit=6)
            if "-" in first[0] and not line[0].isupper():  # a mapping's header: range perms offset dev inode [path]
                low, high = (int(x, 16) for x in first[0].split("-"))
                size, path = high - low, first[5].strip() if len(first) > 5 else ""
                name = ("heap" if path == "[heap]" else "" if path else "mimalloc" if size >= 2**30 else
                        "glibc arenas" if low % 2**26 == 0 and size <= 2**26 else  # a thread arena's heap: 64 MiB-aligned
                        "MiB multiples" if size % 2**20 == 0 else "other anon")  # CPython's arenas are 1 MiB (adjacent ones merge)
            elif line.startswith("Anonymous:") and name:
                found[name] = found.get(name, 0) + int(line.split()[1]) * 1024
    return found


def _glibc_heap() -> tuple[int, int, int]:
    """glibc malloc's bytes in use, free but kept in its arenas, and in mmapped chunks (mallinfo2)."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return info.uordblks, info.fordblks, info.hblkhd


def traced_driver(trace: str, interval: float, argv: list[str]) -> int:
    """`dataprep` with `argv` in this process, with a thread writing the driver's memory every
    `interval` s to `trace` (JSON lines): RSS by kind, Arrow's live bytes (its pool), glibc's heap
    in use and kept free, Python's allocated blocks, the object references this process holds in
    Ray, and the runner's phase at that moment."""
    import pyarrow as pa

    from dataprep import cli, report
    from dataprep import run as runner

    phase = ["start"]

    def labelled(owner, name: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            outer, phase[0] = phase[0], name.strip("_")
            try:
                return inner(*args, **kwargs)
            finally:
                phase[0] = f"after {name.strip('_')}"
                del outer
        setattr(owner, name, wrapper)

    for name in TRACED_PHASES:
        labelled(runner, name)
    labelled(report, "write")
    started = time.perf_counter()
    stop = threading.Event()

    def sample(out) -> None:
        refs = 0
        try:
            import ray

            if ray.is_initialized():
                refs = len(ray._private.worker.global_worker.core_worker.get_all_reference_counts())
        except Exception:  # noqa: BLE001 (Ray starting or stopping)
            refs = -1
        in_use, free, mmapped = _glibc_heap()
        row = {"t": round(time.perf_counter() - started, 1), "phase": phase[0], **_proc_status(),
               "arrow": pa.total_allocated_bytes(), "arrow_pool": pa.default_memory_pool().backend_name,
               "malloc_used": in_use, "malloc_free": free, "malloc_mmap": mmapped,
               "py_blocks": sys.getallocatedblocks(), "ray_refs": refs, "anon": _anonymous_maps()}
        out.write(json.dumps(row) + "\n")
        out.flush()

    def loop() -> None:
        with open(trace, "w", encoding="utf-8") as out:
            while not stop.wait(interval):
                sample(out)
            sample(out)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        return cli.main(argv)
    finally:
        stop.set()
        thread.join()


def print_trace(trace: Path) -> None:
    """The driver's trace: at each phase's peak RSS, what held it (GB)."""
    rows = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines() if line.strip()]
    peaks: dict[str, dict] = {}
    for row in rows:
        if row["phase"] not in peaks or row["VmRSS"] > peaks[row["phase"]]["VmRSS"]:
            peaks[row["phase"]] = row
    gb = 2**30
    print(f"  driver trace ({len(rows)} samples), at each phase's peak RSS, GB: rss = anon + file + shmem; arrow, malloc used / free, py blocks, ray refs")
    for name, row in peaks.items():
        print(f"    {row['t']:>7.1f} s {name:<26} rss {row['VmRSS'] / gb:.2f} = {row['RssAnon'] / gb:.2f} + {row['RssFile'] / gb:.2f}"
              f" + {row['RssShmem'] / gb:.2f}; arrow {row['arrow'] / gb:.3f} ({row['arrow_pool']}), malloc {row['malloc_used'] / gb:.2f}"
              f" / {row['malloc_free'] / gb:.2f} (mmap {row['malloc_mmap'] / gb:.2f}), py blocks {row['py_blocks']:,}, ray refs {row['ray_refs']:,}",
              flush=True)
        if "anon" in row:
            print("      anonymous by mapping: " + ", ".join(f"{k} {v / gb:.2f}" for k, v in sorted(row["anon"].items(), key=lambda kv: -kv[1])))


def check_disk(folder: Path, n_docs: int, doc_bytes: int) -> None:
    """Input (~0.45 of the text, zstd), keys and shuffle spill (~1.5x), output (~1x): ask for 4x the text."""
    need = 4 * n_docs * doc_bytes
    free = shutil.disk_usage(folder).free
    if free < need:
        raise SystemExit(f"{folder}: {free / 2**30:.1f} GiB free, {need / 2**30:.1f} GiB needed for {n_docs:,} documents")


def whole_run(n_docs: int, doc_bytes: int, lines: pa.Array, tmp: Path, cap: str | None, trace: float = 0.0) -> dict:
    """Generate n_docs, run the CLI in a fresh process (capped or not), measure, clean up; with
    `trace` (seconds), the driver samples its own memory that often (`traced_driver`) and the
    trace's summary is printed."""
    folder = Path(tempfile.mkdtemp(prefix=f"global-scale-{n_docs}-", dir=tmp))
    try:
        (folder / "input").mkdir()
        planted = synthetic_shards(lines, n_docs, folder / "input", np.random.default_rng(n_docs), doc_bytes, SHARD_DOCS)
        (folder / "p.yaml").write_text(STAGES, encoding="utf-8")
        driver = [sys.executable, "-m", "dataprep.cli"]
        if trace:
            driver = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import global_scale; "
                      f"sys.exit(global_scale.traced_driver({str(folder / 'trace.jsonl')!r}, {trace}, sys.argv[1:]))"]
        cmd = [*driver, "run", str(folder / "p.yaml"), "--input", str(folder / "input"),
               "--output", str(folder / "out"), "--no-progress"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
        with TreePeaks(proc.pid, cap=int(float(cap) * 2**30) if cap else None) as peaks:
            _, err = proc.communicate()
        seconds = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"{n_docs:,} documents: dataprep run failed: {err.decode().strip()[-3000:]}")
        stats = json.loads((folder / "out" / "stats.json").read_text(encoding="utf-8"))
        removed = {s["name"]: sum(s["removed"].values()) for s in stats["stages"]}
        return {"docs": n_docs, "mb": planted["bytes"] / 1e6, "seconds": seconds, "driver": peaks.driver, "driver_private": peaks.driver_private,
                "worker": peaks.worker, "private": peaks.private, "tree": peaks.tree, "removed": removed, "planted": planted,
                "corpus_seconds": {s["name"]: s.get("corpus_seconds") for s in stats["stages"]}}
    finally:
        if trace and (folder / "trace.jsonl").exists():  # a failed run's too: where it stood
            print_trace(folder / "trace.jsonl")
        shutil.rmtree(folder, ignore_errors=True)


def scaling(sizes: list[int], doc_bytes: int, data: Path, tmp: Path, cap: str, uncapped: list[int], trace: float = 0.0) -> None:
    lines = real_lines(data)
    for n in sizes:
        check_disk(tmp, n, doc_bytes)
    print(f"[exact_dedup, minhash_dedup: {{}}] by `dataprep run`, {os.cpu_count()} cores, object store 2 GiB, "
          f"RLIMIT_DATA {cap} GiB per process; synthetic documents of real lines, ~{doc_bytes} bytes; Ray spills until the disk is "
          f"{float(os.environ.get('RAY_local_fs_capacity_threshold', 0.95)):.0%} full ({shutil.disk_usage(tmp).free / 2**30:.0f} GiB free now)", flush=True)
    print(f"{'docs':>10} {'text MB':>8} {'wall s':>8} {'docs/s':>7} {'x linear':>8} {'driver':>8} {'drv priv':>8} {'worker':>8} {'private':>8} {'tree':>7}"
          f" {'exact':>7} {'near':>7}  {'load':>14}  corpus s", flush=True)
    previous = None
    for n in sizes:
        row = whole_run(n, doc_bytes, lines, tmp, cap, trace)
        growth = (row["seconds"] / previous["seconds"]) / (n / previous["docs"]) if previous else 1.0
        previous = row
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{n:>10,} {row['mb']:>8,.0f} {row['seconds']:>8.1f} {n / row['seconds']:>7,.0f} {growth:>8.2f} "
              f"{row['driver'] / 2**30:>6.2f} G {row['driver_private'] / 2**30:>6.2f} G {row['worker'] / 2**30:>6.2f} G {row['private'] / 2**30:>6.2f} G {row['tree'] / 2**30:>5.1f} G"
              f" {row['removed'].get('exact_dedup', 0):>7,} {row['removed'].get('minhash_dedup', 0):>7,}  {load:>14}"
              f"  {json.dumps(row['corpus_seconds'])}", flush=True)
        if n in uncapped:  # the same input (same seed) without the cap: the removals must not change
            free = whole_run(n, doc_bytes, lines, tmp, None)
            same = free["removed"] == row["removed"]
            print(f"{'uncapped':>10} {free['mb']:>8,.0f} {free['seconds']:>8.1f} {n / free['seconds']:>7,.0f} {'':>8} "
                  f"{free['driver'] / 2**30:>6.2f} G {free['driver_private'] / 2**30:>6.2f} G {free['worker'] / 2**30:>6.2f} G {free['private'] / 2**30:>6.2f} G {free['tree'] / 2**30:>5.1f} G"
                  f" {free['removed'].get('exact_dedup', 0):>7,} {free['removed'].get('minhash_dedup', 0):>7,}"
                  f"  removals {'the same as capped' if same else 'DIFFERENT from capped'}", flush=True)


def phases(n_docs: int, doc_bytes: int, data: Path, tmp: Path) -> None:
    """One in-process exact_dedup run with the runner's phases timed (wall and this process's CPU)."""
    from dataprep import pipeline, resolution
    from dataprep import run as runner

    check_disk(tmp, n_docs, doc_bytes)
    folder = Path(tempfile.mkdtemp(prefix=f"global-phases-{n_docs}-", dir=tmp))
    wall: dict[str, tuple[float, float]] = {}
    calls: list[tuple[float, float]] = []

    def timed(owner, name: str, label: str | None) -> None:
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started, cpu = time.perf_counter(), tree_cpu()
            try:
                return inner(*args, **kwargs)
            finally:
                spent = (time.perf_counter() - started, tree_cpu() - cpu)
                if label:
                    wall[label] = tuple(a + b for a, b in zip(wall.get(label, (0.0, 0.0)), spent))
                else:
                    calls.append(spent)
        setattr(owner, name, wrapper)

    try:
        (folder / "input").mkdir()
        synthetic_shards(real_lines(data), n_docs, folder / "input", np.random.default_rng(n_docs), doc_bytes, SHARD_DOCS)
        timed(runner, "_duplicate_ids", "id check")
        timed(runner, "_global_phases", "keys + resolve")
        timed(resolution, "write_decisions", None)
        timed(runner, "_execute", "decide + write")
        spec = {"name": "phases", "input": str(folder / "input"), "output": str(folder / "out"), "stages": [{"exact_dedup": {}}]}
        started = time.perf_counter()
        stats = runner.run(pipeline.from_dict(spec))
        total = time.perf_counter() - started
        wall["resolve"] = calls[-1]  # the id check writes its repeated ids first, then the stage's decisions
        wall["keys"] = tuple(a - b for a, b in zip(wall.pop("keys + resolve"), wall["resolve"]))
        order = ["id check", "keys", "resolve", "decide + write"]
        print(f"exact_dedup over {n_docs:,} documents of ~{doc_bytes} bytes, {os.cpu_count()} cores, load {os.getloadavg()}")
        print("  wall s / CPU s of the process tree: " + ", ".join(f"{k} {wall[k][0]:.1f} / {wall[k][1]:.1f}" for k in order)
              + f"; whole run {total:.1f} s wall (the rest: planning, Ray start-up, summary, report); "
              f"removed {stats['stages'][0]['removed']}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sizes", default="", help="comma-separated corpus sizes for the scale table")
    parser.add_argument("--uncapped", default="", help="sizes to run again without the cap, comparing removals")
    parser.add_argument("--phases", type=int, default=0, help="documents of the phases run (0: none)")
    parser.add_argument("--doc-bytes", type=int, default=1000)
    parser.add_argument("--worker-cap", default="3", help="RLIMIT_DATA of every process of the run in GiB (prlimit --data)")
    parser.add_argument("--trace-driver", type=float, default=0.0, metavar="SECONDS",
                        help="the driver samples its own memory this often (RSS by kind, Arrow, malloc, Ray refs) and a summary is printed per size")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()), help="where inputs and outputs go")
    args = parser.parse_args()
    if args.phases:
        phases(args.phases, args.doc_bytes, args.data, args.tmp)
    if args.sizes:
        scaling([int(n) for n in args.sizes.split(",")], args.doc_bytes, args.data, args.tmp, args.worker_cap,
                [int(n) for n in args.uncapped.split(",") if n], args.trace_driver)


if __name__ == "__main__":
    main()
