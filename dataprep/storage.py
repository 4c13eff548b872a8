"""Files by URI on any filesystem pyarrow speaks: plain paths, file://, s3://, gs://, hdfs://
(and fsspec's protocols where pyarrow has no filesystem).

Every path the runner handles is a string: an absolute local path, or `scheme://...`, so a
part, a layout or a run configuration pickles into a Ray task as plain text and each process
opens the filesystem itself (one client per bucket or host, cached per process).

Credentials and endpoints come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL, AWS_REGION, GOOGLE_APPLICATION_CREDENTIALS...) or the cloud's usual config
files, never from the pipeline: a URI that carries `user:password@` or a query string is refused,
so what a run records (run.json, stats.json, logs, the report) holds no secret.

Object stores have no atomic rename: a remote object is written in one PUT (a reader sees all
of it or nothing), and the runner's commit of a part is its marker, written last. Local files
are still written to a temporary name and renamed.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import json
import os
import posixpath
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from dataprep.errors import ConfigError

_FILESYSTEMS: dict[str, pafs.FileSystem] = {}
_MAKING = threading.Lock()
_BUCKETED = ("s3", "gs", "gcs")  # schemes whose host is a bucket, part of the path inside the filesystem


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri[:7].lower() == "file://"


#: options in a query string (`?endpoint_override=...`, `?secret_key=a/b`): a URI a user gives with
#: them is refused, and its message leaves the query out. A `?` or `#` without `name=` after it is
#: part of an object's key, as S3 and GCS allow
OPTIONS = re.compile(r"\?[A-Za-z_][\w.\-]*=.*$", re.S)
#: `scheme://user:secret@`, whatever the secret holds (an AWS secret key often has a `/`, which
#: would make the rest of the secret read as a path)
CREDENTIALS = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@:?#]*:[^@]*@")


def normalize(uri: str) -> str:
    """A path or URI as the runner keeps it: local ones absolute (file:// dropped), remote ones
    checked (no credentials, no query of options) and without a trailing slash."""
    if not is_remote(uri):  # file:///x, FILE:///x and file://localhost/x are /x; ~ is the home folder (`--work-dir=~/x`)
        path = re.sub(r"^file://(?:localhost(?=/))?", "", uri, flags=re.IGNORECASE)
        if path != uri and not path.startswith("/"):
            raise ConfigError(f"{uri}: a file:// URI names a path on this machine (file:///path); another host's is not reachable")
        return os.path.abspath(os.path.expanduser(path))
    scheme, _, rest = uri.partition("://")
    uri = f"{scheme.lower()}://{rest}"  # schemes are case-insensitive: S3:// is s3://
    if "@" in _split(uri)[1] or CREDENTIALS.match(uri):
        raise ConfigError(f"{public(uri)}: credentials in a URI are not accepted; give them through the environment "
                          "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...) or the cloud's config files")
    if options := OPTIONS.search(uri):  # refused unread: the message names the URI without its query, whatever it holds
        raise ConfigError(f"{public(uri[:options.start()])}: options in a URI's query string are not accepted; set them in the "
                          "environment (AWS_ENDPOINT_URL, AWS_REGION, ...)")
    scheme, host, path = _split(uri)
    if scheme in _BUCKETED and not host:  # s3:///x read as a path from the root: an internal error; s3:// every bucket
        raise ConfigError(f"{public(uri)}: names no bucket ({scheme}://BUCKET/path)")
    if "//" in path:
        raise ConfigError(f"{public(uri)}: an empty path component (//): object stores' filesystems refuse it")
    if {".", ".."} & set(path.split("/")):  # the store's client folds them for a GET or PUT but lists the key as
        # written: a run into s3://b/t/zz/../r2 found no run at t/r2 to refuse, and wrote over it
        raise ConfigError(f"{public(uri)}: a '.' or '..' path component; object stores take keys literally: write the path without it")
    return uri.rstrip("/") if not uri.endswith("://") else uri


def _split(uri: str) -> tuple[str, str, str]:
    """(scheme, host or bucket, the rest from its first "/") of a URI. Not urlsplit: an object's
    key may hold "?" and "#", which it would cut off as a query and a fragment."""
    scheme, _, rest = uri.partition("://")
    host, slash, path = rest.partition("/")
    return scheme.lower(), host, slash + path


#: the names of a query of options that `public` leaves out (what may hold a secret or an endpoint:
#: pyarrow's filesystem options, and anything named like a credential); a key listed in a store,
#: such as a wget mirror's `index.php?p=2.html`, keeps its name
SECRET_OPTION = re.compile(r"[?&](?:[\w.\-]*(?:key|token|secret|pass|pwd|credential|auth|session|sig|sas|jwt|amz|goog)[\w.\-]*|"
                           r"endpoint_override|region|scheme|role_arn|external_id|project_id|proxy_options|tls_ca_file_path)=",
                           re.IGNORECASE)


def public(uri: str) -> str:
    """A URI as it may be written down: no user:password@, no query naming an option or a
    credential (a URI a user gives with options is refused by `normalize`, its query unsaid)."""
    if not is_remote(uri):
        return uri
    scheme, host, path = _split(CREDENTIALS.sub(r"\g<scheme>", uri))
    query = OPTIONS.search(path)
    return f"{scheme}://{host.rpartition('@')[2]}{path[:query.start()] if query and SECRET_OPTION.search(query.group()) else path}"


def join(uri: str, *names: str) -> str:
    return posixpath.join(uri, *names) if is_remote(uri) else os.path.join(uri, *names)


def listed(path: str) -> str:
    """A path a listing or glob gave: a store's key as it is (checked as a URI a user types, a wget
    mirror's `index.php?p=2.html` read as a query of options), a local path normalized."""
    return path if is_remote(path) else normalize(path)


def real(path: str) -> str:
    """A local path as its links lead (a remote URI as it is)."""
    return path if is_remote(path) else os.path.realpath(path)


def real_files(paths: list[str]) -> list[str]:
    """Local files as their folders' links lead (each folder resolved once: a corpus of a
    million files in a few folders costs a few lookups)."""
    folders: dict[str, str] = {}
    resolved = []
    for path in paths:
        if is_remote(path):
            resolved.append(path)
            continue
        folder, name = os.path.split(path)
        if folder not in folders:
            folders[folder] = os.path.realpath(folder)
        resolved.append(os.path.join(folders[folder], name))
    return resolved


def within(uri: str, folder: str) -> bool:
    """Whether a path is the folder or lies below it (both as `normalize` keeps them)."""
    uri, folder = normalize(uri), normalize(folder).rstrip("/")
    return uri == folder or uri.startswith(folder + ("/" if is_remote(folder) else os.sep))


def parent(uri: str) -> str:
    return posixpath.dirname(uri.rstrip("/")) if is_remote(uri) else os.path.dirname(uri.rstrip(os.sep))


def ancestors(uri: str) -> list[str]:
    """The folders a path lies in, nearest first, up to the filesystem's root or the bucket's."""
    found, here = [], normalize(uri)
    while True:
        above = parent(here)
        if not above or above == here or (is_remote(here) and not _split(here)[2].strip("/")):  # past "/", or at s3://bucket
            return found
        found.append(above)
        here = above


def name(uri: str) -> str:
    return posixpath.basename(uri.rstrip("/"))


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) of a URI; the filesystem is made once per bucket or host."""
    if not is_remote(uri):
        return pafs.LocalFileSystem(), normalize(uri)
    scheme, host, inside = _split(uri)
    root = f"{scheme}://{host}"
    with _MAKING:  # threads of `each` may ask at once: one client per store, not one per thread
        if root not in _FILESYSTEMS:
            _FILESYSTEMS[root] = _filesystem(uri, scheme, root)
    fs = _FILESYSTEMS[root]
    path = f"{host}{inside}" if scheme in _BUCKETED or isinstance(fs, pafs.PyFileSystem) else inside
    return fs, path.rstrip("/") or "/"


def _filesystem(uri: str, scheme: str, root: str) -> pafs.FileSystem:
    try:
        made = _s3(root.split("://", 1)[1]) if scheme == "s3" else _gcs_from_environment() if scheme in ("gs", "gcs") else None
        return made or pafs.FileSystem.from_uri(root)[0]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):  # a scheme pyarrow lacks: fsspec's
        import fsspec

        try:
            return pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem(scheme)))
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"{public(uri)}: no filesystem for {scheme}:// ({exc})") from None
    except OSError as exc:  # mid-run, on a node whose environment lacks the store's settings, too: exit 7, resumable
        raise store_error(uri, exc) from None


#: seconds an S3 request may go without a byte before the SDK gives it up and retries: its own
#: default, 3 s, failed a run on a store that answered a HEAD in 5 s (a batch job over billions of
#: documents meets such a pause), after only three attempts
S3_REQUEST_TIMEOUT = 30.0


def _s3(bucket: str) -> pafs.S3FileSystem:
    """S3 with the endpoint and region the environment names (an S3-compatible store, or a region
    given: no request goes to AWS to look up the bucket's region), else the bucket's own region, as
    pyarrow finds it for a URI. Credentials stay with the AWS SDK's chain (environment, config
    files, instance role)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not endpoint and not region:
        region = pafs.resolve_s3_region(bucket)
    return pafs.S3FileSystem(endpoint_override=endpoint, region=region, request_timeout=S3_REQUEST_TIMEOUT)


