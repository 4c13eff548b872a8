"""Shared fixtures: one embedded Ray per test session, one two-node Ray cluster (started when a test
first asks for it), real text from samples/ and shared/data."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
SHARED_DATA = Path(os.environ.get("DATAPREP_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def ray_session():
    """Embedded Ray, started once for the whole session (runs in this process reuse it)."""
    from dataprep import runtime

    runtime.start(num_cpus=2)
    yield
    runtime.stop()


RAY = Path(sys.executable).parent / "ray"
# Ray rewrites 127.0.0.1 to the machine's public address; other loopback addresses it keeps,
# so the cluster stays on loopback: the head on 127.0.0.2, the second node on 127.0.0.3.
HEAD, WORKER = "127.0.0.2", "127.0.0.3"


class Cluster:
    """`ray start --head` plus nodes joined to it, the secure way (README): token authentication,
    the token shared with every node and the driver through the environment; a HOME of its own,
    so no token file of this machine helps."""

    def __init__(self, base_env: dict[str, str] | None = None) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths have a length limit
        home = tempfile.mkdtemp(prefix="rh", dir="/tmp")
        self.env = {**(base_env or os.environ), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32), "HOME": home}
        with socket.socket() as s:
            s.bind((HEAD, 0))
            port = s.getsockname()[1]
        self.address = f"{HEAD}:{port}"
        self.nodes: list[subprocess.Popen] = []
        self._start(["--head", "--port", str(port), "--node-ip-address", HEAD, "--temp-dir", self.temp_dir,
                     "--include-dashboard", "false"])

    def add_node(self, ip: str) -> subprocess.Popen:
        """A node of one CPU on loopback address `ip`, joined and alive before this returns."""
        return self._start(["--address", self.address, "--node-ip-address", ip])

    def _start(self, args: list[str]) -> subprocess.Popen:
        node = subprocess.Popen([RAY, "start", *args, "--num-cpus", "1", "--block", "--disable-usage-stats"], env=self.env,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.nodes.append(node)
        self.wait_for_nodes(sum(n.poll() is None for n in self.nodes))
        return node

    def wait_for_nodes(self, count: int) -> None:
        probe = f"import ray; ray.init(address='{self.address}', logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
        deadline = time.time() + 90
        while time.time() < deadline:
            result = subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True, text=True)
            if result.returncode == 0 and result.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            time.sleep(1)
        raise AssertionError(f"the cluster at {self.address} did not reach {count} nodes")

    def stop(self) -> None:
        """Every node stopped, and every process of the cluster checked gone."""
        for node in reversed(self.nodes):
            try:
                os.killpg(node.pid, signal.SIGTERM)
            except ProcessLookupError:  # a node a test already killed
                pass
        for node in self.nodes:
            node.wait(timeout=60)
        deadline = time.time() + 20
        while self.processes() and time.time() < deadline:
            time.sleep(0.5)
        for pid in self.processes():
            os.kill(pid, signal.SIGKILL)
        assert not self.processes()

    def processes(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if self.temp_dir.encode() in (entry / "cmdline").read_bytes():
                        pids.append(int(entry.name))
                except OSError:
                    pass
        return pids


@pytest.fixture(scope="session")
def ray_cluster(s3_store):
    """A two-node cluster on loopback, started once for the session (by the first test that asks).
    Its nodes' workers reach the loopback S3 server with the credentials in the nodes'
    environment, as on a real cluster (instance roles, AWS_* variables)."""
    cluster = Cluster(s3_store.env)
    try:
        cluster.add_node(WORKER)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(ray_cluster):
    """The session's cluster as (address, environment of a driver that holds its token)."""
    return ray_cluster.address, ray_cluster.env


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


