"""Presidio's PhoneRecognizer, same findings at a fraction of the cost.

Presidio runs phonenumbers' PhoneNumberMatcher once per supported region over the whole text;
every digit run is a candidate, parsed and validated eight times (86% of the stage's time with
NER off on real e-mails). Two exact shortcuts:

- a region's matcher runs only on the lines that hold a run of digits (joined by the matcher's
  punctuation, up to four marks) long enough to be a valid number there: the shortest national
  number of the region (or of a region sharing its country code), or a "+" number (the shortest
  valid international number), or a number after an international call prefix (a digit more);
- the matcher's answer for a candidate depends only on the candidate, on whether the characters
  around it are letters or currency signs, on whether a time stamp's ":mm" follows, on the
  region and on the leniency, so
  it is remembered (repeated dates, years, prices and times are most candidates in real text).
  A candidate with fewer digits than the shortest number valid there is rejected at once, and
  so is one written nationally (no plus sign, international call prefix, letters or extension
  mark) in whose digits no piece ending with a group of digits is a national number valid in a
  region of its country code: the number the matcher would parse from it, or from a part of
  it, is such a piece (see national_numbers).
  One difference: the matcher stops after 65,535 rejected candidates in one text, and answers
  from memory do not count towards that, so a text with more could give more, never fewer.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator

from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, phonenumbermatcher
from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

#: remembered answers per process: (candidate, neighbours glued, ":mm" after, region) -> match or None
CACHED_CANDIDATES = 200_000
answers: dict[tuple, tuple | None] = {}
#: phonenumbers' own candidate checks, before remember_candidates replaces them
SHIPPED = {name: getattr(phonenumbermatcher.PhoneNumberMatcher, name) for name in ("_extract_match", "_parse_and_verify")}


def _shortest(region: str) -> int:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return min(n for n in meta.general_desc.possible_length if n > 0)


@functools.cache
def shortest_international() -> int:
    """Digits of the shortest valid number written with its country code."""
    return min(len(str(phonenumbers.country_code_for_region(r))) + _shortest(r) for r in phonenumbers.SUPPORTED_REGIONS)


def digit_run(digits: int) -> str:
    """A Python regex for `digits` digits joined as the matcher joins them."""
    joint = phonenumbermatcher._PUNCTUATION  # "[...]{0,4}": the punctuation allowed between digits
    return rf"\d(?:{joint}\d){{{digits - 1}}}"


#: the plus signs phonenumbers accepts before a country code
PLUS = "+\uff0b"


@functools.cache
def national_minimum(region: str) -> int:
    """Fewest digits of a number the matcher of `region` can find without a plus sign."""
    # a national number parsed for `region` is validated for every region sharing its country code
    sharing = phonenumbers.region_codes_for_country_code(phonenumbers.country_code_for_region(region))
    return min(*(_shortest(r) for r in sharing), shortest_international() + 1)  # after a call prefix: a digit more


@functools.cache
def viable(region: str) -> re.Pattern:
    """Texts in which the matcher of `region` can find a valid number."""
    return re.compile(rf"{digit_run(national_minimum(region))}|[{PLUS}]{digit_run(shortest_international())}", re.UNICODE | re.IGNORECASE)


class ScreenedPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer, each region's matcher run only on the lines that can hold a
    number valid there. A candidate never crosses a line break (not in the matcher's
    punctuation), and at a line's edges the matcher sees what it sees in the whole text (a line
    break is neither a letter nor a currency sign, and no ":mm" follows it): same findings."""

    def __init__(self, original: PhoneRecognizer):
        super().__init__(context=original.context, supported_language=original.supported_language,
                         supported_entity=original.supported_entities[0], supported_regions=original.supported_regions,
                         leniency=original.leniency, name=original.name)
        remember_candidates()

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None):
        results, lines = [], {}
        for region in self.supported_regions:
            pattern = viable(region)  # most regions share one: their lines are found once
            if pattern not in lines:
                lines[pattern] = _lines(text, pattern)
            for start, end in lines[pattern]:
                for match in phonenumbers.PhoneNumberMatcher(text[start:end], region, leniency=self.leniency):
                    shifted = _Shifted(match.start + start, match.end + start)
                    try:
                        found = phonenumbers.region_code_for_number(phonenumbers.parse(text[shifted.start:shifted.end]))
                    except phonenumbers.NumberParseException:
                        found = region
                    results.append(self._get_recognizer_result(shifted, text, found, nlp_artifacts))
        return EntityRecognizer.remove_duplicates(results)


class _Shifted(NamedTuple):
    start: int
    end: int


def _lines(text: str, pattern: re.Pattern) -> list[tuple[int, int]]:
    """(start, end) of the lines holding a match of `pattern`, each once."""
    lines: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        if lines and match.start() < lines[-1][1]:
            continue
        end = text.find("\n", match.end())
        lines.append((text.rfind("\n", 0, match.start()) + 1, len(text) if end < 0 else end))
    return lines


def _glued(char: str) -> bool:
    """The matcher's test of a neighbouring character (a Latin letter, %, a currency sign)."""
    matcher = phonenumbermatcher.PhoneNumberMatcher
    return matcher._is_invalid_punctuation_symbol(char) or matcher._is_latin_letter(char)


#: what can mark an extension (phonenumberutil._create_extn_pattern) besides letters: "#", "~", ",,", ";ext="
_EXTENSION_MARKS = "#\uff03~\uff5e,;"


