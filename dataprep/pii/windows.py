"""Windows: a Presidio PatternRecognizer run on the words that can hold a match, same findings.

A pattern recognizer reads a whole document with Python regexes, trying every position (Presidio's
e-mail pattern: 0.3 CPU s on pii_speed's text, more than all our own recognizers). When no
pattern of the recognizer can match whitespace, can match the empty string, or looks further
than a bounded number of characters around a position, and every pattern needs a given
character ("@"), then every match lies inside one whitespace-delimited word holding that
character. Running the recognizer on each such word (or run of words), with `reach` characters of the text on
either side so that boundaries and lookarounds see what they see in the whole text, and keeping
the matches inside the word, gives the same matches: the scan through the whole text arrives
at each word fresh (no match crosses the whitespace before it), and a match in the margins
(kept out) cannot cross the whitespace into the word. Validators read only the match (Presidio's
`validate_result(pattern_text)`, `invalidate_result(pattern_text)`), so the findings are the
same. Of Presidio's predefined recognizers the e-mail one qualifies (the others' patterns hold
spaces or override `analyze`). A pattern that matches no line break is read the same way on
the lines holding a match of a cheaper pattern inside all of its matches (lines_holding: our
number recognizers' prefilters, Presidio's phone matcher).
"""

from __future__ import annotations

import functools
import re
import string
from re import _compiler, _parser
from re import _constants as C  # noqa: N812 (the parser's opcodes)
from typing import NamedTuple

import regex as regex_module
from presidio_analyzer import EntityRecognizer, LocalRecognizer, PatternRecognizer, RecognizerResult

from dataprep.pii.screens import SHARED_FLAGS

#: what delimits a word here: the characters of `\s` in Presidio's `regex` module (the one its
#: patterns run with; the standard library's `\s` and str.isspace() add U+001C-U+001F, which a
#: pattern's `[^\s]` may then cross)
WHITESPACE = "\t\n\x0b\x0c\r\x20\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_WORD_END = regex_module.compile(r"\S*")
_WORD_START = regex_module.compile(r"\S*", regex_module.REVERSE)
#: the longest look around a position a windowed pattern may have
MAX_REACH = 64
_CONSUMING = (C.LITERAL, C.NOT_LITERAL, C.IN, C.ANY, C.CATEGORY)


#: needles that no case-insensitive pattern matches in another case
_CASELESS = string.punctuation + string.digits


class Plan(NamedTuple):
    needles: frozenset[str]  # every match holds one of these
    reach: int  # characters the patterns read beyond a match


def plan(rec: EntityRecognizer) -> Plan | None:
    """How to window `rec`, or None when it must read whole documents."""
    if not isinstance(rec, PatternRecognizer) or type(rec).analyze is not PatternRecognizer.analyze or not rec.patterns:
        return None
    return plan_patterns(tuple((pattern.regex, rec.global_regex_flags) for pattern in rec.patterns))


@functools.cache
def plan_patterns(patterns: tuple[tuple[str, int], ...]) -> Plan | None:
    """How to window a search for these (regex, flags), or None when it must read whole texts."""
    needles, reach = set(), 1
    for regex, flags in patterns:
        if int(flags) & ~int(SHARED_FLAGS):
            return None  # a flag the standard library's parser would read otherwise (VERSION1, ASCII, FULLCASE ...)
        try:
            tree = _parser.parse(regex, flags)
            if tree.getwidth()[0] == 0 or _spans_whitespace(tree, flags):
                return None
            # the flags given and the pattern's own inline (?i) at its start
            needle, look = _needle(tree, bool((flags | tree.state.flags) & re.IGNORECASE)), _reach(tree)
        except (re.error, TypeError, ValueError, RecursionError):
            return None
        if needle is None or look is None:
            return None
        needles.add(needle)
        reach = max(reach, look)
    return Plan(frozenset(needles), reach)


def _walk(tree, inside_assert: bool = False):
    """(opcode, argument, inside a lookaround) of every node."""
    for op, av in tree:
        yield op, av, inside_assert
        if op in (C.ASSERT, C.ASSERT_NOT):
            yield from _walk(av[1], True)
        elif op is C.SUBPATTERN:
            yield from _walk(av[3], inside_assert)
        elif op is C.ATOMIC_GROUP:
            yield from _walk(av, inside_assert)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            yield from _walk(av[2], inside_assert)
        elif op is C.BRANCH:
            for alternative in av[1]:
                yield from _walk(alternative, inside_assert)
        elif op is C.GROUPREF_EXISTS:
            for branch in av[1:]:
                if branch is not None:
                    yield from _walk(branch, inside_assert)