#: seconds the GCS client may retry a request before it gives up: its own default, 15 minutes,
#: held a run whose store stopped answering that long, deaf to Ctrl-C and SIGTERM
GCS_RETRY_SECONDS = 60.0


def _gcs_from_environment() -> pafs.GcsFileSystem:
    """GCS at the emulator STORAGE_EMULATOR_HOST names (the variable Google's own clients and
    gcsfs read; anonymous, as emulators take), else with Google's usual credentials
    (GOOGLE_APPLICATION_CREDENTIALS, gcloud's config, the instance's account)."""
    import datetime

    limit = datetime.timedelta(seconds=GCS_RETRY_SECONDS)
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if not host:
        return pafs.GcsFileSystem(retry_time_limit=limit)
    scheme, _, address = host.rstrip("/").rpartition("://")
    return pafs.GcsFileSystem(anonymous=True, endpoint_override=address, scheme=scheme or "http", retry_time_limit=limit)


def _uri(base: str, path: str) -> str:
    """The URI of `path` (inside the filesystem of `base`)."""
    if not is_remote(base):
        return path
    scheme, host, _ = _split(base)
    if scheme in _BUCKETED or isinstance(resolve(base)[0], pafs.PyFileSystem):
        return f"{scheme}://{path.lstrip('/')}"  # fsspec lists some paths with a leading slash
    return f"{scheme}://{host}{path}"


