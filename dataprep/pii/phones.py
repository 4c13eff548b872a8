"""Presidio's PhoneRecognizer, same findings at a fraction of the cost.

Presidio runs phonenumbers' PhoneNumberMatcher once per supported region over the whole text;
every digit run is a candidate, parsed and validated eight times (86% of the stage's time with
NER off on real e-mails). Exact shortcuts:

- the matchers run only on the lines that hold a run of digits (joined by the matcher's
  punctuation, up to four marks) long enough to be a valid number in one of the regions: the
  shortest national number of a region (or of a region sharing its country code), or a "+"
  number (the shortest valid international number), or a number after an international call
  prefix (a digit more);
- the matcher's candidates do not depend on the region (its candidate pattern and trimming do
  not read it), so each line is scanned once and every region walks that scan;
- the matcher's answer for a candidate depends only on the candidate, on whether the characters
  around it are letters or currency signs, on whether a time stamp's ":mm" follows, on the
  region and on the leniency, so
  it is remembered (repeated dates, years, prices and times are most candidates in real text).
  A candidate with fewer digits than the shortest number valid there (nationally; with a plus
  sign, internationally or nationally, as the matcher can cut a part without the plus) is
  rejected at once, and
  so is one written nationally (no plus sign, international call prefix, letters or extension
  mark) in whose digits no piece ending with a group of digits is a national number valid in a
  region of its country code (its general description and one type's: fixed line, mobile ...):
  the number the matcher would parse from it, or from a part of it, is such a piece (see
  national_numbers; only pieces of a length the region's metadata lists are tried). A line
  whose candidates are all rejected so for a region builds no matcher for it. A part about to
  be parsed is rejected too when, written nationally, its number would need a national prefix
  it does not hold (lacks_national_prefix: the matcher's own last check, asked before parsing).
  A candidate written with a plus sign and a known country code parses the same for every
  region (the region is read only for numbers without one, or after an unknown country code),
  so its parse is shared by all regions' matchers (international).
  One difference: the matcher stops after 65,535 rejected candidates in one text, and answers
  from memory do not count the parts of a candidate it tried, so a text with more could give
  more, never fewer. A "no number" given when the tries ran out is not remembered (it is about
  that text, not the candidate).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, phonenumbermatcher, phonenumberutil
from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from dataprep.pii import windows

#: remembered answers per process: (candidate, neighbours glued, ":mm" after, region) -> match or None;
#: a candidate read alike in every region (international) under "any region"
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
    # a national number parsed for `region` is validated for every region sharing its country
    # code (none for a region phonenumbers does not know: it then parses only "+" numbers)
    sharing = phonenumbers.region_codes_for_country_code(phonenumbers.country_code_for_region(region))
    return min([_shortest(r) for r in sharing] + [shortest_international() + 1])  # after a call prefix: a digit more


@functools.cache
def viable(regions: tuple[str, ...]) -> re.Pattern:
    """Texts in which the matcher of one of `regions` can find a valid number: a national run of
    digits or a "+" one, written as one class of first characters and a branch on it (the same
    matches as the two alternatives; `re` then skips ahead to a digit or plus sign in C)."""
    fewest = min(national_minimum(region) for region in regions)
    national, international = digit_run(fewest).removeprefix(r"\d"), digit_run(shortest_international())
    return re.compile(rf"[\d{PLUS}](?:(?<=\d){national}|(?<=[{PLUS}]){international})", re.UNICODE | re.IGNORECASE)


def screenable(leniency: phonenumbermatcher.Leniency) -> bool:
    """Whether the matcher finds only valid numbers, so that the digits of the shortest valid
    number can screen text (POSSIBLE also takes local-only lengths, shorter: "4567" in GB)."""
    return leniency >= phonenumbermatcher.Leniency.VALID


class ScreenedPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer, its matchers run only on the lines that can hold a valid
    number, all regions walking one scan of each line. A candidate never crosses a line break
    (not in the matcher's punctuation), and at a line's edges the matcher sees what it sees in the
    whole text (a line break is neither a letter nor a currency sign, and no ":mm" follows it):
    same findings. With a leniency below VALID it is Presidio's analyze (answers remembered)."""

    def __init__(self, original: PhoneRecognizer):
        super().__init__(context=original.context, supported_language=original.supported_language,
                         supported_entity=original.supported_entities[0], supported_regions=original.supported_regions,
                         leniency=original.leniency, name=original.name)

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None):
        if not screenable(self.leniency):
            return super().analyze(text, entities, nlp_artifacts)
        results, regions = [], tuple(self.supported_regions)
        lines = [(start, text[start:end]) for start, end in windows.lines_holding(text, viable(regions))]
        # the matcher's candidates do not depend on the region
        scans = [_scan(line, regions, self.leniency) for _, line in lines]
        # a candidate with no valid number for a region is rejected whatever its neighbours
        # (_hopeful_regions): a line of such candidates only (most lines of dates and times)
        # builds no matcher for that region. Others are walked whole, as the matcher counts every
        # rejected candidate among its tries
        hopeful = [set().union(*(c.hopeful for c in scan)) for scan in scans]
        for region in regions:
            for (start, line), scan, live in zip(lines, scans, hopeful):
                if region not in live:
                    continue
                for match in _region_matches(line, scan, region, regions, self.leniency):
                    shifted = _Shifted(match.start + start, match.end + start)
                    results.append(self._get_recognizer_result(shifted, text, _region_of(match.raw_string, region), nlp_artifacts))
        return EntityRecognizer.remove_duplicates(results)


