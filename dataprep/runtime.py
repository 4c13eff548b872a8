"""Ray start-up: an embedded local Ray by default, a running cluster by address.

Embedded Ray gets every core and a fixed object store (so a run's memory is set by this code,
not by what the machine happens to have), quiet logs, and only the processes a run on one machine
uses: its head node is started through Ray's own `Node` (what `ray.init` and `ray start` build)
without the autoscaler's monitor (an embedded node never scales), the log monitor (it forwards
workers' output to the driver, which `log_to_driver=False` turns away) or the dashboard server
(`include_dashboard=False` still starts it, for usage statistics); the raylet's two agents stay,
as the raylet needs them. Each of the three costs every run about 1 CPU s of start-up, and the
dashboard's sits in `ray.init`'s wait. With `--ray-address`
(or RAY_ADDRESS) the run joins that cluster instead; every node needs dataprep installed and
must see the input and output paths.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dataprep.errors import ConfigError

#: what Ray's client logs when a cluster rejects its token
AUTH_FAILURE = "InvalidAuthToken"
#: what Ray raises (a bare Exception) when a node it starts does not register in time
NODE_TIMEOUT = "timed out during startup"
#: object store of an embedded Ray: parts are small and flow straight to Parquet, so 2 GiB is
#: plenty, and leaves the rest of a 24 GB box to the workers' heaps
OBJECT_STORE_BYTES = 2 * 2**30


def quiet_environment() -> None:
    """Environment settings that must be in place before Ray is imported or started."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    if not sys.stdout.isatty():  # Ray's own lines (a worker died, a task retried) without colour codes in a log file
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")


def start(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Start or join Ray unless it is already running in this process; True if this call started it."""
    quiet_environment()
    _import_ray_without_its_crash_handler()
    import ray
    from ray.exceptions import AuthenticationError

    global joined
    address = address or os.environ.get("RAY_ADDRESS") or None
    _check_token_file()
    joined = address if address != "local" else None  # ("local" starts a cluster of this machine's own)
    if address:
        _check_reachable(address)
    if ray.is_initialized():
        return False
    common = {"logging_level": logging.ERROR, "log_to_driver": False, "configure_logging": True}
    with _stderr_captured() as captured, _sigterm_held() as held:
        try:
            if address:
                ray.init(address=address, **common)
            else:
                _start_embedded(num_cpus or os.cpu_count() or 1, common)
            failure = None
        except AuthenticationError:  # token authentication on, and no token here
            failure, logged = "no token", AUTH_FAILURE
        except (ConnectionError, RuntimeError, ValueError) as exc:
            failure, logged = str(exc).splitlines()[0], captured.read()
        except Exception as exc:  # noqa: BLE001 (Ray raises a bare Exception when its node does not come up)
            if NODE_TIMEOUT not in str(exc):
                raise
            failure, logged = f"its node did not register within Ray's fixed 30 s, twice (load average {os.getloadavg()[0]:.0f})", ""
    if failure is not None:
        if AUTH_FAILURE in logged:
            raise ConfigError(f"Ray at {address or 'this machine'} refused this process's token (Ray's token authentication): set RAY_AUTH_MODE=token "
                              "and RAY_AUTH_TOKEN to the cluster's token (on the head: `ray get-auth-token`) here and on every "
                              "node, or RAY_AUTH_TOKEN_PATH to a file holding it (README: running on a cluster)")
        raise ConfigError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {failure}")
    if held:  # a SIGTERM came while Ray started: stopped as Ctrl-C stops a run, once Ray can be stopped whole
        stop()
        raise KeyboardInterrupt
    _quiet_loggers()
    return True


@contextmanager
def _sigterm_held() -> Iterator[list[int]]:
    """SIGTERM noted, not acted on, while Ray starts (the list it yields is not empty once one
    came). Ray's own handlers, set on the way, exit from the middle of its start-up (status 1, or
    a segmentation fault as its half-made state was torn down): they are not set meanwhile."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    import ray._private.utils as ray_utils

    setter = ray_utils.set_sigterm_handler
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))
    ray_utils.set_sigterm_handler = lambda handler: None
    try:
        yield held
    finally:
        ray_utils.set_sigterm_handler = setter
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _import_ray_without_its_crash_handler() -> None:
    """Import Ray with its failure-signal handler off in this process (the driver) only: that
    handler also takes SIGTERM, and one arriving while Ray starts (before the session sets its
    own) aborted the run with exit status 134 and nothing in the log, where it must be one line
    and 130. Ray reads the switch once, at import; it is taken out of the environment again, so
    the nodes and workers this process starts keep their handler (a crash's stack in their logs)."""
    if "ray" in sys.modules:
        return
    users = os.environ.get("RAY_DISABLE_FAILURE_SIGNAL_HANDLER")
    os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"] = "1"
    try:
        import ray  # noqa: F401
    finally:
        if users is None:
            del os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"]
        else:  # the user's own setting, for the processes this one starts
            os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"] = users