@functools.cache
def national_numbers(region: str) -> tuple[re.Pattern, re.Pattern] | None:
    """(every national significant number valid in a region sharing `region`'s country code,
    anchored at the end; `region`'s international call prefix), or None where a national number
    parsed for `region` need not be a piece of the candidate's digits (a national prefix rule
    that adds digits: "664\\1").

    Why a piece, and one that ends where a group of digits ends: a part the matcher parses
    (the candidate, or a part of it cut at a separator) starts and ends with a group of digits;
    parsed for `region` without a plus sign or call prefix, the country code is `region`'s and
    the national number is what is left once a leading country code, national prefix or carrier
    code is cut off (an extension needs a mark, letters or "#~,;"). `is_valid_number` then needs
    it to match the general description of a region of that country code
    (phonenumberutil._number_type_helper)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or not meta.international_prefix:
        return None
    code = meta.country_code
    main = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(code))
    if any(m is None or m.national_prefix_transform_rule and not re.fullmatch(r"\\[0-9]", m.national_prefix_transform_rule)
           for m in (meta, main)):
        return None
    valid = [PhoneMetadata.metadata_for_region(r).general_desc.national_number_pattern
             for r in phonenumbers.region_codes_for_country_code(code)]
    return re.compile("(?:" + "|".join(f"(?:{v})" for v in valid if v) + r")\Z"), re.compile(meta.international_prefix)


#: a character after which the matcher decides: a letter (or another non-decimal numeral), a plus sign, an extension's mark
_UNSURE = re.compile(rf"[^\W\d_]|[{PLUS}{_EXTENSION_MARKS}]")


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def cannot_be_valid(candidate: str, region: str) -> bool:
    """True when the matcher of `region` (leniency VALID) can find no number in `candidate`."""
    numbers = national_numbers(region)
    if numbers is None or _UNSURE.search(candidate):
        return False
    valid_at_end, call_prefix = numbers
    digits = re.sub(r"\D", "", candidate) if candidate.isascii() else phonenumbers.normalize_digits_only(candidate)
    starts, ends = [], []
    for group in re.finditer(r"\d+", candidate):
        starts.append(ends[-1] if ends else 0)
        ends.append(starts[-1] + len(group.group()))
    if any(call_prefix.match(digits, start) for start in starts):
        return False  # an international number: any country's
    return not any(valid_at_end.search(digits, 0, end) for end in ends)


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def too_few_digits(candidate: str, region: str) -> bool:
    """Fewer digits than the shortest number valid in `region` (or anywhere, after a plus sign)."""
    digits = sum(c.isdecimal() for c in candidate)
    return digits < (shortest_international() if any(p in candidate for p in PLUS) else national_minimum(region))


@contextlib.contextmanager
def shipped() -> Iterator[None]:
    """phonenumbers' matcher as shipped, for as long as the context lasts (to compare with)."""
    ours = {name: getattr(phonenumbermatcher.PhoneNumberMatcher, name) for name in SHIPPED}
    try:
        for name, method in SHIPPED.items():
            setattr(phonenumbermatcher.PhoneNumberMatcher, name, method)
        yield
    finally:
        for name, method in ours.items():
            setattr(phonenumbermatcher.PhoneNumberMatcher, name, method)


@functools.cache
def remember_candidates() -> None:
    """Memoise PhoneNumberMatcher._extract_match, and have it and _parse_and_verify (which the
    matcher calls on a candidate and on the parts it cuts from one) skip a national candidate
    with no valid piece unparsed (same answers; see the module docstring)."""
    original, parse_and_verify = SHIPPED["_extract_match"], SHIPPED["_parse_and_verify"]

    def screened_parse_and_verify(self, candidate, offset):
        if self.leniency == phonenumbermatcher.Leniency.VALID and cannot_be_valid(candidate, self.preferred_region):
            return None
        return parse_and_verify(self, candidate, offset)

    def extract_match(self, candidate, offset):
        if self.leniency > phonenumbermatcher.Leniency.VALID:  # the grouping checks read more of the text
            return original(self, candidate, offset)
        if too_few_digits(candidate, self.preferred_region):
            return None  # for a valid number here, and its inner matches have fewer
        end = offset + len(candidate)
        # what the matcher reads besides the candidate: whether the characters before and after it
        # are letters or currency/percent signs, and whether a time stamp's ":mm" follows
        key = (candidate, offset > 0 and _glued(self.text[offset - 1]), end < len(self.text) and _glued(self.text[end]),
               bool(phonenumbermatcher._TIME_STAMPS_SUFFIX.match(self.text, end)), self.preferred_region, self.leniency)
        if key not in answers:
            if len(answers) >= CACHED_CANDIDATES:
                answers.clear()
            if self.leniency == phonenumbermatcher.Leniency.VALID and cannot_be_valid(candidate, self.preferred_region):
                answers[key] = None
                return None
            match = original(self, candidate, offset)
            answers[key] = None if match is None else (match.start - offset, match.raw_string, match.number)
        answer = answers[key]
        if answer is None:
            return None
        start, raw, number = answer
        copy = phonenumbers.PhoneNumber()
        copy.merge_from(number)
        return phonenumbermatcher.PhoneNumberMatch(offset + start, raw, copy)

    phonenumbermatcher.PhoneNumberMatcher._extract_match = extract_match
    phonenumbermatcher.PhoneNumberMatcher._parse_and_verify = screened_parse_and_verify