class _Shifted(NamedTuple):
    start: int
    end: int


class _Candidate(NamedTuple):
    """One candidate of the matcher's scan of a line, and what its answer depends on besides."""

    offset: int
    text: str
    hopeful: frozenset[str]  # the regions whose matcher may find a number in it (_hopeful_regions)
    #: a glued character before, after; a time stamp's ":mm" after (None where no region is hopeful: never read)
    context: tuple[bool, bool, bool] | None


def _scan(line: str, regions: tuple[str, ...], leniency, index: int = 0) -> list[_Candidate]:
    """The candidates PhoneNumberMatcher._find reads in `line` from `index` when it rejects each
    one: the next search starts where the (trimmed) candidate ends."""
    out = []
    found = phonenumbermatcher._PATTERN.search(line, index)
    while found is not None:
        start = found.start()
        candidate = phonenumbermatcher.PhoneNumberMatcher._trim_after_first_match(
            None, phonenumbermatcher._SECOND_NUMBER_START_PATTERN, found.group())
        hopeful = _hopeful_regions(candidate, regions, leniency)
        out.append(_Candidate(start, candidate, hopeful, _context(line, candidate, start) if hopeful else None))
        found = phonenumbermatcher._PATTERN.search(line, start + len(candidate))
    return out


def _region_matches(line: str, scan: list[_Candidate], region: str, regions: tuple[str, ...],
                    leniency) -> Iterator[phonenumbermatcher.PhoneNumberMatch]:
    """What iterating PhoneNumberMatcher(line, region, leniency) yields, read off the shared scan
    (of `regions`): after a match that ends where its candidate ends, the matcher's next search
    starts where the scan's does; after an inner match ending sooner, the line is scanned again
    from there."""
    matcher = RememberingMatcher(line, region, leniency=leniency)
    i = 0
    while i < len(scan) and matcher._max_tries > 0:
        candidate = scan[i]
        match = _answer(matcher, candidate.text, candidate.offset, candidate.context) if region in candidate.hopeful else None
        if match is None:
            matcher._max_tries -= 1
            i += 1
            continue
        yield match
        if match.end == candidate.offset + len(candidate.text):
            i += 1
        else:
            scan, i = _scan(line, regions, leniency, match.end), 0


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def _region_of(number: str, region: str) -> str | None:
    """The region Presidio's recognizer names for a number it found in `region`: the one of its
    country code when the number parses without a region (written with a plus sign)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return region


def _context(text: str, candidate: str, offset: int) -> tuple[bool, bool, bool]:
    """What the matcher reads of the text besides a candidate: whether the characters before and
    after it are letters or currency/percent signs, and whether a time stamp's ":mm" follows."""
    end = offset + len(candidate)
    return (offset > 0 and _glued(text[offset - 1]), end < len(text) and _glued(text[end]),
            bool(phonenumbermatcher._TIME_STAMPS_SUFFIX.match(text, end)))