def _check_token_file() -> None:
    """A RAY_AUTH_TOKEN_PATH that names no readable file is the user's typo: said as such, where
    Ray would go on without a token and the cluster's refusal would blame the token."""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if not path:
        return
    try:
        with open(path, "rb") as file:
            token = file.read().strip()
    except OSError as exc:
        raise ConfigError(f"RAY_AUTH_TOKEN_PATH is {path}, which cannot be read ({exc.strerror}): point it at the file "
                          "holding the cluster's token (on the head: `ray get-auth-token`)") from None
    if not token:
        raise ConfigError(f"RAY_AUTH_TOKEN_PATH is {path}, which is empty: it must hold the cluster's token "
                          "(on the head: `ray get-auth-token`)")


def data() -> Any:
    """Ray Data (the module), set up for our runs: where a run builds its first dataset, not at
    start-up, as a run with no corpus-wide shuffle (a small input's id check and exact_dedup
    resolve on the driver) need not import it (0.75 CPU s, pandas included)."""
    import ray.data
    from ray.data.context import ShuffleStrategy

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_rich_progress_bars = False
    # Resolves shuffle through files of their own (resolution.by_hash); Ray Data's group-by
    # remains for small aggregates (train_tokenizer's counts per language). The default hash
    # shuffle starts a pool of aggregator actors (seconds of fixed cost per group-by); the
    # pull-based sort shuffle runs as plain tasks and is ten times cheaper at this size.
    context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    _quiet_loggers()  # again: importing Ray Data sets up its loggers
    return ray.data


#: retries of a task whose worker or node died: enough to ride out lost nodes and a kill or two;
#: a task that kills its worker every time (memory, a crash in a C library) stops the run instead
CRASH_RETRIES = 4


def killed_its_worker(what: str, exc: BaseException) -> str:
    """The start of the one line for a task whose worker died on every retry."""
    lines = str(exc).strip().splitlines()
    return f"{what} killed its worker {CRASH_RETRIES + 1} times ({type(exc).__name__}: {(lines[0] if lines else '')[:200]})"


def worker_lost() -> tuple[type[BaseException], ...]:
    """Ray's errors for a task whose worker died, was killed for memory, or lost its node: what
    CRASH_RETRIES retries, and what stops a run with one line once they are spent."""
    from ray.exceptions import NodeDiedError, OutOfMemoryError, WorkerCrashedError

    return WorkerCrashedError, NodeDiedError, OutOfMemoryError


def release_memory() -> None:
    """Give the memory this process's allocators keep after a phase back to the system: Arrow's
    pool (mimalloc keeps the pages of freed buffers) and glibc's (free chunks in the arenas of
    Ray's threads). Measured on the driver at 5 M documents (benchmarks/global_scale.py
    --trace-driver): after the id check, exact_dedup and MinHash's shuffles on Ray Data, glibc
    held 0.17, 0.24, then 0.32 GB free against 0.06 GB in use; the report leaves ~0.2 GB in
    mimalloc with no Arrow buffer alive.
    Kept, those pages add up from phase to phase; here they go between phases (a few ms)."""
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError, TypeError):  # not glibc (macOS, musl, Windows): nothing of this kind to give back
        pass


