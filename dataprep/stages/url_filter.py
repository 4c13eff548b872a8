"""`url_filter`: remove pages by their URL before anything reads their text.

What a crawl pipeline checks first (datatrove's URLFilter, NeMo Curator's and RefinedWeb's URL
block lists), in this order, each a reason code:
- `blocked_domain`: the URL's host, or a domain above it, is on a block list (`www.a.example.com`
  is blocked by `example.com`, however many levels down);
- `blocked_url`: the URL's host (without `www.`, user info or port) and path start with a listed
  URL path (`example.com/adult/` blocks everything under it); a listed URL with a query
  (`example.com/page.php?id=5`) blocks that URL only;
- `tld`: the top-level domain (or a listed suffix of several labels, `co.uk`) is in `block_tlds`,
  or not in `allow_tlds` when that is given; an IP address has none;
- `banned_word` / `banned_subword`: a word of `banned_words` files is a whole word of the URL, or
  a `banned_subwords` entry appears anywhere in its letters and digits (the entry's own
  punctuation and spaces dropped too, as datatrove does: "2 girls 1 cup" is found in `2-girls-1-cup`);
- `soft_words`: `soft_word_threshold` or more distinct words of the shipped bad-word lists
  (dataprep/badwords, the lists `c4_badwords` uses; English by default) are whole words of the URL.

Lists are files, one entry per line, `#` for comments: the UT1 blacklist format, whose category
folders (`adult/domains`, `adult/urls`) can be given as a folder; `block_domains` takes entries
written in the pipeline itself. List entries and URLs are read
by the same rule (`_parts`), so an entry written as a URL (`http://example.com/`,
`example.com:8080`, `*.example.com`, `example.com.`) means its host. URLs are read as browsers
read them (the WHATWG URL standard): tabs and newlines dropped, `\\` as `/`, any number of slashes
after the scheme, `./`, `../` and repeated slashes in the path resolved, a percent-encoded host
decoded. An internationalised domain matches in
either form (`bücher.de`, `xn--bcher-kva.de`, by IDNA 2008 as browsers use it: `straße.de` is not
`strasse.de`). A URL whose host, a domain above it, or path is on an allow list (entries as in
block lists) is never removed by this stage. A document without a URL
has nothing to judge and is kept (its `url_missing` metric says so). Percent-encoded words
in the path or query (`%D1%81%D0%B5%D0%BA%D1%81`) are not decoded, as in datatrove.

Every check is a batch operation on Arrow arrays and numpy (regex extraction, then a lookup of
each domain level, path depth or word in the lists' sorted hashes); the one step per value is
its xxh3 hash, a C call mapped over the batch, as line_dedup hashes its lines.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import idna
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil
from dataprep.stages.base import Filter, TextBatch, register
from dataprep.stages.c4_badwords import LISTS, available

#: a URL's host (without user info or port, an IPv6 address in brackets), path and query, with
#: or without a scheme (`//host/...` and `host/...` too); lower case, after `_cleaned`
URL_PARTS = (r"^(?:[a-z][a-z0-9+.\-]*:/+|//)?(?:[^@/?#]*@)?(?P<host>\[[^\]/]*\]|[^/:?#]+)(?::[0-9]*)?"
             r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?")
#: what is not a letter or a digit: word boundaries, and what subword matching ignores
NOT_ALNUM = r"[^\p{L}\p{N}]+"
#: an IP address: a host without a top-level domain
IP_HOST = r"^(?:\[.*\]|[0-9]+(?:\.[0-9]+){3})$"
#: the "ideographic" full stops IDNA reads as dots in a host
IDEOGRAPHIC_DOTS = "[\u3002\uff0e\uff61]"
#: UT1's files in a category folder
UT1_FILES = ("domains", "urls")


def _cleaned(urls: pa.Array) -> pa.Array:
    """URLs as a browser reads what was typed: no surrounding white space, no tab or newline
    anywhere, backslashes as slashes; lower case."""
    urls = pc.replace_substring_regex(pc.utf8_trim_whitespace(urls), r"[\t\n\r]", "")
    return pc.utf8_lower(pc.replace_substring(urls, "\\", "/"))


def _parts(urls: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(host, path, query) of each URL or list entry: the host percent-decoded, without trailing
    dots, a leading `*.`, or `www.`-less forms (those are matched by level); the path with its
    dot segments resolved and without repeated slashes, `/` when empty; the query null when
    there is none."""
    urls = _cleaned(urls)
    parts = pc.extract_regex(urls, URL_PARTS)
    host = _uts46_mapped(pc.replace_substring_regex(_percent_decoded(pc.struct_field(parts, "host")), IDEOGRAPHIC_DOTS, "."))
    host = pc.utf8_rtrim(pc.utf8_ltrim(host, characters="*."), characters=".")
    path = _dot_segments_resolved(pc.replace_substring_regex(pc.struct_field(parts, "path"), r"/(?:\.?/)+", "/"))
    path = pc.if_else(pc.equal(path, ""), pa.scalar("/"), path)  # `host?q` is `host/?q`, as browsers send it
    query = pc.struct_field(parts, "query")
    has_query = pc.match_substring_regex(urls, r"^[^#]*\?")
    return host, path, pc.if_else(pc.fill_null(has_query, False), query, pa.scalar(None, pa.string()))