#: what a store's failure says through pyarrow's S3 and GCS clients (denied, throttled, gone away,
#: timed out), as against the errors of a damaged file
STORE_FAILURE = re.compile(r"AWS Error|google::cloud|curlCode|Couldn't connect|Connection (?:refused|reset)|timed out", re.IGNORECASE)


def store_failed(exc: BaseException) -> bool:
    """Whether an error reading an input is the store's, not the file's: such a read stops the run
    (exit 7, resumable). Quarantined as a damaged file, it lost the file's records from a run that
    said it had finished, and the same command did not read them again. A local file gone since
    the listing (a link to nothing) stays the file's."""
    seen: BaseException | None = exc
    for _ in range(8):  # the error and what it was raised from (a chain is short; never followed round a loop)
        if seen is None:
            break
        if isinstance(seen, (ConnectionError, TimeoutError)) or (isinstance(seen, OSError) and STORE_FAILURE.search(str(seen))):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def info(uri: str) -> pafs.FileInfo:
    fs, path = resolve(uri)
    try:
        return fs.get_file_info(path)
    except OSError as exc:  # an OSError still (mid-run: the run stops, resumable, exit 7), with the URI said once
        raise store_error(uri, exc) from None


#: a store's answer that it refuses the request (S3's, GCS's, HTTP's words for it)
REFUSED = re.compile(r"ACCESS_DENIED|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|PERMISSION_DENIED|UNAUTHENTICATED|"
                     r"(?:HTTP|status|response|code)\D{0,20}\b40[13]\b|\bForbidden\b")  # (a key may hold 403: not alone)


