"""`url_filter`: remove pages by their URL before anything reads their text.

What a crawl pipeline checks first (datatrove's URLFilter, NeMo Curator's and RefinedWeb's URL
block lists), in this order, each a reason code:
- `blocked_domain`: the URL's host, or a domain above it, is on a block list (`www.a.example.com`
  is blocked by `example.com`);
- `blocked_url`: the URL's host (without `www.`, user info or port) and path start with a listed
  URL path (`example.com/adult/` blocks everything under it);
- `tld`: the top-level domain is in `block_tlds`, or not in `allow_tlds` when that is given;
- `banned_word` / `banned_subword`: a word of `banned_words` files is a whole word of the URL, or
  a `banned_subwords` entry appears anywhere in its letters and digits;
- `soft_words`: `soft_word_threshold` or more distinct words of the shipped bad-word lists
  (dataprep/badwords, the lists `c4_badwords` uses; English by default) are whole words of the URL.

Lists are files, one entry per line, `#` for comments: the UT1 blacklist format, whose category
folders (`adult/domains`, `adult/urls`) can be given as a folder. An internationalised domain
matches in either form (`bücher.de`, `xn--bcher-kva.de`). A host on an allow list is
never removed by this stage. A document without a URL has nothing to judge and is kept (its
`url_missing` metric says so).

Every check is a batch operation on Arrow arrays (regex extraction, `is_in` against the lists,
one pass per domain level or URL path depth): no Python loop per URL.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil
from dataprep.stages.base import Filter, TextBatch, register
from dataprep.stages.c4_badwords import LISTS, available

#: a URL's authority and path, with or without a scheme (`//host/...` and `host/...` too); the
#: host without user info or port
URL_PARTS = r"^(?:(?:[a-zA-Z][a-zA-Z0-9+.\-]*:)?//)?(?:[^@/?#]*@)?(?P<host>[^/:?#]+)(?::[0-9]*)?(?P<path>[^?#]*)"
MAX_LEVELS = 8  # domain levels tried against the lists (a.b.c.d.e.f.example.com)


@functools.cache
def read_list(path: str) -> frozenset[str]:
    """Entries of a list file (lower case, no comments), or of a UT1 category folder's two files."""
    folder = Path(path)
    files = [folder / "domains", folder / "urls"] if folder.is_dir() else [folder]
    entries = set()
    for file in files:
        if file.is_file():
            for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.strip().lower()
                if line and not line.startswith("#"):
                    entries.add(line)
    return frozenset(entries)


def with_idna_forms(entries: set[str]) -> set[str]:
    """The entries, and for each internationalised domain its other form (`bücher.de` and
    `xn--bcher-kva.de`): a list and a crawl may write a host either way. Done on the lists, once,
    so no URL is converted."""
    out = set(entries)
    for entry in entries:
        domain, slash, path = entry.partition("/")
        try:
            other = domain.encode("idna").decode("ascii") if not domain.isascii() else \
                domain.encode("ascii").decode("idna") if "xn--" in domain else domain
        except UnicodeError:  # not a valid IDN: matched as written
            continue
        out.add(other.lower() + slash + path)
    return out


def _strings(entries) -> pa.Array:
    return pa.array(sorted(set(entries)), pa.string())


def _check_paths(paths: list[str] | None, what: str) -> list[str]:
    for path in paths or []:
        if not Path(path).exists():
            raise ValueError(f"{what} not found: {path}")
    return [str(Path(p).resolve()) for p in paths or []]