@functools.cache
def _glued(char: str) -> bool:
    """The matcher's test of a neighbouring character (a Latin letter, %, a currency sign)."""
    matcher = phonenumbermatcher.PhoneNumberMatcher
    return matcher._is_invalid_punctuation_symbol(char) or matcher._is_latin_letter(char)


#: what can mark an extension (phonenumberutil._create_extn_pattern) besides letters: "#", "~", ",,", ";ext="
_EXTENSION_MARKS = "#\uff03~\uff5e,;"


class NationalNumbers(NamedTuple):
    valid_at_end: re.Pattern  # every national significant number valid in a region of the country code, anchored at the end
    call_prefix: re.Pattern  # the region's international call prefix
    lengths: tuple[int, ...]  # the lengths such a number can have (its general description's); () when not listed


@functools.cache
def national_numbers(region: str) -> NationalNumbers | None:
    """The national numbers valid in a region sharing `region`'s country code and `region`'s
    international call prefix, or None where a national number
    parsed for `region` need not be a piece of the candidate's digits (a national prefix rule
    that adds digits: "664\\1").

    Why a piece, and one that ends where a group of digits ends: a part the matcher parses
    (the candidate, or a part of it cut at a separator) starts and ends with a group of digits;
    parsed for `region` without a plus sign or call prefix, the country code is `region`'s and
    the national number is what is left once a leading country code, national prefix or carrier
    code is cut off (an extension needs a mark, letters or "#~,;"). `is_valid_number` then needs
    it to match, for a region of that country code, the general description and the description
    of one type of number (phonenumberutil._number_type_helper: fixed line, mobile, toll free ...)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or not meta.international_prefix:
        return None
    code = meta.country_code
    main = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(code))
    if any(m is None or m.national_prefix_transform_rule and not re.fullmatch(r"\\[0-9]", m.national_prefix_transform_rule)
           for m in (meta, main)):
        return None
    metas = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.region_codes_for_country_code(code)]
    valid = [(m, v) for m in metas if (v := valid_national(m))]
    if not valid:
        return None
    # phonenumbers' validity needs a length its general description lists (_is_number_matching_desc)
    listed = [m.general_desc.possible_length for m, _ in valid]
    lengths = tuple(sorted({n for ns in listed for n in ns})) if all(ns and min(ns) > 0 for ns in listed) else ()
    return NationalNumbers(re.compile("|".join(v for _, v in valid)), re.compile(meta.international_prefix), lengths)


#: the descriptions phonenumberutil._number_type_helper tries after the general one
NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail", "fixed_line", "mobile")


def valid_national(meta: PhoneMetadata) -> str | None:
    """A regex for the national numbers valid in a region, anchored at the end: the general
    description's pattern and one type's (None: no number is valid there)."""
    general = meta.general_desc.national_number_pattern if meta.general_desc else None
    types = [desc.national_number_pattern for desc in (getattr(meta, name) for name in NUMBER_TYPES)
             if desc is not None and desc.national_number_pattern]
    if not general or not types:
        return None
    return rf"(?=(?:{general})\Z)(?:{'|'.join(f'(?:{t})' for t in types)})\Z"


#: a character after which the matcher decides: a letter (or another non-decimal numeral), a plus sign, an extension's mark
_UNSURE = re.compile(rf"[^\W\d_]|[{PLUS}{_EXTENSION_MARKS}]")


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def cannot_be_valid(candidate: str, region: str) -> bool:
    """True when the matcher of `region` (leniency VALID) can find no number in `candidate`."""
    numbers = national_numbers(region)
    if numbers is None or _UNSURE.search(candidate):
        return False
    digits, starts, ends = _digit_groups(candidate)
    # plain loops: this runs for most candidates in every region (generators cost twice the time)
    for start in starts:
        if numbers.call_prefix.match(digits, start):
            return False  # an international number: any country's
    if not numbers.lengths:
        return not any(numbers.valid_at_end.search(digits, 0, end) for end in ends)
    for end in ends:
        for n in numbers.lengths:  # ascending
            if n > end:
                break
            if numbers.valid_at_end.match(digits, end - n, end):
                return False
    return True


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def _digit_groups(candidate: str) -> tuple[str, list[int], list[int]]:
    """A candidate's digits, and where each of its groups of digits starts and ends in them."""
    starts, ends = [], []
    for group in re.finditer(r"\d+", candidate):
        starts.append(ends[-1] if ends else 0)
        ends.append(starts[-1] + len(group.group()))
    return _digits(candidate), starts, ends