def store_error(uri: str, exc: OSError) -> OSError:
    """The store's error in one line, with the URI once, saying whether the store refused (the
    credentials) or could not be reached (the endpoint, the network)."""
    message = " ".join(str(exc).split())
    what = "the store refused access (check the credentials in the environment)" if REFUSED.search(message) else "cannot reach the store"
    return OSError(f"{public(uri)}: {what}: {message}")


def free_bytes(uri: str) -> int | None:
    """Free bytes of the local disk a path is (or would be) on: its nearest existing folder's; None
    for an object store, which has no such limit to check."""
    if is_remote(uri):
        return None
    path = normalize(uri)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return shutil.disk_usage(path).free


def exists(uri: str) -> bool:
    return info(uri).type != pafs.FileType.NotFound


def is_file(uri: str) -> bool:
    return info(uri).type == pafs.FileType.File


def is_dir(uri: str) -> bool:
    """A folder (on an object store: a prefix that holds objects)."""
    return info(uri).type == pafs.FileType.Directory


def size(uri: str) -> int:
    return info(uri).size


def list_files(uri: str, recursive: bool = True) -> list[pafs.FileInfo]:
    """Files under a folder (none when it does not exist), sorted by path."""
    fs, path = resolve(uri)
    found = fs.get_file_info(pafs.FileSelector(path, recursive=recursive, allow_not_found=True))
    return sorted((i for i in found if i.type == pafs.FileType.File and _named(i)), key=lambda i: i.path)


def _named(info: pafs.FileInfo) -> bool:
    """Whether pyarrow can name the file: a local name that is not UTF-8 (a wget mirror of a
    Latin-1 site) raises on `.path` (walk lists those apart)."""
    try:
        return bool(info.path)
    except UnicodeDecodeError:
        return False


def walk(uri: str) -> list[str]:
    """URIs of every file below a folder, sorted. Locally through os.scandir, not pyarrow's
    listing, which follows linked folders without end: a link to `.` made a run list files for
    ever, growing to GBs, deaf to SIGTERM (inside C++), and one link to `..` read every page of
    the folder 40 times over."""
    if is_remote(uri) or not os.path.isdir(uri):
        return [_uri(uri, i.path) for i in list_files(uri)]
    found, unnamed = _local_files(uri)
    refuse_unnamed(unnamed, uri)
    return sorted(found)


def refuse_unnamed(paths: Sequence[str], where: str) -> None:
    """A one-line error for local paths whose names are not UTF-8 (os names their bytes with lone
    surrogates): pyarrow can neither list nor open them (its listing raised, an internal error
    on every rerun; a glob's match failed at its size)."""
    unnamed = [path for path in paths if _not_utf8(path)]
    if unnamed:
        shown = ", ".join(repr(os.fsencode(name))[1:] for name in unnamed[:3])
        raise ConfigError(f"{len(unnamed)} file name(s) under {where} are not UTF-8, which pyarrow cannot open: {shown}"
                          f"{', ...' if len(unnamed) > 3 else ''}; rename them (e.g. convmv -f latin1 -t utf-8 -r --notest {where})")


