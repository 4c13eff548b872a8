"""Runs from s3:// to s3:// on a real S3-compatible server (moto's, on loopback), and from gs:// to gs://
on Google Cloud Storage's emulator, give the local run's output.

The pipeline is the default one whole (conftest.OBJECT_STORE_STAGES): exact and MinHash dedup are
global stages, so the work folder is written to and read back from the store, and the tokenizer
stages write tokenizer/ and tokens/ there. Credentials reach the runs through the environment only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SAMPLES, local_files, read_folder, run_pipeline, token_files
from dataprep.errors import ConfigError


def dataprep(env: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataprep.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)


def rows(table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: (r["id"], r.get("stage") or ""))


def counts(stats: dict) -> dict:
    """What two runs of the same pipeline on the same documents must agree on (not their timings)."""
    stages = [{k: v for k, v in s.items() if k not in ("seconds", "corpus_seconds")} for s in stats["stages"]]
    return {"stages": stages, "output": stats["output"], "docs": stats["input"]["docs"], "quarantine": stats["quarantine"]}


@pytest.fixture(scope="module")
def s3_run(s3_store, object_store_pipeline):
    """The pipeline from s3://corpus/samples/ to s3://corpus/runs/a, through the CLI."""
    spec, local = object_store_pipeline
    out = f"{s3_store.bucket}/runs/a"
    # --keep-work: the work folder stays on the store, to see it went there and to resume from it as from a killed run
    result = dataprep(s3_store.env, "run", str(spec), "--input", f"{s3_store.bucket}/samples/", "--output", out, "--no-progress",
                      "--keep-work")
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_s3_to_s3_matches_the_local_run(s3_store, object_store_pipeline, s3_run):
    spec, local = object_store_pipeline
    out, result = s3_run
    for folder in ("kept", "removed"):
        assert rows(s3_store.read_folder(f"{out}/{folder}")) == rows(read_folder(local / folder)), folder
    stats = json.loads(s3_store.fs.open_input_stream(f"{out.removeprefix('s3://')}/stats.json").read())
    assert stats["invariant_ok"] and counts(stats) == counts(json.loads((local / "stats.json").read_text()))
    assert stats["output"]["kept"] > 0 and any(s["kind"] == "global" and sum(s["removed"].values()) for s in stats["stages"])
    written = token_files(s3_store.files(out))
    assert written == token_files(local_files(local)) and written["tokens/manifest.json"]["tokens"] > 0
    objects = s3_store.objects(out)
    assert any("/_work/s1/" in o for o in objects) and any(o.endswith("/report.html") for o in objects)
    # the secret key was in the run's environment; it is in no file of the output, nor in what the run printed
    secret = s3_store.env["AWS_SECRET_ACCESS_KEY"].encode()
    for path in objects:
        assert secret not in s3_store.fs.open_input_stream(path).read(), path
    assert secret.decode() not in result.stdout + result.stderr


def test_gs_to_gs_matches_the_local_run(gcs_store, object_store_pipeline):
    """The same pipeline on Google Cloud Storage's API (its emulator on loopback, reached through
    STORAGE_EMULATOR_HOST): the same output as the local run, tokenizer and token shards included."""
    spec, local = object_store_pipeline
    out = f"{gcs_store.bucket}/runs/a"
    result = dataprep(gcs_store.env, "run", str(spec), "--input", f"{gcs_store.bucket}/samples/", "--output", out, "--no-progress",
                      "--keep-work")
    assert result.returncode == 0, result.stderr[-3000:]
    for folder in ("kept", "removed"):
        assert rows(gcs_store.read_folder(f"{out}/{folder}")) == rows(read_folder(local / folder)), folder
    written = gcs_store.files(out)
    stats = json.loads(written["stats.json"])
    assert stats["invariant_ok"] and counts(stats) == counts(json.loads((local / "stats.json").read_text()))
    assert stats["output"]["kept"] > 0 and any(s["kind"] == "global" and sum(s["removed"].values()) for s in stats["stages"])
    tokens = token_files(written)
    assert tokens == token_files(local_files(local)) and tokens["tokens/manifest.json"]["tokens"] > 0
    assert any(name.startswith("_work/s1/") for name in written), "the work folder is on the store"
    assert "output: gs://corpus/runs/a" in result.stdout