@functools.cache
def national_prefixes(region: str) -> tuple[re.Pattern, ...] | None:
    """The national prefixes (and carrier codes) phonenumbers.parse strips from a number parsed
    for `region`, by its own metadata and by its country's main region's; None where a rule
    transforms what it strips."""
    meta = PhoneMetadata.metadata_for_region(region)
    main = meta and PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(meta.country_code))
    if main is None or any(m.national_prefix_transform_rule for m in (meta, main)):
        return None
    return tuple(re.compile(m.national_prefix_for_parsing) for m in (meta, main) if m.national_prefix_for_parsing)


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def cannot_parse_valid(candidate: str, region: str) -> bool:
    """True when `candidate`, parsed whole for `region` (as the matcher's _parse_and_verify
    parses it), cannot be a valid number. Written nationally (cannot_be_valid), its national
    number is its digits D after phonenumbers.parse cuts off, at most, the country code from the
    start of D and then a national prefix (its pattern matched at the start) twice
    (_maybe_extract_country_code, then parse): one of a few suffixes of D, which must be a
    national number valid in a region of the country code."""
    if cannot_be_valid(candidate, region):
        return True
    numbers, prefixes = national_numbers(region), national_prefixes(region)
    if numbers is None or prefixes is None or _UNSURE.search(candidate):
        return False
    valid, call_prefix, _ = numbers
    digits = _digit_groups(candidate)[0]  # already read by cannot_be_valid
    if call_prefix.match(digits):
        return False
    code = str(PhoneMetadata.metadata_for_region(region).country_code)
    national = {digits, digits[len(code):]} if digits.startswith(code) else {digits}
    for _ in range(2):
        national |= {n[m.end():] for n in national for m in (p.match(n) for p in prefixes) if m}
    return not any(valid.match(n) for n in national)


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def lacks_national_prefix(candidate: str, region: str) -> bool:
    """True when the matcher of `region` (leniency VALID) rejects `candidate` for a national
    prefix it needs and does not hold, whatever parsing it would show: its check
    (phonenumbermatcher._is_national_prefix_present_if_required) passes a number read with a
    call prefix or country code, and otherwise asks, when the formatting rule of its national
    number (the main region's of its country code) writes a national prefix, whether one starts
    the candidate's digits. Written nationally (cannot_be_valid's conditions) and not starting
    with its country code, the candidate is read from the default country (parse's
    _maybe_extract_country_code) and its national number is its digits D, or D less the
    national prefix `region`'s metadata strips (parse); both must need the prefix."""
    meta, numbers = PhoneMetadata.metadata_for_region(region), national_numbers(region)
    if meta is None or numbers is None or _UNSURE.search(candidate):
        return False
    digits = _digit_groups(candidate)[0]
    if not digits or numbers.call_prefix.match(digits) or digits.startswith(str(meta.country_code)):
        return False
    main = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(meta.country_code))
    if main is None or phonenumberutil._maybe_strip_national_prefix_carrier_code(digits, main)[2]:
        return False  # a national prefix starts it: the check passes
    nationals = {digits, phonenumberutil._maybe_strip_national_prefix_carrier_code(digits, meta)[1]}
    return all(_prefix_required(main, national) for national in nationals)