def _local_files(folder: str) -> tuple[list[str], list[str]]:
    """The files below a local folder, and the names there that are not UTF-8. Linked folders are
    followed, each real folder once (a link loop ends), after the folders below it that are no
    links (a folder reached both ways is listed by its own path, whatever order the directory
    gives); links to files are files, and links to nothing too, for their read to fail (a broken
    link's page was lost without a word); what is neither a file nor a folder (a FIFO, a socket:
    a read would block or fail) is no input."""
    seen, files, unnamed, todo, links = {os.path.realpath(folder)}, [], [], [folder], []
    while todo or links:
        if not todo:  # every folder reached without a link is listed: now those only a link reaches
            link = links.pop(0)
            if (real := os.path.realpath(link)) not in seen:
                seen.add(real)
                todo.append(link)
            continue
        with os.scandir(todo.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if _not_utf8(entry.name):
                    unnamed.append(entry.path)
                elif entry.is_dir():
                    if entry.is_symlink():
                        links.append(entry.path)
                    elif (real := os.path.realpath(entry.path)) not in seen:
                        seen.add(real)
                        todo.append(entry.path)
                elif entry.is_file() or (entry.is_symlink() and not os.path.exists(entry.path)):
                    files.append(entry.path)
        links.sort()
    return files, unnamed


def _not_utf8(name: str) -> bool:
    if name.isprintable():  # a lone surrogate is not printable: most names stop here
        return False
    try:
        name.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def files(uri: str, pattern: str = "*") -> list[str]:
    """URIs of the files directly in a folder whose name matches `pattern`, sorted."""
    return [_uri(uri, i.path) for i in list_files(uri, recursive=False) if fnmatch.fnmatchcase(i.base_name, pattern)]


def glob(spec: str) -> list[str]:
    """Files a remote glob names, as Python's recursive glob names local ones: `*`, `?` and
    `[...]` within a path segment, `**/` any number of segments (none included)."""
    fixed = spec[: min(spec.index(c) for c in "*?[" if c in spec)]
    base = fixed.rpartition("/")[0]
    pattern = _glob_pattern(resolve(spec)[1])
    return [_uri(base, i.path) for i in list_files(base) if pattern.fullmatch(i.path)]


def _glob_pattern(glob_spec: str) -> re.Pattern:
    """A glob as a regex over a whole path (fnmatch's `*` would cross segments)."""
    out, i = [], 0
    while i < len(glob_spec):
        if glob_spec.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif glob_spec.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob_spec[i] in "*?":
            out.append("[^/]*" if glob_spec[i] == "*" else "[^/]")
            i += 1
        elif glob_spec[i] == "[" and "]" in glob_spec[i + 2:]:
            end = glob_spec.index("]", i + 2)
            inside = glob_spec[i + 1:end]
            out.append("[" + ("^" + inside[1:] if inside.startswith("!") else inside).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(glob_spec[i]))
            i += 1
    return re.compile("".join(out), re.S)


def relative(uri: str, base: str) -> str:
    """`uri` below the folder `base` (both as the runner keeps them)."""
    return posixpath.relpath(uri, base) if is_remote(uri) else os.path.relpath(uri, base)


def open_input(uri: str) -> BinaryIO:
    """A seekable, buffered binary file (remote: over pyarrow's random-access file)."""
    if not is_remote(uri):
        return open(normalize(uri), "rb")
    fs, path = resolve(uri)
    return io.BufferedReader(fs.open_input_file(path))


def open_random(uri: str) -> pa.NativeFile:
    """A file for ranged reads (`read_at`): a shuffle file's index entry, then its piece."""
    fs, path = resolve(uri)
    return fs.open_input_file(path)


def open_output(uri: str) -> pa.NativeFile:
    """A new file written as a stream. Not atomic: for files whose names are handed on only
    once written (a shuffle's pieces); a killed writer leaves a file nobody names."""
    fs, path = resolve(uri)
    return fs.open_output_stream(path)


def make_dirs(uri: str) -> None:
    """A folder and its parents (a no-op on object stores, which have no folders)."""
    fs, path = resolve(uri)
    fs.create_dir(path, recursive=True)


def open_text_input(uri: str) -> BinaryIO:
    """A file's bytes, gunzipped when its name ends in .gz and its bytes start as gzip does
    (closing it closes the file): a page saved as `.html.gz` but never compressed is read as it
    is, as a WARC payload labelled gzip but plain is."""
    handle = open_input(uri)
    if not uri.lower().endswith(".gz") or handle.peek(2)[:2] != b"\x1f\x8b":  # any case: PAGE.HTML.GZ too
        return handle
    unzipped = gzip.GzipFile(fileobj=handle, mode="rb")
    unzipped.myfileobj = handle  # GzipFile closes the file it was given only as this
    return unzipped


def read_bytes(uri: str) -> bytes:
    with open_input(uri) as handle:
        return handle.read()


#: files the driver reads at once when it reads many small ones (markers, footers, schemas): an
#: object store answers each request in 10-50 ms, so 300,000 markers read one after another took
#: over an hour a segment; 32 in flight hold 32 files' metadata, not more
READ_THREADS = 32


def each(fn: Callable[[Any], Any], items: Sequence[Any], threads: int = READ_THREADS) -> list[Any]:
    """`fn` over `items`, `threads` at a time (pyarrow's filesystems release the GIL while they
    wait), results in order; the first error raised as it would be in a loop. Submitted a round
    at a time, so 300,000 items are not 300,000 futures at once."""
    if len(items) < 2:
        return [fn(item) for item in items]
    results: list[Any] = []
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        for start in range(0, len(items), threads * 16):
            results.extend(pool.map(fn, items[start:start + threads * 16]))
    return results


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri).decode("utf-8"))