def test_a_run_on_s3_reads_back_through_the_api_and_cli(s3_store, s3_run, monkeypatch):
    import dataprep as dp
    from dataprep.layout import OutputLayout

    out, _ = s3_run
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.setenv(key, s3_store.env[key])
    result = dp.Result(OutputLayout.of(out))
    removed = result.removed()
    assert len(result.kept()) == result.summary["output"]["kept"] and len(removed) == result.summary["output"]["removed"]
    duplicate = removed[removed["stage"] == "exact_dedup"].iloc[0]
    assert "removed by stage exact_dedup" in result.explain(duplicate["id"])
    explained = dataprep(s3_store.env, "explain", out, "--id", duplicate["id"])
    assert explained.returncode == 0 and "exact_dedup.exact_dup" in explained.stdout, explained.stderr
    # a trainer memory-maps token shards: from a store they are copied down first, and the reader says so
    from dataprep.tokens import TokenDataset

    with pytest.raises(ValueError, match="copy tokens/ to local disk first"):
        TokenDataset(f"{out}/tokens")


def test_resume_and_overwrite_on_s3(s3_store, object_store_pipeline, s3_run):
    """A part whose marker is missing (its files half-written) is redone on resume; --overwrite
    replaces another run."""
    spec, local = object_store_pipeline
    out, _ = s3_run
    fs, root = s3_store.fs, out.removeprefix("s3://")
    last = max(int(p.rsplit("/", 1)[1].split("-")[0][1:]) for p in s3_store.objects(f"{out}/_parts"))
    marker = sorted(p for p in s3_store.objects(f"{out}/_parts") if p.rsplit("/", 1)[1].startswith(f"s{last}-"))[0]
    key = marker.rsplit("/", 1)[1].removeprefix(f"s{last}-").removesuffix(".json")
    fs.delete_file(marker)
    with fs.open_output_stream(f"{root}/kept/part-{key}.parquet") as half:  # the kill came mid-write
        half.write(b"PAR1 half a file")
    args = ("run", str(spec), "--input", f"{s3_store.bucket}/samples/", "--output", out, "--no-progress")
    resumed = dataprep(s3_store.env, *args)
    assert resumed.returncode == 0 and "already finished" not in resumed.stdout, resumed.stderr[-3000:]
    for folder in ("kept", "removed"):
        assert rows(s3_store.read_folder(f"{out}/{folder}")) == rows(read_folder(local / folder)), folder

    other = spec.parent / "other.yaml"
    other.write_text("name: other\nstages:\n  - length: {min_words: 50}\n")
    other_args = ("run", str(other), "--input", f"{s3_store.bucket}/samples/", "--output", out, "--no-progress")
    refused = dataprep(s3_store.env, *other_args)
    assert refused.returncode == 2 and "holds a different run" in refused.stderr
    replaced = dataprep(s3_store.env, *other_args, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    stats = json.loads(fs.open_input_stream(f"{root}/stats.json").read())
    assert [s["name"] for s in stats["stages"]] == ["length"] and stats["invariant_ok"]
    work = {p.split("/_work/", 1)[1] for p in s3_store.objects(out) if "/_work/" in p}
    assert not work, f"the old run's work is gone, and the new run's once it finished: {work}"
    assert not any("/metrics/00-normalize/" in p for p in s3_store.objects(out)), "the old run is gone"


def test_a_run_into_another_through_a_dot_segment_is_refused_and_one_at_a_buckets_root_is_overwritten(s3_store, tmp_path):
    """`--output s3://b/t/zz/../r2` listed the literal prefix (empty), found no run to refuse and
    wrote over the run at t/r2; `--overwrite` of an output at a bucket's root asked pyarrow to
    delete the bucket, and failed on every try."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("name: a\nstages:\n  - length: {min_words: 5}\n")
    second.write_text("name: b\nstages:\n  - length: {min_words: 50}\n")
    source = f"{s3_store.bucket}/samples/shard-00.parquet"
    done = dataprep(s3_store.env, "run", str(first), "--input", source, "--output", "s3://corpus/dots/r2", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    refused = dataprep(s3_store.env, "run", str(second), "--input", source, "--output", "s3://corpus/dots/zz/../r2", "--no-progress")
    assert refused.returncode == 2 and refused.stderr.strip().endswith("a '.' or '..' path component; object stores take keys "
                                                                      "literally: write the path without it"), refused.stderr[-2000:]
    assert json.loads(s3_store.fs.open_input_stream("corpus/dots/r2/run.json").read())["pipeline"] == "a"
    s3_store.fs.create_dir("rootbucket")
    for spec in (first, second):
        ran = dataprep(s3_store.env, "run", str(spec), "--input", source, "--output", "s3://rootbucket", "--no-progress", "--overwrite")
        assert ran.returncode == 0, ran.stderr[-3000:]
    stats = json.loads(s3_store.fs.open_input_stream("rootbucket/stats.json").read())
    assert stats["pipeline"] == "b" and stats["invariant_ok"] and s3_store.fs.get_file_info("rootbucket").type.name == "Directory"


def test_work_dir_on_s3_with_a_local_output(s3_store, object_store_pipeline, tmp_path):
    spec, local = object_store_pipeline
    out = tmp_path / "out"
    for keep in (["--keep-work"], []):
        result = dataprep(s3_store.env, "run", str(spec), "--input", str(SAMPLES / "shard-*.parquet"), "--output", str(out),
                          "--work-dir", f"{s3_store.bucket}/work", "--no-progress", "--overwrite", *keep)
        assert result.returncode == 0, result.stderr[-3000:]
        for folder in ("kept", "removed"):
            assert rows(read_folder(out / folder)) == rows(read_folder(local / folder)), folder
        assert not (out / "_work").exists()
        fingerprint = json.loads((out / "run.json").read_text())["fingerprint"]
        work = [p for p in s3_store.objects(f"{s3_store.bucket}/work") if p.startswith(f"corpus/work/{fingerprint}-")]
        # kept, the segments' documents are on the store; by default a finished run leaves nothing there
        assert any("/s1/" in p for p in work) if keep else not work, work[:5]


def test_shuffles_on_ray_data_go_through_the_store(s3_store, tmp_path):
    """MinHash's components on Ray Data (`component_task_memory: 0`: large-star / small-star
    rounds, a dozen shuffles) with the work folder on S3: every shuffle's files are written to and
    read from the store by Ray's workers, and the removals are the local run's; no shuffle file
    is left after."""
    spec = tmp_path / "minhash.yaml"
    spec.write_text(json.dumps({"name": "shuffles", "stages": [{"minhash_dedup": {"component_task_memory": 0}}]}), encoding="utf-8")
    local = tmp_path / "local"
    result = dataprep(s3_store.env, "run", str(spec), "--input", str(SAMPLES / "shard-*.parquet"), "--output", str(local), "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    result = dataprep(s3_store.env, "run", str(spec), "--input", str(SAMPLES / "shard-*.parquet"), "--output", str(out),
                      "--work-dir", f"{s3_store.bucket}/shuffle-work", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    removed = read_folder(local / "removed")
    assert removed is not None and removed.num_rows > 10
    assert rows(read_folder(out / "removed")) == rows(removed)
    assert not [o for o in s3_store.objects(f"{s3_store.bucket}/shuffle-work") if "/shuffle/" in o]


def test_credentials_or_options_in_a_uri_are_refused(tmp_path):
    # a secret with "/", "?" or "#" (AWS secret keys often have a "/") is a secret all the same
    for secret in ("do-not-print", "do/not/print", "do?not/print", "do#not"):
        with pytest.raises(ConfigError, match="credentials in a URI are not accepted") as refused:
            run_pipeline([{"length": {}}], f"s3://AKIDEXAMPLE:{secret}@corpus/samples/", tmp_path / "o")
        message = str(refused.value)
        assert message.startswith("s3://corpus/samples/: ") and "AKIDEXAMPLE" not in message and "not" not in message[:40], message
    with pytest.raises(ConfigError, match="query string are not accepted"):
        run_pipeline([{"length": {}}], "s3://corpus/samples/?endpoint_override=127.0.0.1", tmp_path / "q")
    # an option whose value holds "/" (a secret, an endpoint's URL) is refused too, and not echoed
    from dataprep import storage

    for uri in ("s3://corpus/med/?secret_key=ab/do-not-print", "s3://corpus/runs/t4?endpoint_override=http://evil/x"):
        with pytest.raises(ConfigError, match="query string are not accepted") as refused:
            storage.normalize(uri)
        assert "do-not-print" not in str(refused.value) and "evil" not in str(refused.value)
    for uri in ("s3://corpus/a?AWS_SESSION_TOKEN=do-not-print", "gs://corpus/a?access_token=do-not-print&x=1",
                "s3://corpus/a?x=1&secret_key=do-not-print", "s3://corpus/a?endpoint_override=do-not-print",
                "s3://corpus/a?sv=2022-11-02&sig=do-not-print", "s3://corpus/a?X-Amz-Signature=do-not-print"):
        assert "do-not-print" not in storage.public(uri), uri
        with pytest.raises(ConfigError, match="query string are not accepted") as refused:  # given: refused, its query unsaid
            storage.normalize(uri.replace("corpus/a?", "corpus/a?z=1&"))
        assert "do-not-print" not in str(refused.value) and "z=1" not in str(refused.value), uri
    assert storage.store_error("s3://corpus/in", OSError("key 'in/part-403.parquet': AWS Error NETWORK_CONNECTION")).args[0] \
        .startswith("s3://corpus/in: cannot reach the store"), "a key holding 403 is no refusal"
    with pytest.raises(ConfigError, match="another host's is not reachable"):
        storage.normalize("file://server/share/x")  # (was ./server/share/x)
    with pytest.raises(ConfigError, match="empty path component"):  # pyarrow's ArrowInvalid, an internal error before
        storage.normalize("s3://corpus//med")
    assert storage.normalize("S3://corpus/med/") == "s3://corpus/med" and storage.normalize("s3://b/page?x#y") == "s3://b/page?x#y"
    # s3:///x was an internal error (pyarrow's "Path cannot start with a separator"), s3:// every bucket
    for uri in ("s3:///x", "s3://", "gs:///runs/a"):
        with pytest.raises(ConfigError, match=r"names no bucket \((s3|gs)://BUCKET/path\)"):
            storage.normalize(uri)
    # the store's client folds "." and ".." for a GET or PUT, and lists the key as written
    for uri in ("s3://corpus/t/zz/../r2", "s3://corpus/runs/p/./q", "s3://corpus/.."):
        with pytest.raises(ConfigError, match="a '.' or '..' path component"):
            storage.normalize(uri)
    assert storage.normalize("s3://corpus/a..b/.c/d.") == "s3://corpus/a..b/.c/d."  # dots inside a name are a key's
    # local spellings: FILE:// (was taken for a remote scheme), file://localhost/ (was ./localhost/), ~ (was ./~)
    for spelled in ("FILE:///tmp/w/", "file://localhost/tmp/w", "file:///tmp/w"):
        assert storage.normalize(spelled) == "/tmp/w", spelled
    assert storage.normalize("~/w") == os.path.join(os.path.expanduser("~"), "w")


def test_a_store_that_refuses_a_write_stops_the_run_with_one_line(s3_store, tmp_path):
    """An output bucket that does not exist (as a denied or unreachable store): the store's error
    in one line, as a failure to fix and resume from, not as a bug of dataprep."""
    spec = tmp_path / "p.yaml"
    spec.write_text('{"name": "refused", "stages": [{"length": {}}]}', encoding="utf-8")
    result = dataprep(s3_store.env, "run", str(spec), "--input", f"{s3_store.bucket}/samples/", "--output", "s3://no-such-bucket/out",
                      "--no-progress")
    assert result.returncode == 7, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dataprep: stopped: reading or writing failed: OSError: ") and "Traceback" not in result.stderr
    assert "\x1b[" not in last and "run the same command again to resume once it is fixed" in last
    # the object the store refused is named (a worker's write named none: "When initiating multiple part upload ...")
    assert "OSError: s3://no-such-bucket/out/" in last, last
    from dataprep import storage

    with pytest.raises(OSError, match=r"^s3://no-such-bucket/kept/part-1.parquet: (cannot reach the store|the store refused access)"):
        storage.write_parquet(pa.table({"id": ["a"]}), "s3://no-such-bucket/kept/part-1.parquet")


def test_a_store_that_cannot_be_reached_is_a_stop_to_resume_from_not_a_config_error(tmp_path):
    """Nothing listens at the endpoint: the store's error in one line, exit 7 (fix it, run again),
    where it was a configuration error (exit 2) from the driver, and from a Ray task Ray's
    traceback under it."""
    spec = tmp_path / "p.yaml"
    spec.write_text('{"name": "unreachable", "stages": [{"length": {}}]}', encoding="utf-8")
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "do-not-print", "AWS_EC2_METADATA_DISABLED": "true"}
    result = dataprep(env, "run", str(spec), "--input", "s3://corpus/in/", "--output", str(tmp_path / "o"), "--no-progress", timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 7 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("dataprep: stopped: reading or writing failed: OSError: s3://corpus/in: cannot reach the store")
    assert "do-not-print" not in result.stderr + result.stdout


def test_a_store_that_refuses_the_credentials_says_so(tmp_path):
    """A store that answers but refuses the credentials (moto enforcing IAM) was reported as
    "cannot reach the store": the line now says the store refused, and to check the credentials."""
    from conftest import free_port, serve

    port = free_port()
    server = serve([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port, tmp_path / "moto.log",
                   env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        spec = tmp_path / "p.yaml"
        spec.write_text('{"name": "refused", "stages": [{"length": {}}]}', encoding="utf-8")
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "unknown",
               "AWS_SECRET_ACCESS_KEY": "do-not-print", "AWS_EC2_METADATA_DISABLED": "true"}
        result = dataprep(env, "run", str(spec), "--input", "s3://corpus/in/", "--output", str(tmp_path / "o"), "--no-progress", timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 7 and len(lines) == 1, result.stderr[-2000:]
    assert "s3://corpus/in: the store refused access (check the credentials in the environment)" in lines[0]
    assert "do-not-print" not in result.stderr + result.stdout


def test_a_store_failure_on_a_node_of_a_joined_cluster_names_the_settings_every_node_needs(ray_session, monkeypatch):
    """A node started in a shell without the store's variables reached for AWS's own endpoint; the
    run's line named an internal marker and amazonaws.com. It now names the node and the
    variables (never their values) that the driver has and every node needs."""
    import ray

    from dataprep import cli, runtime, storage

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-print")
    from ray.exceptions import RayTaskError

    with pytest.raises(OSError) as raised:  # an OSError raised in a Ray task: a local file's, not the store's
        ray.get(ray.remote(storage.read_json).remote("/nonexistent/_parts/s0-00000-0000.json"))
    local = raised.value
    # the store's failure as a node without its settings meets it (the helper's cluster), in the same task's traceback
    unreached = OSError("s3://corpus/out/_parts/s0.json: cannot reach the store: When resolving region for bucket 'corpus': "
                        "AWS Error NETWORK_CONNECTION during HeadBucket operation: curlCode: 6, Couldn't resolve host name")
    failure = RayTaskError("process_part", str(local), unreached).as_instanceof_cause()
    monkeypatch.setattr(runtime, "joined", None)
    assert cli._on_a_node(failure) == "", "embedded Ray: the workers share the driver's environment"
    monkeypatch.setattr(runtime, "joined", "10.0.0.1:6379")
    hint = cli._on_a_node(failure)
    assert hint.startswith(f" (on the node at {ray.util.get_node_ip_address()}: every node needs the store settings this driver has: ")
    assert "AWS_ENDPOINT_URL" in hint and "AWS_SECRET_ACCESS_KEY" in hint and "do-not-print" not in hint and "127.0.0.1:1" not in hint
    assert cli._on_a_node(local) == "", "a local file's error in a task is no store's: no hint"


def test_a_store_that_pauses_longer_than_the_sdks_3_s_is_waited_for(monkeypatch):
    """An endpoint that answers each request after 4 s: the AWS SDK's own timeout (3 s, three
    attempts) failed the run; dataprep's S3 client waits up to storage.S3_REQUEST_TIMEOUT."""
    import http.server
    import threading
    import time

    from dataprep import storage

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            time.sleep(4)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}", "AWS_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(storage, "_FILESYSTEMS", {})
    try:
        assert storage.exists("s3://slow/nothing-here") is False
    finally:
        server.shutdown()