def _percent_decoded(hosts: pa.Array) -> pa.Array:
    """Hosts with `%XX` decoded, as a browser's host parser does (`%62locked.example` is
    `blocked.example`); the few that hold a `%` go through Python."""
    encoded = pc.fill_null(pc.match_substring(hosts, "%"), False)
    if not pc.any(encoded).as_py():
        return hosts
    decoded = [urllib.parse.unquote(h).lower() for h in hosts.filter(encoded).to_pylist()]
    return pc.replace_with_mask(hosts, encoded, pa.array(decoded, hosts.type))


def _uts46_mapped(hosts: pa.Array) -> pa.Array:
    """Hosts as a browser maps them before resolving (UTS 46: full-width letters to ASCII, soft
    hyphens and zero-width joiners dropped): `ｂｌｏｃｋｅｄ.com` and `bl\u00adocked.com` are
    `blocked.com`. Only hosts that are not ASCII go through Python; one the mapping refuses
    stays as written."""
    wide = pc.invert(pc.fill_null(pc.string_is_ascii(hosts), True))
    if not pc.any(wide).as_py():
        return hosts
    mapped = []
    for host in hosts.filter(wide).to_pylist():
        try:
            # cut where the mapping made a delimiter (a full-width `／`, `：`): what follows is no host
            mapped.append(re.split(r"[/?#:]", idna.uts46_remap(host, std3_rules=False, transitional=False), maxsplit=1)[0])
        except (idna.IDNAError, UnicodeError):
            mapped.append(host)
    return pc.replace_with_mask(hosts, wide, pa.array(mapped, hosts.type))


#: a path segment and the `..` after it (or `..` right after the root), removed one at a time
PARENT_SEGMENT = r"/[^/]+/\.\.(?:/|$)"
ROOT_PARENT = r"^/\.\.(?:/|$)"
#: `..` segments resolved in a path at most (a path with more keeps the rest as written)
MAX_PARENT_SEGMENTS = 32


def _dot_segments_resolved(paths: pa.Array) -> pa.Array:
    """Paths with `..` segments resolved, as a browser resolves them (`/safe/../adult/x` is
    `/adult/x`); a trailing `/.` is `/`. One `..` per pass over the batch, and only while some
    path still holds one (most batches: one regex test)."""
    paths = pc.replace_substring_regex(paths, r"/\.$", "/")
    for _ in range(MAX_PARENT_SEGMENTS):
        if not pc.any(pc.fill_null(pc.match_substring_regex(paths, r"/\.\.(?:/|$)"), False)).as_py():
            break
        paths = pc.replace_substring_regex(pc.replace_substring_regex(paths, ROOT_PARENT, "/"), PARENT_SEGMENT, "/", max_replacements=1)
    return paths


def _bare(host: pa.Array, path: pa.Array) -> pa.Array:
    """Host without `www.`, then the path: what URL entries and URLs are compared as."""
    return pc.binary_join_element_wise(pc.replace_substring_regex(host, r"^www\.", ""), path, "")


def list_files(path: str) -> list[Path]:
    """The files of a list: itself, or a UT1 category folder's `domains` and `urls` (of those, the ones there)."""
    folder = Path(path)
    return [folder / name for name in UT1_FILES if (folder / name).is_file()] if folder.is_dir() else [folder]


@functools.cache
def read_list(path: str) -> pa.Array:
    """Entries of a list file, or of a UT1 category folder's files."""
    return entries([line for file in list_files(path) for line in file.read_text(encoding="utf-8").splitlines()])


def entries(lines: list[str]) -> pa.Array:
    """A list's lines as entries: no comments or blank lines."""
    found = pc.replace_substring_regex(pc.utf8_trim_whitespace(pa.array(lines, pa.string())), r"\s+#.*$", "")
    return found.filter(pc.invert(pc.or_(pc.equal(found, ""), pc.starts_with(found, "#"))))