@dataclass(frozen=True)
class ObjectStore:
    """A loopback object store: the environment a process reaches it with, a bucket URI, and a client."""

    env: dict[str, str]
    bucket: str  # scheme://<bucket>
    fs: Any  # pyarrow filesystem with explicit settings (the test's own view; runs get the environment only)

    def path(self, uri: str) -> str:
        """A URI of this store as a path inside its filesystem (bucket/key)."""
        return uri.split("://", 1)[1]

    def read_folder(self, uri: str) -> pa.Table | None:
        """The part files of a folder of the store as one table (None when it has none)."""
        found = self.fs.get_file_info(pafs.FileSelector(self.path(uri), allow_not_found=True))
        files = sorted(i.path for i in found if i.base_name.startswith("part-") and i.base_name.endswith(".parquet"))
        if not files:
            return None
        return pa.concat_tables([pq.read_table(f, filesystem=self.fs) for f in files], promote_options="default")

    def files(self, uri: str) -> dict[str, bytes]:
        """Every object under a prefix: path relative to it -> bytes."""
        root = self.path(uri).rstrip("/") + "/"
        return {path.removeprefix(root): self.fs.open_input_stream(path).read() for path in self.objects(uri)}

    def objects(self, uri: str) -> list[str]:
        """Paths of every object under a prefix."""
        found = self.fs.get_file_info(pafs.FileSelector(self.path(uri), recursive=True, allow_not_found=True))
        return sorted(i.path for i in found if i.type == pafs.FileType.File)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(args: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A server subprocess on loopback, once its port takes connections (a one-line failure with its log otherwise)."""
    with log.open("wb") as sink:
        server = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                raise AssertionError(f"{args[2]} did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def upload_samples(fs: Any) -> None:
    for shard in sorted(SAMPLES.glob("shard-*.parquet")):
        pafs.copy_files(str(shard), f"corpus/samples/{shard.name}", destination_filesystem=fs)


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory) -> ObjectStore:
    """moto's S3 server (it speaks the S3 HTTP API) as a subprocess on loopback, with a bucket
    holding samples/' shards. Credentials and endpoint reach runs through the environment only;
    the secret key is random, so a test can look for it in everything a run writes."""
    port = free_port()
    server = serve([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port,
                   tmp_path_factory.mktemp("moto") / "server.log")
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "dataprep-test", "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
           "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    try:
        fs = pafs.S3FileSystem(access_key=env["AWS_ACCESS_KEY_ID"], secret_key=env["AWS_SECRET_ACCESS_KEY"], endpoint_override=endpoint,
                               region="us-east-1", allow_bucket_creation=True)
        fs.create_dir("corpus")
        upload_samples(fs)
        yield ObjectStore(env, "s3://corpus", fs)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def gcs_store(tmp_path_factory) -> ObjectStore:
    """gcp-storage-emulator (it speaks GCS's JSON API) as a subprocess on loopback, with a bucket
    holding samples/' shards; runs reach it through STORAGE_EMULATOR_HOST, the variable Google's
    clients read."""
    port = free_port()
    server = serve([sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port),
                    "--in-memory", "--default-bucket", "corpus"], port, tmp_path_factory.mktemp("gcs") / "server.log")
    env = {**os.environ, "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"}
    try:
        fs = pafs.GcsFileSystem(anonymous=True, endpoint_override=f"127.0.0.1:{port}", scheme="http")
        upload_samples(fs)
        yield ObjectStore(env, "gs://corpus", fs)
    finally:
        server.terminate()
        server.wait(timeout=30)


#: the pipeline the object-store tests run from s3:// to s3://: the default pipeline whole (its
#: global stages write the work folder to the store and read it back; its tokenizer stages write
#: tokenizer/ and tokens/ there)
OBJECT_STORE_STAGES = yaml.safe_load((REPO / "pipelines" / "default.yaml").read_text())["stages"]


def local_files(folder: Path) -> dict[str, bytes]:
    """Every file under a local folder: path relative to it -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def token_files(files: dict[str, bytes]) -> dict[str, Any]:
    """A run's tokenizer/ and tokens/ as two runs of the same pipeline must agree on them: the
    model and the shards byte for byte, the card and manifest without timings and paths."""
    out: dict[str, Any] = {}
    for name, data in files.items():
        if name.startswith(("tokenizer/", "tokens/")):
            if name.endswith(".json"):
                meta = json.loads(data)
                meta.pop("seconds", None)
                (meta.get("tokenizer") or {}).pop("path", None)
                out[name] = meta
            else:
                out[name] = data
    return out


@pytest.fixture(scope="session")
def object_store_pipeline(ray_session, tmp_path_factory) -> tuple[Path, Path]:
    """(the YAML of OBJECT_STORE_STAGES, its run on samples/' shards to a local folder: the reference)."""
    root = tmp_path_factory.mktemp("object-store")
    spec = root / "pipeline.yaml"
    spec.write_text(yaml.safe_dump({"name": "object-store", "stages": OBJECT_STORE_STAGES}))
    run_pipeline(OBJECT_STORE_STAGES, SAMPLES / "shard-*.parquet", root / "local", name="object-store")
    return spec, root / "local"
