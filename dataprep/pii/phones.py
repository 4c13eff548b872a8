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
  A candidate with fewer digits than the shortest number valid there is rejected at once.
  One difference: the matcher stops after 65,535 rejected candidates in one text, and answers
  from memory do not count towards that, so a text with more could give more, never fewer.
"""

from __future__ import annotations

import functools
import re

from typing import NamedTuple

import phonenumbers
from phonenumbers import phonenumbermatcher
from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

#: remembered answers per process: (candidate, neighbours glued, ":mm" after, region) -> match or None
CACHED_CANDIDATES = 200_000
answers: dict[tuple, tuple | None] = {}


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
        results = []
        for region in self.supported_regions:
            for start, end in _lines(text, viable(region)):
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


@functools.cache
def remember_candidates() -> None:
    """Memoise PhoneNumberMatcher._extract_match (same answers; see the module docstring)."""
    original = phonenumbermatcher.PhoneNumberMatcher._extract_match

    def extract_match(self, candidate, offset):
        if self.leniency > phonenumbermatcher.Leniency.VALID:  # the grouping checks read more of the text
            return original(self, candidate, offset)
        digits = sum(c.isdecimal() for c in candidate)
        if digits < (shortest_international() if any(p in candidate for p in PLUS) else national_minimum(self.preferred_region)):
            return None  # too few digits for a valid number here, and its inner matches have fewer
        end = offset + len(candidate)
        # what the matcher reads besides the candidate: whether the characters before and after it
        # are letters or currency/percent signs, and whether a time stamp's ":mm" follows
        key = (candidate, offset > 0 and _glued(self.text[offset - 1]), end < len(self.text) and _glued(self.text[end]),
               bool(phonenumbermatcher._TIME_STAMPS_SUFFIX.match(self.text, end)), self.preferred_region)
        if key not in answers:
            if len(answers) >= CACHED_CANDIDATES:
                answers.clear()
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