def _spans_whitespace(tree, flags: int) -> bool:
    """Whether a match can hold a whitespace character (a node outside lookarounds matches one)."""
    for op, av, inside_assert in _walk(tree):
        if op in (C.GROUPREF, C.GROUPREF_EXISTS):
            return True  # back-references are not read here: treat as anything
        if op in _CONSUMING and not inside_assert:
            node = _compiler.compile(_parser.SubPattern(tree.state, [(op, av)]), flags)
            if any(node.match(ws) for ws in WHITESPACE):
                return True
    return False


def _needle(tree, caseless: bool) -> str | None:
    """A character every match holds as written: a literal (or one-character class) the pattern
    cannot skip, where the pattern ignores case (`caseless`, or a group's (?i:...)) one that has
    no other case."""
    for op, av in tree:
        if op is C.LITERAL or op is C.IN and len(av) == 1 and av[0][0] is C.LITERAL:
            char = chr(av if op is C.LITERAL else av[0][1])
            if not caseless or char in _CASELESS:
                return char
        inner = None
        if op is C.SUBPATTERN:
            _, added, removed, group = av
            inner = _needle(group, bool((caseless or added & re.IGNORECASE) and not removed & re.IGNORECASE))
        elif op is C.ATOMIC_GROUP:
            inner = _needle(av, caseless)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
            inner = _needle(av[2], caseless)
        if inner is not None:
            return inner
    return None


def _reach(tree) -> int | None:
    """How far beyond a match's characters the pattern looks (boundaries, anchors, lookarounds)."""
    reach = 1  # \b, ^ and $ read the neighbouring character
    for op, av, _ in _walk(tree):
        if op in (C.ASSERT, C.ASSERT_NOT):
            width = av[1].getwidth()[1]
            if width > MAX_REACH:
                return None
            reach = max(reach, width + 1)
    return reach


class WindowedRecognizer(LocalRecognizer):
    """A pattern recognizer run on the words holding one of its needles (see the module docstring);
    on the whole text when needles are frequent."""

    def __init__(self, inner: PatternRecognizer, how: Plan):
        self.inner, self.how = inner, how
        super().__init__(supported_entities=inner.supported_entities, name=inner.name, supported_language=inner.supported_language,
                         version=inner.version, context=inner.context)

    @property
    def id(self) -> str:
        """The inner recognizer's: its results carry that id, and the analyzer keeps a result
        only under the id of a recognizer it ran (context step, score thresholds)."""
        return self.inner.id

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        found: list[RecognizerResult] = []
        reach = self.how.reach
        words = windows_of(text, self.how)
        if words is None:
            return self.inner.analyze(text, entities, nlp_artifacts)
        for start, end in words:
            offset = max(0, start - reach)
            for result in self.inner.analyze(text[offset:end + reach], entities, nlp_artifacts):
                result.start += offset
                result.end += offset
                if start <= result.start and result.end <= end:
                    found.append(result)
        return EntityRecognizer.remove_duplicates(found)


#: a text with more than one needle per this many characters is read whole (windows would cost more)
RARE = 200
#: words closer than this are read in one window (a window is bounded by whitespace either way;
#: each call of a Presidio recognizer costs some 20 microseconds of set-up)
MERGE_GAP = 256


def windows_of(text: str, how: Plan) -> list[tuple[int, int]] | None:
    """The windows to search in `text`, or None when its needles are everywhere (more than one
    per RARE characters): then one pass over the whole text costs less."""
    if sum(text.count(needle) for needle in how.needles) * RARE > len(text):
        return None
    return words_holding(text, how.needles)


def words_holding(text: str, needles: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of windows of whitespace-delimited words holding a needle, in text order:
    words less than MERGE_GAP apart share a window, which spans the text between them."""
    words = set()
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            start, end = _WORD_START.match(text, 0, at).start(), _WORD_END.match(text, at).end()
            words.add((start, end))
            at = text.find(needle, end)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(words):
        if merged and start - merged[-1][1] < MERGE_GAP:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def windowed(rec: EntityRecognizer) -> EntityRecognizer:
    """`rec` run on windows where that gives its findings, else `rec` itself."""
    how = plan(rec)
    return rec if how is None else WindowedRecognizer(rec, how)


def lines_holding(text: str, pattern: re.Pattern) -> list[tuple[int, int]]:
    """(start, end) of the lines holding a match of `pattern` (which holds no line break), each
    once: after a match, the search goes on at the next line."""
    lines: list[tuple[int, int]] = []
    match = pattern.search(text)
    while match is not None:
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        lines.append((text.rfind("\n", 0, match.start()) + 1, end))
        match = pattern.search(text, end)
    return lines