def test_a_scheme_pyarrow_lacks_goes_through_fsspec():
    """fsspec's in-memory filesystem (pyarrow has none): the same listing, writing and reading."""
    import pyarrow as pa

    from dataprep import storage
    from dataprep.layout import OutputLayout

    layout = OutputLayout.of("memory://runs/a")
    storage.write_parquet(pa.table({"id": ["x", "y"]}), layout.kept_part("00000-0000"))
    storage.write_json({"docs": 2}, layout.marker(0, "00000-0000"))
    assert layout.parts(layout.kept) == ["memory://runs/a/kept/part-00000-0000.parquet"]
    assert storage.read_table(layout.kept_part("00000-0000")).column("id").to_pylist() == ["x", "y"]
    assert storage.read_json(layout.marker(0, "00000-0000")) == {"docs": 2}
    storage.delete_tree(layout.root)
    assert not storage.walk(layout.root)


def test_warc_byte_ranges_jsonl_and_html_read_the_same_from_s3(s3_store, sample_docs, monkeypatch, tmp_path):
    """Every reader through the store: a gzipped WARC cut into byte ranges, JSONL.gz, HTML files,
    Parquet files whose keys hold "#", "?" and a space."""
    import gzip
    import shutil

    import pyarrow as pa
    import pyarrow.fs as pafs

    from dataprep import documents

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.setenv(key, s3_store.env[key])
    local = tmp_path / "web"
    for fmt in ("warc", "jsonl", "html", "parquet"):
        (local / fmt).mkdir(parents=True)
    for i, name in enumerate(("a#1.parquet", "b?2.parquet", "c 3.parquet")):  # keys S3 allows: not a fragment nor a query
        pq.write_table(sample_docs.slice(10 * i, 10), local / "parquet" / name)
    shutil.copy(SAMPLES / "_web" / "debian-faq.warc.gz", local / "warc")
    docs = sample_docs.slice(0, 40).select(["id", "text"]).to_pylist()
    with gzip.open(local / "jsonl" / "docs.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(d) + "\n" for d in docs)
    for i, doc in enumerate(docs[:5]):
        (local / "html" / f"page-{i}.html").write_text(f"<html><body><p>{doc['text']}</p></body></html>", encoding="utf-8")
    pafs.copy_files(str(local), "corpus/web", destination_filesystem=s3_store.fs)

    def read(root: str, fmt: str) -> tuple[int, list[dict]]:
        parts, refused = documents.plan(documents.discover(root, fmt), "text", 2**16, None, fmt)
        assert not refused
        tables = [documents.conform(raw, rows, part, "text", 2**23, {})[0] for part in parts
                  for raw, rows, bad in documents.read_part(part, "text", 64) if raw is not None]
        table = pa.concat_tables(tables, promote_options="default")
        # the columns naming the source file hold its path or URI; everything else is the same
        return len(parts), table.drop_columns([c for c in ("warc_file", "html_file") if c in table.column_names]).to_pylist()

    for fmt in ("warc", "jsonl", "html", "parquet"):
        here, there = read(str(local / fmt), fmt), read(f"{s3_store.bucket}/web/{fmt}/", fmt)
        assert here == there and there[1], fmt
    assert read(f"{s3_store.bucket}/web/warc/", "warc")[0] > 5, "the WARC is read in byte ranges"


def test_globs_name_the_same_files_on_s3_as_on_local_disk(s3_store, monkeypatch, tmp_path):
    """`**/` is any number of folders, none included, as Python's recursive glob reads it locally
    (on S3 it needed one at least: 6 of 7 files were silently not read); `*`, `?` and `[!...]`
    stay within a folder; an upper-case scheme is the same scheme."""
    import glob as local_glob

    import pyarrow as pa
    import pyarrow.fs as pafs

    from dataprep import documents, storage

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.setenv(key, s3_store.env[key])
    local = tmp_path / "globbed"
    for name in ("a.parquet", "b1.parquet", "x/c.parquet", "x/y/d2.parquet", "x/y/z/e.parquet", "x/f.jsonl", "xy/g.parquet"):
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"id": [name], "text": ["some text"]}), local / name)
    pafs.copy_files(str(local), "corpus/globbed", destination_filesystem=s3_store.fs)
    for pattern in ("**/*.parquet", "x/**/*.parquet", "*.parquet", "x/*/*.parquet", "x/**", "[!a]?.parquet", "**/*[0-9].parquet"):
        here = sorted(storage.relative(p, str(local)) for p in local_glob.glob(str(local / pattern), recursive=True) if os.path.isfile(p))
        there = sorted(storage.relative(p, f"{s3_store.bucket}/globbed") for p in storage.glob(f"{s3_store.bucket}/globbed/{pattern}"))
        assert here == there and here, pattern
    upper = documents.discover("S3" + f"{s3_store.bucket}/globbed".removeprefix("s3"), "parquet")
    assert len(upper) == 6, upper