def _prefix_required(main: PhoneMetadata, national: str) -> bool:
    """Whether the formatting rule of `national` in `main` writes a national prefix that is not
    optional (phonenumbermatcher._is_national_prefix_present_if_required's test)."""
    rule = phonenumberutil._choose_formatting_pattern_for_number(main.number_format, national)
    return bool(rule is not None and rule.national_prefix_formatting_rule and not rule.national_prefix_optional_when_formatting
                and not phonenumberutil._formatting_rule_has_first_group_only(rule.national_prefix_formatting_rule))


def _digits(candidate: str) -> str:
    return re.sub(r"\D", "", candidate) if candidate.isascii() else phonenumbers.normalize_digits_only(candidate)


def _digits_and_plus(candidate: str) -> tuple[int, bool]:
    return sum(map(str.isdecimal, candidate)), any(p in candidate for p in PLUS)


@functools.cache
def fewest_digits(region: str, plus: bool) -> int:
    """Fewest digits of a candidate, with a plus sign or without, in which the matcher of
    `region` can find a valid number. A "+" candidate holds the shortest valid international
    number, or the matcher finds a national one in a part it cuts without the plus ("+1 1640":
    "1640", valid in Germany), so it takes the fewer of the two."""
    return min(shortest_international(), national_minimum(region)) if plus else national_minimum(region)


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def _hopeful_regions(candidate: str, regions: tuple[str, ...], leniency: phonenumbermatcher.Leniency) -> frozenset[str]:
    """The regions of `regions` whose matcher may find a number in `candidate`, whatever the text
    around it: with leniency VALID, those where it has as many digits as a number the matcher can
    find there (fewest_digits, with a plus sign or without; its inner matches have fewer) and a
    piece that is a valid national number (cannot_be_valid); with another leniency, all of them
    (POSSIBLE takes local-only lengths)."""
    if leniency != phonenumbermatcher.Leniency.VALID:
        return frozenset(regions)
    digits, plus = _digits_and_plus(candidate)
    return frozenset(region for region in regions if digits >= fewest_digits(region, plus) and not cannot_be_valid(candidate, region))


def remembered_match(matcher: phonenumbermatcher.PhoneNumberMatcher, candidate: str, offset: int,
                     context: tuple[bool, bool, bool]) -> phonenumbermatcher.PhoneNumberMatch | None:
    """PhoneNumberMatcher._extract_match as shipped, its answer remembered per candidate, the
    `context` the matcher reads around it (_context), region and leniency; a candidate in which
    the matcher of its region can find no number is rejected first (_hopeful_regions)."""
    region = matcher.preferred_region
    return _answer(matcher, candidate, offset, context) if region in _hopeful_regions(candidate, (region,), matcher.leniency) else None


def _answer(matcher: phonenumbermatcher.PhoneNumberMatcher, candidate: str, offset: int,
            context: tuple[bool, bool, bool]) -> phonenumbermatcher.PhoneNumberMatch | None:
    """remembered_match for a candidate known not to be rejected by its first checks."""
    original = phonenumbermatcher.PhoneNumberMatcher._extract_match
    if matcher.leniency > phonenumbermatcher.Leniency.VALID:  # the grouping checks read more of the text
        return original(matcher, candidate, offset)
    key = (candidate, *context, matcher.preferred_region, matcher.leniency)
    if key not in answers:
        match = original(matcher, candidate, offset)
        if match is None and matcher._max_tries <= 0:
            return None  # the matcher gave up on this text (its tries ran out), not on the candidate
        return _remember(key, match, offset)
    return _recall(answers[key], offset)


