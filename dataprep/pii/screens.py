"""Screens: RE2 patterns Arrow runs over a whole batch to skip documents no recognizer can fire on.

A screen must be lossless: it has to match every document in which its recognizer could report
anything. So it is derived from the recognizer's own regex, widened where RE2 cannot say the
same thing: lookarounds, anchors and word boundaries are dropped (each only ever removes matches),
back-references become "anything", and Python's Unicode classes become RE2 classes that hold at
least the same characters (`\\d` is exactly `\\p{Nd}`; `\\w` is widened to letters, marks, numbers
and connectors; a negated class RE2 cannot state exactly becomes "any character"). The result
matches a superset of what the Python pattern matches, so a document it rejects cannot hold a
match. A pattern whose syntax the standard parser does not know gives no screen (None): its
recognizer then reads every document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from re import _constants as C  # noqa: N812 (the parser's opcodes)
from re import _parser

import pyarrow as pa
import pyarrow.compute as pc

#: Python's `\s` for str patterns (str.isspace), spelled for an RE2 class
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
#: RE2 classes holding at least the characters of Python's categories (None: not expressible)
_CLASS_ITEMS = {C.CATEGORY_DIGIT: r"\p{Nd}", C.CATEGORY_SPACE: _SPACE, C.CATEGORY_WORD: r"\p{L}\p{M}\p{N}\p{Pc}"}
#: categories whose RE2 class is exact, so that their complement is exact too
_EXACT = {C.CATEGORY_DIGIT, C.CATEGORY_SPACE}
_NEGATED = {C.CATEGORY_NOT_DIGIT: C.CATEGORY_DIGIT, C.CATEGORY_NOT_SPACE: C.CATEGORY_SPACE, C.CATEGORY_NOT_WORD: C.CATEGORY_WORD}
_ANY = r"[\x{0}-\x{10ffff}]"
#: RE2's largest repetition count
_MAX_COUNT = 1000


#: the flags with the same value and meaning in the standard library and in Presidio's `regex`
#: module (regex.V1 is re.ASCII's bit, regex.ASCII re.DEBUG's): a pattern with any other flag is
#: not read with the standard parser
SHARED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.UNICODE | re.VERBOSE


class _NoScreen(Exception):
    pass


def superset(pattern: str, flags: int = 0) -> str | None:
    """An RE2 pattern that matches wherever the Python pattern (with `flags`) does, or None."""
    if int(flags) & ~int(SHARED_FLAGS):
        return None  # a regex-module flag the standard parser would misread (V1, ASCII, ...)
    try:
        tree = _parser.parse(pattern, flags)
        body = _emit(tree)
    except (re.error, _NoScreen, RecursionError, TypeError, ValueError):
        return None
    ignore_case = bool((flags | tree.state.flags) & re.IGNORECASE) or "(?i" in pattern
    screen = ("(?i)" if ignore_case else "") + body
    return screen if compiles(screen) else None


@functools.cache
def non_ascii_digits() -> str:
    """An RE2 class of every character but 0-9 that a recognizer's `\\d` may match: Python's
    (str.isdecimal) or the `regex` module's, whose Unicode tables may be newer. In text without
    one, every pattern's `\\d` reads as [0-9]."""
    import regex

    others = "".join(map(chr, [*range(0x80, 0xD800), *range(0xE000, 0x110000)]))
    codes = sorted({ord(c) for c in others if c.isdecimal()} | {ord(c) for c in regex.findall(r"\d", others)})
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"{_char(low)}-{_char(high)}" for low, high in ranges) + "]"


#: `\p{Nd}` as a class item or atom of a screen (not a literal backslash before "p{Nd}")
_NUMBER_CLASS = re.compile(r"(?<!\\)((?:\\\\)*)\\p\{Nd\}")


def ascii_digits(screen: str) -> str:
    """`screen` for text whose decimal digits are all 0-9 (no match of non_ascii_digits()): its
    `\\p{Nd}` (there for Python's Unicode `\\d`) read as RE2's ASCII `\\d`, the same matches
    in such text at a fraction of the cost (a Unicode class is a byte automaton in RE2)."""
    return _NUMBER_CLASS.sub(r"\1\\d", screen)


def union(screens: list[str | None]) -> str | None:
    """One screen for several patterns; None (no screen) if any of them has none."""
    if not screens or any(s is None for s in screens):
        return None
    return "|".join(f"(?:{s})" for s in screens)


def any_of(characters: Iterable[str]) -> str:
    """A screen for text holding one of these characters."""
    return "[" + "".join(_char(ord(c)) for c in sorted(characters)) + "]"


@functools.cache
def compiles(screen: str) -> bool:
    try:
        pc.match_substring_regex(pa.array([""]), screen)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _emit(tree) -> str:
    return "".join(_emit_one(op, av) for op, av in tree)


def _char(code: int) -> str:
    return rf"\x{{{code:x}}}"


def _emit_one(op, av) -> str:
    if op is C.LITERAL:
        return _char(av)
    if op is C.NOT_LITERAL:
        return f"[^{_char(av)}]"
    if op is C.ANY:
        return _ANY
    if op is C.IN:
        return _class(av)
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return ""  # anchors, boundaries and lookarounds only ever remove matches
    if op is C.BRANCH:
        return "(?:" + "|".join(_emit(alt) for alt in av[1]) + ")"
    if op is C.SUBPATTERN:
        return "(?:" + _emit(av[3]) + ")"
    if op is C.ATOMIC_GROUP:
        return "(?:" + _emit(av) + ")"
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        low, high, item = av
        inner = "(?:" + _emit(item) + ")"
        low = min(low, _MAX_COUNT)
        if high is C.MAXREPEAT or high > _MAX_COUNT:
            return inner + ("*" if low == 0 else "+" if low == 1 else f"{{{low},}}")
        return inner + f"{{{low},{high}}}"
    if op is C.GROUPREF:
        return _ANY + "*"  # the same text as a group: any text is a superset
    if op is C.CATEGORY:
        return _class([(C.CATEGORY, av)])
    raise _NoScreen(op)


def _class(items) -> str:
    negate = bool(items) and items[0][0] is C.NEGATE
    parts = []
    for op, av in items[1:] if negate else items:
        if op is C.LITERAL:
            parts.append(_char(av))
        elif op is C.RANGE:
            parts.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is C.CATEGORY and av in _CLASS_ITEMS and (not negate or av in _EXACT):
            parts.append(_CLASS_ITEMS[av])
        elif op is C.CATEGORY and av in _NEGATED and not negate and len(items) == 1 and _NEGATED[av] in _EXACT:
            return f"[^{_CLASS_ITEMS[_NEGATED[av]]}]"  # \D, \S alone: the exact complement
        else:
            return _ANY  # not expressible exactly in RE2: any character is a superset
    if not parts:
        return _ANY if negate else "[^\\x{0}-\\x{10ffff}]"
    return ("[^" if negate else "[") + "".join(parts) + "]"