def _quiet_loggers() -> None:
    """Ray's loggers to errors only; Ray Data's not to the terminal at all (its session log file
    keeps them): a dataset whose task failed printed 144-221 lines there (its abort, a traceback,
    the failed transform) above the run's own one line saying why it stopped."""
    for name in ("ray", "ray.data", "ray._private"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for handler in logging.getLogger("ray.data").handlers:
        if handler.get_name() == "console":
            handler.setLevel(logging.CRITICAL + 1)


#: the embedded head node this process started (`stop` ends its processes), None otherwise
_head: Any = None


def _start_embedded(num_cpus: int, common: dict[str, Any]) -> None:
    """Embedded Ray: a head node of our own (`_head_node`), and this process as its driver; or,
    on a Ray whose private node API differs from the one this was written for, Ray's own local
    start (`ray.init(address="local")`, its daemons included: slower to start, the same run).
    Tried twice: on a machine loaded far past its cores a starting node can miss the 30 s Ray
    gives it to register (fixed in Ray), so one slow start is retried before the run gives up
    with one line."""
    global _head
    import ray

    for attempt in range(2):
        try:
            _head = _head_node(num_cpus)
            if _head is None:
                ray.init(address="local", num_cpus=num_cpus, object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False, **common)
            else:
                ray.init(address=_head.address, **common)
            return
        except Exception as exc:  # noqa: BLE001 (see NODE_TIMEOUT)
            stop()
            if NODE_TIMEOUT not in str(exc) or attempt:
                raise


def _head_node(num_cpus: int) -> Any | None:
    """Ray's head node as `ray.init(address="local")` starts it (same parameters, token
    authentication on unless RAY_AUTH_MODE says otherwise, a reaper that ends it if this process
    dies), less the autoscaler's monitor, the log monitor and the dashboard server (see the
    module's docstring). None when this Ray's private API (Ray 2.60's `Node`, `RayParams` and
    token set-up) differs: pyproject allows later 2.x releases."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            enable_token_auth_by_default,
            ensure_token_if_auth_enabled,
        )
        from ray._private.node import Node
        from ray._private.parameter import RayParams

        params = RayParams(num_cpus=num_cpus, object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False,
                           no_monitor=True, include_log_monitor=False)
        head = dict(head=True, shutdown_at_exit=False, spawn_reaper=True, ray_init_cluster=True)
        inspect.signature(Node.__init__).bind(None, params, **head)
    except (ImportError, AttributeError, TypeError):
        return None

    class EmbeddedHead(Node):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:
                super().__init__(*args, **kwargs)
            except BaseException:  # a start that failed half way (NODE_TIMEOUT): end what it started
                try:
                    self.kill_all_processes(check_alive=False, allow_graceful=False)
                except Exception:  # noqa: BLE001, S110 (nothing was started yet; the first error is the one to report)
                    pass
                raise

        def start_api_server(self, *args: Any, **kwargs: Any) -> None:
            """No dashboard server: nothing of a run reads it (the head's web UI address stays None)."""

    enable_token_auth_by_default()  # as ray.init does for a new local cluster
    ensure_token_if_auth_enabled({}, create_token_if_missing=True)
    return EmbeddedHead(params, **head)


def stop() -> None:
    """Disconnect from Ray and end the embedded head node, if this process started one (also at
    exit, as `ray.init` does for the node it starts)."""
    global _head
    import ray

    ray.shutdown()
    if _head is not None:
        head, _head = _head, None
        head.destroy_external_storage()
        head.kill_all_processes(check_alive=False, allow_graceful=True)


def _stop_at_exit() -> None:
    if _head is not None:
        stop()


atexit.register(_stop_at_exit)


@contextmanager
def _stderr_captured() -> Iterator[_Captured]:
    """Ray's C++ client writes a line a second to the process's stderr while it retries a cluster
    that refuses it (about twenty lines, then an error that omits the cause): keep them out of
    the user's terminal, and readable (inside the block) to name the cause in one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield _Captured(sink)
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _Captured:
    def __init__(self, sink: Any):
        self._sink = sink

    def read(self) -> str:
        self._sink.seek(0)
        return self._sink.read().decode("utf-8", "replace")


def describe() -> dict[str, int]:
    """The Ray cluster this process is connected to: alive nodes and CPUs (for stats.json)."""
    import ray

    return {"nodes": sum(1 for n in ray.nodes() if n["Alive"]), "cpus": int(ray.cluster_resources().get("CPU", 0))}


#: seconds to wait for a TCP connection to --ray-address before saying nothing answers there
CONNECT_SECONDS = 10


def _check_reachable(address: str) -> None:
    """One line at once when nothing answers at host:port: Ray's own retries took 14 minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host and address not in ("auto", "local") and not address.startswith("ray://"):  # Ray's: "Invalid address format"
        raise ConfigError(f"--ray-address {address}: give the head's host:port (`ray start --head` prints it; port 6379 by "
                          "default), or auto for a cluster started on this machine")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return  # Ray's own message says what is wrong with the address
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach Ray at {address}: nothing answers there ({exc.strerror or exc}); "
                          "is the head started (`ray start --head`) and the port right?") from None


@contextmanager
def session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for the duration of a run; shut down afterwards only if this session started it. A
    SIGTERM (what a batch scheduler sends) stops the run as Ctrl-C does: one line, and the same
    command resumes (Ray's own handler printed a stack dump)."""
    before = signal.getsignal(signal.SIGTERM)  # the CLI's (or a notebook's), to be back once Ray is gone
    started = start(address, num_cpus)
    if SIGTERM_LINE is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _end_at_once)  # again: connecting to Ray sets Ray's own handler
    else:
        sigterm_interrupts()
    watching = _watch_head() if HEAD_LOST_LINE is not None else None
    try:
        yield
    finally:
        try:
            if watching is not None:
                watching.set()  # before the embedded head is ended on purpose
            if started:
                stop()
        finally:
            if before is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, before)  # not Ray's: a SIGTERM while the summary and report are written is one line too