def forget() -> None:
    """Empty this process's answers about candidates (the matcher's and every shortcut's), so a
    benchmark's runs start equal: what the caches hold depends on the text read before."""
    answers.clear()
    for cached in (_region_of, cannot_be_valid, _digit_groups, cannot_parse_valid, international, _hopeful_regions,
                   lacks_national_prefix):
        cached.cache_clear()


def _remember(key: tuple, match: phonenumbermatcher.PhoneNumberMatch | None, offset: int) -> phonenumbermatcher.PhoneNumberMatch | None:
    """`match` (found at `offset`), remembered under `key` relative to its offset."""
    if len(answers) >= CACHED_CANDIDATES:
        answers.clear()
    answers[key] = None if match is None else (match.start - offset, match.raw_string, _copy(match.number))
    return match


def _recall(answer: tuple | None, offset: int) -> phonenumbermatcher.PhoneNumberMatch | None:
    """A remembered answer as a match at `offset`, its number a copy (callers may change it)."""
    if answer is None:
        return None
    start, raw, number = answer
    return phonenumbermatcher.PhoneNumberMatch(offset + start, raw, _copy(number))


def _copy(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    copy = phonenumbers.PhoneNumber()
    copy.merge_from(number)
    return copy


#: a letter or an extension's mark: what makes phonenumbers.parse read more than digits and plus signs
_NOT_PLAIN = re.compile(rf"[^\W\d_]|[{_EXTENSION_MARKS}]")


@functools.lru_cache(maxsize=CACHED_CANDIDATES)
def international(candidate: str) -> bool:
    """Whether phonenumbers.parse reads `candidate` without its region: written with a plus sign
    (the first character a number can start with), then a known country code and enough digits
    (fewer raise TOO_SHORT_AFTER_IDD in every region), no letters nor extension marks. Only an
    unknown country code after the plus makes parse retry without it, for the region given."""
    first = phonenumberutil._VALID_START_CHAR_PATTERN.search(candidate)
    if first is None or first.group() not in PLUS or _NOT_PLAIN.search(candidate):
        return False
    digits = _digits(candidate)
    return len(digits) <= phonenumberutil._MIN_LENGTH_FOR_NSN or phonenumberutil._extract_country_code(digits)[0] != 0


class RememberingMatcher(phonenumbermatcher.PhoneNumberMatcher):
    """phonenumbers' matcher whose candidate checks remember their answers (remembered_match)
    and skip unparsed a national candidate, or a part the matcher cuts from one, with no valid
    piece (same answers; see the module docstring). A subclass, so that PhoneNumberMatcher
    itself, and Presidio's recognizer with it, stays as shipped in the same process."""

    def _extract_match(self, candidate, offset):
        return remembered_match(self, candidate, offset, _context(self.text, candidate, offset))

    def _parse_and_verify(self, candidate, offset):
        if self.leniency != phonenumbermatcher.Leniency.VALID:
            return super()._parse_and_verify(candidate, offset)
        if cannot_parse_valid(candidate, self.preferred_region) or lacks_national_prefix(candidate, self.preferred_region):
            return None
        if not international(candidate):
            return super()._parse_and_verify(candidate, offset)
        # the same for every region: remembered without one (the two neighbours are all of the
        # text it reads besides the candidate)
        key = (candidate, *_context(self.text, candidate, offset)[:2], "any region", self.leniency)
        if key not in answers:
            return _remember(key, super()._parse_and_verify(candidate, offset), offset)
        return _recall(answers[key], offset)