def with_idna_forms(entries: pa.Array) -> pa.Array:
    """The entries (a host, or a host then `/path` or `?query`), and for each whose host is
    internationalised the same with the host's other form (`bücher.de/x` and
    `xn--bcher-kva.de/x`, IDNA 2008 with UTS 46 mapping): a list and a crawl may write a host
    either way. Done on the lists, once (only their few non-ASCII or punycode entries go through
    Python), so no URL is converted. A host IDNA 2008 refuses (an underscore, `--` in the third
    and fourth places) is matched as written only."""
    foreign = pc.or_(pc.invert(pc.string_is_ascii(entries)), pc.match_substring(entries, "xn--"))
    others = []
    for entry in entries.filter(foreign).to_pylist():
        host, rest = re.match(r"([^/?]*)(.*)", entry, re.S).groups()
        try:
            other = idna.decode(host) if host.isascii() else idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            continue
        others.append(other + rest)
    return pa.concat_arrays([entries, pa.array(others, pa.string())])


class Listed:
    """A set of strings looked up a batch at a time: their xxh3-64 hashes, sorted once, searched
    for each value's hash, a hit confirmed against the entry itself. (Arrow's `is_in` builds its
    hash table of the whole list on every call: 1.3 s per call for a UT1-sized list of 3 M
    domains, called once per domain level.) Two entries with one hash (p ~ 1e-7 for 3 M) would
    leave one of them unmatched."""

    def __init__(self, entries: pa.Array):
        entries = pc.unique(entries.drop_null())
        hashes = textutil.xxh3_64(entries)
        order = np.argsort(hashes)
        self._hashes = hashes[order]
        self._entries = entries.take(pa.array(order))

    def __len__(self) -> int:
        return len(self._hashes)

    def contains(self, values: pa.Array) -> np.ndarray:
        """Whether each value is an entry (null: False)."""
        found = np.zeros(len(values), bool)
        valid = np.flatnonzero(pc.is_valid(values).to_numpy(zero_copy_only=False))
        if not len(self) or not len(valid):
            return found
        present = values.take(pa.array(valid))
        hashes = textutil.xxh3_64(present)
        at = np.minimum(np.searchsorted(self._hashes, hashes), len(self) - 1)
        candidates = np.flatnonzero(self._hashes[at] == hashes)
        same = pc.equal(present.take(pa.array(candidates)), self._entries.take(pa.array(at[candidates])))
        found[valid[candidates]] = same.to_numpy(zero_copy_only=False)
        return found


def _check_lists(paths: list[str] | None, what: str, folders: bool) -> list[str]:
    """The list paths, resolved; a missing one, a folder where a file is needed, a folder without
    UT1's files, or a file that is not UTF-8 is a one-line error (a list that silently matches
    nothing would let everything through)."""
    for path in paths or []:
        place = Path(path)
        if not place.exists():
            raise ValueError(f"{what} not found: {path}")
        if place.is_dir() and not folders:
            raise ValueError(f"{what} {path} is a folder: give the file")
        if not list_files(path):
            raise ValueError(f"{what} {path} is a folder without UT1's `domains` or `urls` file: "
                             "give a category folder (blacklists/adult) or a file")
        for file in list_files(path):
            try:
                file.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{what} {file} is not UTF-8 (byte {exc.start}): convert it "
                                 "(iconv -f latin1 -t utf-8)") from None
    return [str(Path(p).resolve()) for p in paths or []]


#: what a written entry's host must look like: a name with a dot inside, or an IPv6 address
NAMED_HOST = r"^(?:\[[^\]]+\]|\S*[^\s.]\.[^\s.]\S*)$"


def _check_entries(written: list[str], what: str) -> list[str]:
    """Entries written in the pipeline, each read as one line of a list; one that names no domain
    (`https://`, `*`, `exa mple.com`, `example.com:abc`, two lines in one) is a one-line error:
    it would block nothing, silently. (A list file's odd lines are left to the file's author:
    UT1's lists hold a few.)"""
    for entry in written:
        if "\n" in entry or "\r" in entry:
            raise ValueError(f"{what} entry {entry!r} holds a line break: give one entry per item")
    found = entries(written)
    host, path, _ = _parts(found)
    named = pc.and_(pc.match_substring_regex(host, NAMED_HOST), pc.starts_with(path, "/"))
    unnamed = found.filter(pc.invert(pc.fill_null(named, False)))
    if len(unnamed):
        raise ValueError(f"{what} entry {unnamed[0].as_py()!r} names no domain (write example.com or example.com/path/)")
    return list(written)