@register
class UrlFilter(Filter):
    """Removes documents whose URL is block-listed, on a banned TLD, or made of adult words."""

    name = "url_filter"

    def __init__(
        self,
        block_lists: list[str] | None = None,  # files or UT1 folders: domains ("example.com") and URL paths ("example.com/x/")
        allow_lists: list[str] | None = None,  # domains never removed here (an allow list wins over every check)
        block_tlds: list[str] | None = None,  # e.g. [xxx, adult, porn, sex]; none by default, as datatrove
        allow_tlds: list[str] | None = None,  # when given, every other TLD is removed
        banned_words: list[str] | None = None,  # files of words that remove a URL on their own (datatrove's "hard" list)
        banned_subwords: list[str] | None = None,  # files of strings matched inside the URL's letters and digits
        soft_word_threshold: int = 2,  # datatrove URLFilter's default: one bad word in a URL is too often innocent
        soft_word_languages: list[str] | None = None,  # shipped lists used as soft words; default [en]: with all 26,
        # 4 of 990 real news URLs of shared/data were removed (common Spanish and German words)
    ):
        if soft_word_threshold < 1:
            raise ValueError(f"soft_word_threshold must be >= 1, not {soft_word_threshold}")
        unknown = sorted(set(soft_word_languages or []) - set(available()))
        if unknown:
            raise ValueError(f"no bad-words list {unknown[0]!r}; shipped: {', '.join(available())}")
        self.block_lists = _check_paths(block_lists, "block list")
        self.allow_lists = _check_paths(allow_lists, "allow list")
        self.block_tlds = sorted(t.lower().lstrip(".") for t in block_tlds or [])
        self.allow_tlds = sorted(t.lower().lstrip(".") for t in allow_tlds or [])
        self.banned_words = _check_paths(banned_words, "banned words file")
        self.banned_subwords = _check_paths(banned_subwords, "banned subwords file")
        self.soft_word_threshold = soft_word_threshold
        self.soft_word_languages = sorted(soft_word_languages or ["en"])

    def setup(self) -> None:
        listed = with_idna_forms(set().union(*(read_list(p) for p in self.block_lists)))
        self._block_domains = _strings(e for e in listed if "/" not in e)
        self._block_urls = _strings(e.removeprefix("www.").rstrip("/") for e in listed if "/" in e)
        self._url_depth = max((e.count("/") for e in self._block_urls.to_pylist()), default=0)
        self._allow = _strings(with_idna_forms(set().union(*(read_list(p) for p in self.allow_lists))))
        self._banned = _strings(set().union(*(read_list(p) for p in self.banned_words)))
        self._subwords = sorted(set().union(*(read_list(p) for p in self.banned_subwords)))
        soft = set().union(*(read_list(str(LISTS / f"{code}.txt")) for code in self.soft_word_languages))
        self._soft = _strings(w for w in soft if " " not in w)

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        if not hasattr(self, "_soft"):
            self.setup()
        n = batch.num_rows
        url = batch.table.column("url").combine_chunks().cast(pa.string()) if "url" in batch.table.column_names else pa.nulls(n, pa.string())
        url = pc.utf8_lower(url)
        parts = pc.extract_regex(url, URL_PARTS)
        host = pc.utf8_rtrim(pc.struct_field(parts, "host"), characters=".")
        words, parent = textutil.flat(pc.split_pattern_regex(url, r"[^\p{L}\p{N}]+"))
        return {
            "url_missing": pc.is_null(url).to_numpy(zero_copy_only=False),
            "allowed": self._domain_listed(host, self._allow),
            "blocked_domain": self._domain_listed(host, self._block_domains),
            "blocked_url": self._url_listed(host, pc.struct_field(parts, "path")),
            "tld_blocked": self._tld_blocked(host),
            "banned_words": _count_per_doc(pc.is_in(words, self._banned), parent, n),
            "banned_subword": self._has_subword(url),
            "soft_words": _distinct_per_doc(words, pc.is_in(words, self._soft), parent, n),
        }

    def _domain_listed(self, host: pa.Array, listed: pa.Array) -> np.ndarray:
        """Whether the host or a domain above it is listed: one `is_in` per level."""
        found = np.zeros(len(host), bool)
        if len(listed) == 0:
            return found
        level = host
        for _ in range(MAX_LEVELS):
            found |= pc.fill_null(pc.is_in(level, listed), False).to_numpy(zero_copy_only=False)
            level = pc.struct_field(pc.extract_regex(level, r"^[^.]+\.(?P<rest>.+)$"), "rest")
            if pc.all(pc.is_null(level)).as_py():
                break
        return found

    def _url_listed(self, host: pa.Array, path: pa.Array) -> np.ndarray:
        """Whether host and path (no scheme, user info, port or www.) are a listed path or lie
        under one: one `is_in` per depth."""
        found = np.zeros(len(host), bool)
        if len(self._block_urls) == 0:
            return found
        bare = pc.binary_join_element_wise(pc.replace_substring_regex(host, r"^www\.", ""), path, "")
        for depth in range(1, self._url_depth + 1):
            prefix = pc.struct_field(pc.extract_regex(bare, rf"^(?P<p>[^/]+(?:/[^/]+){{{depth}}})"), "p")
            found |= pc.fill_null(pc.is_in(prefix, self._block_urls), False).to_numpy(zero_copy_only=False)
        return found

    def _tld_blocked(self, host: pa.Array) -> np.ndarray:
        if not self.block_tlds and not self.allow_tlds:
            return np.zeros(len(host), bool)
        tld = pc.struct_field(pc.extract_regex(host, r"(?:^|\.)(?P<tld>[^.]+)$"), "tld")
        blocked = pc.is_in(tld, pa.array(self.block_tlds, pa.string()))
        if self.allow_tlds:
            blocked = pc.or_(blocked, pc.invert(pc.is_in(tld, pa.array(self.allow_tlds, pa.string()))))
        return pc.fill_null(pc.and_(blocked, pc.is_valid(tld)), False).to_numpy(zero_copy_only=False)

    def _has_subword(self, url: pa.Array) -> np.ndarray:
        if not self._subwords:
            return np.zeros(len(url), bool)
        letters = pc.replace_substring_regex(url, r"[^\p{L}\p{N}]+", "")
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


def _count_per_doc(hit: pa.Array, parent: np.ndarray, n: int) -> np.ndarray:
    mask = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    return np.bincount(parent[mask], minlength=n)


def _distinct_per_doc(words: pa.Array, hit: pa.Array, parent: np.ndarray, n: int) -> np.ndarray:
    """Distinct matching words per document (a URL repeating one word counts it once)."""
    mask = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    mask &= textutil.first_occurrences(parent, textutil.element_codes(words))
    return np.bincount(parent[mask], minlength=n)