#: the address of the cluster this process joined (None: embedded Ray, whose workers share its environment)
joined: str | None = None
#: set by the CLI: the line a SIGTERM during a run prints before the process ends at once (status 130)
SIGTERM_LINE: str | None = None
#: set by the CLI: the line (with {address}) a run prints when its Ray head has stopped answering
#: for HEAD_LOST_SECONDS, before it ends with HEAD_LOST_STATUS. Ray's client ends the process by
#: itself 60 s after it loses the head's GCS, with status 1 (the status of a broken count) and only
#: Ray's own lines. The parts done are committed: the same command resumes on a cluster up again.
HEAD_LOST_LINE: str | None = None
HEAD_LOST_SECONDS = 20.0
HEAD_LOST_STATUS = 8


def _watch_head() -> threading.Event:
    """A thread that tries a connection to the head's GCS every 2 s and ends the process with
    HEAD_LOST_LINE once none has succeeded for HEAD_LOST_SECONDS; setting the event it returns
    stops it."""
    import ray

    address = ray.get_runtime_context().gcs_address
    host, port = address.rsplit(":", 1)
    stopped = threading.Event()

    def watch() -> None:
        answered = time.monotonic()
        while not stopped.wait(2.0):
            try:
                socket.create_connection((host, int(port)), timeout=2.0).close()
                answered = time.monotonic()
            except OSError:
                if time.monotonic() - answered >= HEAD_LOST_SECONDS and not stopped.is_set():
                    sys.stderr.write(HEAD_LOST_LINE.format(address=address) + "\n")
                    sys.stderr.flush()
                    os._exit(HEAD_LOST_STATUS)

    threading.Thread(target=watch, name="dataprep-head-watch", daemon=True).start()
    return stopped


def _end_at_once(signum: int, frame: Any) -> None:
    """A SIGTERM while Ray runs, in the CLI: the line, then exit 130 at once, as a SIGKILL would
    end it (committed parts stay; the reaper Ray starts ends the embedded node's processes).
    Unwinding first lost a race: a batch scheduler's SIGTERM to the process group ends Ray's
    raylet too, and the driver's Ray client, asked to resubmit a task whose worker died, exits the
    process with status 1 and no word when it finds the raylet gone."""
    sys.stderr.write(f"{SIGTERM_LINE}\n")
    sys.stderr.flush()
    _kill_descendants()  # this process's own: the embedded node's (a joined cluster's processes are no children of it)
    os._exit(130)


def _kill_descendants() -> None:
    """SIGKILL every process below this one (the embedded node: its GCS, raylet, workers and the
    raylet's agents), as read from /proc. The reaper Ray starts ends the node's own processes
    when this one is gone, but the raylet's DashboardAgent and RuntimeEnvAgent outlived it for a
    minute or more, reparented to init, retrying a GCS that was gone."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
            children.setdefault(int(rest.rsplit(") ", 1)[1].split()[1]), []).append(int(pid))
        except (OSError, IndexError, ValueError):  # gone since the listing, or not Linux's /proc
            continue
    found, todo = [], [os.getpid()]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def sigterm_interrupts() -> Any:
    """Make SIGTERM raise KeyboardInterrupt in the main thread; the handler it replaces (SIG_DFL
    for one not set from Python), or None off the main thread, where signals cannot be set."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt) or signal.SIG_DFL