def _check_tlds(tlds: list[str] | None, what: str) -> list[str]:
    cleaned = sorted(t.strip().lower().strip(".") for t in tlds or [])
    if "" in cleaned:
        raise ValueError(f"{what} holds an empty entry")
    return cleaned


@register
class UrlFilter(Filter):
    """Removes documents whose URL is block-listed, on a banned TLD, or made of adult words."""

    name = "url_filter"

    def __init__(
        self,
        block_lists: list[str] | None = None,  # files or UT1 folders: domains ("example.com") and URL paths ("example.com/x/")
        block_domains: list[str] | None = None,  # entries written in the pipeline, read as a block list's lines
        # (so a URL path too: "example.com/x/" blocks what is under it, as url_filter.blocked_url)
        allow_lists: list[str] | None = None,  # domains never removed here (an allow list wins over every check)
        block_tlds: list[str] | None = None,  # e.g. [xxx, adult, porn, sex]; none by default, as datatrove
        allow_tlds: list[str] | None = None,  # when given, every other TLD is removed
        banned_words: list[str] | None = None,  # files of words that remove a URL on their own (datatrove's "hard" list)
        banned_subwords: list[str] | None = None,  # files of strings matched inside the URL's letters and digits
        soft_word_threshold: int = 2,  # datatrove URLFilter's default: one bad word in a URL is too often innocent
        soft_word_languages: list[str] | None = None,  # shipped lists used as soft words ([] for none); default [en]:
        # with all 26, 4 of 990 real news URLs of shared/data were removed (common Spanish and German words)
    ):
        if soft_word_threshold < 1:
            raise ValueError(f"soft_word_threshold must be >= 1, not {soft_word_threshold}")
        languages = ["en"] if soft_word_languages is None else soft_word_languages
        unknown = sorted(set(languages) - set(available()))
        if unknown:
            raise ValueError(f"no bad-words list {unknown[0]!r}; shipped: {', '.join(available())}")
        self.block_lists = _check_lists(block_lists, "block list", folders=True)
        self.block_domains = _check_entries(block_domains or [], "block_domains")
        self.allow_lists = _check_lists(allow_lists, "allow list", folders=True)
        self.block_tlds = _check_tlds(block_tlds, "block_tlds")
        self.allow_tlds = _check_tlds(allow_tlds, "allow_tlds")
        self.banned_words = _check_lists(banned_words, "banned words file", folders=False)
        self.banned_subwords = _check_lists(banned_subwords, "banned subwords file", folders=False)
        self.soft_word_threshold = soft_word_threshold
        self.soft_word_languages = sorted(languages)

    def read_files(self) -> list[str]:
        return [str(f) for path in self.block_lists + self.allow_lists + self.banned_words + self.banned_subwords
                for f in list_files(path)]

    def setup(self) -> None:
        self._block = Lookups.of(pa.concat_arrays([_joined(self.block_lists), entries(self.block_domains)]))
        self._allow = Lookups.of(_joined(self.allow_lists))
        self._banned = Listed(pc.utf8_lower(_joined(self.banned_words)))
        self._subwords = sorted(set(pc.replace_substring_regex(pc.utf8_lower(_joined(self.banned_subwords)), NOT_ALNUM, "").to_pylist()) - {""})
        soft = pc.utf8_lower(_joined([str(LISTS / f"{code}.txt") for code in self.soft_word_languages]))
        self._soft = Listed(soft.filter(pc.invert(pc.match_substring(soft, " "))))
        self._tlds = {what: Listed(with_idna_forms(pa.array(tlds, pa.string()))) for what, tlds in
                      (("block", self.block_tlds), ("allow", self.allow_tlds))}
        self._tld_labels = sorted({t.count(".") + 1 for t in self.block_tlds + self.allow_tlds})

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        if not hasattr(self, "_soft"):
            self.setup()
        n = batch.num_rows
        url = batch.table.column("url").combine_chunks().cast(pa.string()) if "url" in batch.table.column_names else pa.nulls(n, pa.string())
        host, path, query = _parts(url)
        words, parent = textutil.flat(pc.split_pattern_regex(_cleaned(url), NOT_ALNUM))
        blocked_domain, blocked_url = self._block.contains(host, path, query)
        return {
            "url_missing": pc.is_null(url).to_numpy(zero_copy_only=False),
            "allowed": np.logical_or(*self._allow.contains(host, path, query)),
            "blocked_domain": blocked_domain,
            "blocked_url": blocked_url,
            "tld_blocked": self._tld_blocked(host),
            "banned_words": _count_per_doc(self._banned.contains(words), parent, n),
            "banned_subword": self._has_subword(_cleaned(url)),
            "soft_words": _distinct_per_doc(words, self._soft.contains(words), parent, n),
        }

    def _tld_blocked(self, host: pa.Array) -> np.ndarray:
        """The host's last label, or last few for a listed suffix of several (`co.uk`), against
        the TLD lists; an IP address has no TLD."""
        blocked = np.zeros(len(host), bool)
        if not self._tld_labels:
            return blocked
        not_ip = pc.fill_null(pc.invert(pc.match_substring_regex(host, IP_HOST)), False).to_numpy(zero_copy_only=False)
        allowed = np.zeros(len(host), bool)
        for labels in self._tld_labels:
            suffix = pc.struct_field(pc.extract_regex(host, rf"(?:^|\.)(?P<s>[^.]+(?:\.[^.]+){{{labels - 1}}})$"), "s")
            blocked |= self._tlds["block"].contains(suffix)
            allowed |= self._tlds["allow"].contains(suffix)
        if self.allow_tlds:
            blocked |= ~allowed
        return blocked & not_ip & pc.is_valid(host).to_numpy(zero_copy_only=False)

    def _has_subword(self, url: pa.Array) -> np.ndarray:
        if not self._subwords:
            return np.zeros(len(url), bool)
        letters = pc.replace_substring_regex(url, NOT_ALNUM, "")
        pattern = "|".join(re.escape(w) for w in self._subwords)
        return pc.fill_null(pc.match_substring_regex(letters, pattern), False).to_numpy(zero_copy_only=False)

    def checks(self, m: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
        judged = ~m["allowed"]
        return [
            ("blocked_domain", judged & m["blocked_domain"]),
            ("blocked_url", judged & m["blocked_url"]),
            ("tld", judged & m["tld_blocked"]),
            ("banned_word", judged & (m["banned_words"] > 0)),
            ("banned_subword", judged & m["banned_subword"]),
            ("soft_words", judged & (m["soft_words"] >= self.soft_word_threshold)),
        ]


@dataclass(frozen=True)
class Lookups:
    """A list's entries by kind, each looked up its own way: hosts (a URL's host or a domain above
    it), URL paths (a URL at or under one, up to `depth` segments), URLs with a query (that URL)."""

    hosts: Listed
    paths: Listed
    queries: Listed
    depth: int

    @classmethod
    def of(cls, entries: pa.Array) -> Lookups:
        host, path, query = _parts(entries)
        trimmed = pc.utf8_rtrim(path, characters="/")
        has_query = pc.is_valid(query)
        on_path = pc.fill_null(pc.or_(has_query, pc.greater(pc.utf8_length(trimmed), 0)), False)
        prefixes = _bare(host, trimmed).filter(pc.and_(on_path, pc.invert(has_query)))
        exact = pc.binary_join_element_wise(_bare(host, path), query, "?").filter(has_query)  # the path as the URL writes it
        depth = int(pc.max(pc.count_substring(prefixes, "/")).as_py() or 0) if len(prefixes) else 0
        return cls(Listed(with_idna_forms(host.filter(pc.invert(on_path)))), Listed(with_idna_forms(prefixes)),
                   Listed(with_idna_forms(exact)), depth)

    def contains(self, host: pa.Array, path: pa.Array, query: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(the host or a domain above it is listed, the URL is a listed path or under one or a
        listed URL with its query)."""
        on_host = np.zeros(len(host), bool)
        level = host
        while len(self.hosts) and not pc.all(pc.is_null(level)).as_py():
            on_host |= self.hosts.contains(level)
            level = pc.struct_field(pc.extract_regex(level, r"^[^.]+\.(?P<rest>.+)$"), "rest")
        bare = _bare(host, path)
        on_path = self.queries.contains(pc.binary_join_element_wise(bare, query, "?"))
        for depth in range(1, self.depth + 1):
            prefix = pc.struct_field(pc.extract_regex(bare, rf"^(?P<p>[^/]+(?:/[^/]+){{{depth}}})"), "p")
            on_path |= self.paths.contains(prefix)
        return on_host, on_path


def _joined(paths: list[str]) -> pa.Array:
    """The entries of all these lists, as one array."""
    return pa.concat_arrays([read_list(p) for p in paths]) if paths else pa.array([], pa.string())


def _count_per_doc(hit: np.ndarray, parent: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(parent[hit], minlength=n)


def _distinct_per_doc(words: pa.Array, hit: np.ndarray, parent: np.ndarray, n: int) -> np.ndarray:
    """Distinct matching words per document (a URL repeating one word counts it once)."""
    mask = hit & textutil.first_occurrences(parent, textutil.element_codes(words))
    return np.bincount(parent[mask], minlength=n)