def test_the_drivers_reads_of_many_small_files_overlap_and_keep_their_order():
    """Markers, footers and schemas are read by `storage.each`: up to READ_THREADS at once (an
    object store answers each in 10-50 ms; 300,000 markers one by one took over an hour a
    segment), results in the items' order, the first error raised."""
    import threading

    from dataprep import storage

    lock, flying, most = threading.Lock(), [0], [0]
    gate = threading.Barrier(4, timeout=10)

    def read(i: int) -> int:
        with lock:
            flying[0] += 1
            most[0] = max(most[0], flying[0])
        if i < 4:
            gate.wait()  # passes only when four reads are in flight together
        with lock:
            flying[0] -= 1
        return i * i

    assert storage.each(read, list(range(100))) == [i * i for i in range(100)]
    assert 4 <= most[0] <= storage.READ_THREADS

    def fails(i: int) -> int:
        if i == 7:
            raise OSError("refused")
        return i

    with pytest.raises(OSError, match="refused"):
        storage.each(fails, list(range(20)))


def test_a_key_with_a_query_like_name_is_a_page_not_a_refused_uri(s3_store, monkeypatch, tmp_path):
    """A wget mirror's `index.php?p=2.html` is an object's key: listing found it, and checking it
    as a URI a user types read `?p=2.html` as options and refused the whole run."""
    import pyarrow.fs as pafs

    from dataprep import documents, storage

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.setenv(key, s3_store.env[key])
    local = tmp_path / "mirror"
    local.mkdir()
    for name in ("a.html", "index.php?p=2.html"):
        (local / name).write_text(f"<html><body><p>The page {name} with a sentence of text.</p></body></html>")
    pafs.copy_files(str(local), "corpus/mirror", destination_filesystem=s3_store.fs)
    files = documents.discover(f"{s3_store.bucket}/mirror", "html")
    assert sorted(documents.relative_names(files)) == ["a.html", "index.php?p=2.html"]
    assert sorted(map(storage.public, files)) == [f"{s3_store.bucket}/mirror/a.html", f"{s3_store.bucket}/mirror/index.php?p=2.html"], \
        "named as listed in run.json and messages (public() took `?p=2.html` for options and cut it)"
    parts, quarantined = documents.plan(files, "text", 2**20, None, "html")
    assert not quarantined and sum(p.num_rows for p in parts) == 2
    read = [t for part in parts for t, _, bad in documents.read_part(part, "text", 64) if t is not None and not bad]
    assert sorted(x for t in read for x in t.column("id").to_pylist()) == ["a.html", "index.php?p=2.html"]


def test_a_gcs_store_that_stops_answering_fails_within_the_retry_limit(tmp_path):
    """GCS's client retried for 15 minutes by default, the run deaf to Ctrl-C meanwhile; its retry
    time is GCS_RETRY_SECONDS (here shortened), then the store's error stops the run."""
    import subprocess
    import sys

    script = ("import sys; from dataprep import storage; storage.GCS_RETRY_SECONDS = 2.0\n"
              "try:\n    storage.info('gs://bucket/x.parquet')\n"
              "except (OSError, Exception) as exc:\n    print('failed:', str(exc)[:80]); sys.exit(0)\n")
    env = {**os.environ, "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9"}  # nothing listens on port 9
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "failed:" in done.stdout, done.stderr[-500:]