def parquet_file(uri: str) -> pq.ParquetFile:
    if not is_remote(uri):
        return pq.ParquetFile(normalize(uri))
    fs, path = resolve(uri)
    return pq.ParquetFile(fs.open_input_file(path))


def read_table(uri: str, columns: list[str] | None = None) -> pa.Table:
    fs, path = resolve(uri)
    return pq.read_table(path, columns=columns, filesystem=fs)


def read_schema(uri: str) -> pa.Schema:
    return parquet_file(uri).schema_arrow


def write_bytes(data: bytes, uri: str) -> None:
    """Write a whole file: locally to a temporary name, then renamed; remotely in one PUT."""
    if is_remote(uri):
        fs, path = resolve(uri)
        try:
            with fs.open_output_stream(path) as handle:
                handle.write(data)
        except OSError as exc:  # in a worker too: the object's URI and what the store said, in one line
            raise store_error(uri, exc) from None
        return
    path = normalize(uri)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def write_parquet(table: pa.Table, uri: str) -> None:
    """Write a Parquet file whole (a reader, or a resumed run, never sees half of it)."""
    if is_remote(uri):
        fs, path = resolve(uri)
        try:
            pq.write_table(table, path, compression="zstd", filesystem=fs)
        except OSError as exc:
            raise store_error(uri, exc) from None
        return
    path = normalize(uri)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def write_json(data: Any, uri: str) -> None:
    write_bytes(json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"), uri)


def delete(uri: str) -> None:
    """Delete a file if it is there."""
    if not is_remote(uri):
        try:
            os.unlink(normalize(uri))
        except FileNotFoundError:
            pass
        return
    fs, path = resolve(uri)
    try:
        fs.delete_file(path)
    except FileNotFoundError:
        pass


def delete_tree(uri: str) -> None:
    """Delete a folder and everything below it, if it is there; a bucket's objects, not the
    bucket (an output at a bucket's root: pyarrow refuses to delete a bucket)."""
    fs, path = resolve(uri)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        scheme, _, inside = _split(uri)
        at_root = is_remote(uri) and scheme in _BUCKETED and not inside.strip("/")
        fs.delete_dir_contents(path) if at_root else fs.delete_dir(path)


def delete_leftovers(uri: str) -> None:
    """Local temporary files a killed attempt left half-written (remote writes leave none)."""
    if is_remote(uri):
        return
    for info_ in list_files(uri):
        if info_.base_name.startswith(".") and info_.base_name.endswith(".tmp"):
            os.unlink(info_.path)
