"""Pattern recognizers: a cheap screen over the whole batch, then a regex and a validator.

Each recognizer has a `screen` (an RE2 pattern Arrow runs over every document of the batch at
once: a document that fails it cannot hold the entity), a `pattern` (Python `re`, run only on
screened documents, giving candidate offsets) and a validator that checks each candidate (Luhn,
IBAN mod-97, phone numbering plans, public IP ranges, public e-mail suffixes). Validators are
what keep precision: most digit runs in web text are dates, versions, prices and ids.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from presidio_analyzer import LocalRecognizer, RecognizerResult

from dataprep.pii import phones, screens, windows
from dataprep.pii.spans import Span


@dataclass(frozen=True)
class Recognizer:
    label: str
    #: RE2 syntax, run by Arrow over the batch: matches wherever `check` can report something (RE2's
    #: `\d` is ASCII only; Python's is every decimal digit, RE2's `\p{Nd}`)
    screen: str
    pattern: re.Pattern
    #: candidate match -> the (start, end, score) it holds (none when the validator rejects it)
    check: Callable[[re.Match, str], list[tuple[int, int, float]]]
    windowed: bool = True  # search only the words that can hold a match where windows.py allows it
    #: found, at a fraction of the pattern's cost, inside every match `check` reports something
    #: for; neither it nor the pattern matches a line break, and the pattern's lookaheads take
    #: the end of a text as they take a line break (_PHONE's: neither is a word character nor
    #: [.:/-]), so the pattern reads only the lines holding a match of it (the screen is its RE2
    #: translation)
    prefilter: re.Pattern | None = None

    @classmethod
    def prefiltered(cls, label: str, prefilter: re.Pattern, pattern: re.Pattern, check: Callable) -> Recognizer:
        """A recognizer that reads only the lines holding a match of `prefilter`, screened by its RE2 translation."""
        return cls(label, screens.superset(prefilter.pattern), pattern, check, prefilter=prefilter)

    def find(self, text: str) -> Iterator[Span]:
        for match in self._matches(text):
            for start, end, score in self.check(match, text):
                yield Span(start, end, self.label, score)

    def _matches(self, text: str) -> Iterator[re.Match]:
        """The pattern's matches, searched only in the lines holding a match of the prefilter, or
        in the words that can hold one where dataprep/pii/windows.py says so: the same matches
        where `check` reports something (validators still see the whole text)."""
        if self.prefilter is not None:
            # no match crosses a line break, so a scan of the whole text reaches each line fresh;
            # lookbehinds still see the text before the line, lookaheads its end as the break
            for start, end in windows.lines_holding(text, self.prefilter):
                yield from self.pattern.finditer(text, start, end)
            return
        how = windows.plan_patterns(((self.pattern.pattern, self.pattern.flags),)) if self.windowed else None
        words = None if how is None else windows.windows_of(text, how)
        if words is None:
            yield from self.pattern.finditer(text)
            return
        for start, end in words:
            # from `start`, lookbehinds still see the text before it; up to `end` + reach, lookaheads see what follows
            yield from (m for m in self.pattern.finditer(text, start, min(len(text), end + how.reach)) if m.end() <= end)


def _before(text: str, start: int, width: int = 40) -> str:
    return text[max(0, start - width):start].lower()


# ---- e-mail -----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)


_USERINFO = re.compile(r"://[^\s/@]*:$")


@functools.cache
def _suffixes():
    """tldextract on its bundled public-suffix snapshot: no download, no cache on disk."""
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def _check_email(match: re.Match, text: str) -> list[tuple[int, int, float]]:
    if _USERINFO.search(text, max(0, match.start() - 80), match.start()):
        return []  # "https://bob:secret@host": the password, not an address (CREDENTIAL's)
    # "root@localhost", "user@host.lan": no public suffix, nobody's address
    return [(match.start(), match.end(), 1.0)] if _public(match.group().rsplit("@", 1)[1]) else []


def forget() -> None:
    """Empty this process's answers about e-mail domains and phone candidates (a benchmark's
    runs start equal: what the caches hold depends on the text read before)."""
    _public.cache_clear()
    phones.forget()


@functools.lru_cache(maxsize=100_000)
def _public(domain: str) -> bool:
    """Whether a domain has a public suffix and a name under it (asked once per domain: the
    same few domains make most addresses of a corpus)."""
    parts = _suffixes()(domain)
    return bool(parts.suffix and parts.domain)


# ---- phone numbers ----------------------------------------------------------------------------

# Groups of digits (an area code may sit in parentheses) joined by one separator each, optionally
# led by + or 00; not glued to words, versions, paths or other numbers.
_PHONE = re.compile(
    r"(?<![\w+@./:\\-])(?:\+|\b00)?\(?\d{1,15}\)?(?:(?:[ \t\u00a0]?[.\-/][ \t\u00a0]?|[ \t\u00a0])\(?\d{1,15}\)?){0,7}(?![\w@]|[.:/-]\d)"
)
#: seven digits or more joined as _PHONE joins groups: every number the phone check reports (its
#: pattern starts with a lookbehind, so `re` tries it at every position: 8-13x this search)
_PHONE_RUN = re.compile(r"\d[\d \t\u00a0().\-/]{5,}\d")
_PHONE_GROUP = re.compile(r"(?:\+|\b00)?\(?\d+\)?")
#: a calendar date inside a candidate (ISO, day-month-year, month-day-year, year ranges)
_DATE_LIKE = re.compile(r"(?<!\d)(?:\d{4}([-/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])"
                        r"|(?:0?[1-9]|[12]\d|3[01])([-/.])(?:0?[1-9]|[12]\d|3[01])\2(?:\d{4}|\d{2})"
                        r"|(?:19|20)\d\d\s*[-/]\s*(?:19|20)\d\d"  # year ranges
                        r"|(?:[01]?\d|2[0-3])[.:][0-5]\d\s*[-–]\s*(?:[01]?\d|2[0-3])[.:][0-5]\d)(?!\d)")  # opening hours
#: digit groups of North American numbers as written: 2125550187, 212 555 0187, 1 212 555 0187
_NANP_LAYOUTS = {(10,), (3, 3, 4), (1, 3, 3, 4), (11,), (3, 7)}
_PHONE_CONTEXT = ("tel", "phone", "call", "fax", "mobile", "cell", "contact", "ring", "whatsapp", "dial")
NANP = ("US", "CA")
#: a word that announces a phone number right before it ("Tel. ", "phone: ", "call ")
_ANNOUNCED = re.compile(r"(?i:\b(?:tel|phone|fax|mobile|cell|call|ph|mob|handy|tél|telefon|telephone)\b)\.?:?\s*\(?$")


def _phone_checker(regions: tuple[str, ...]):
    def check(match: re.Match, text: str) -> list[tuple[int, int, float]]:
        start, end = _balanced(match.group(), match.start(), match.end())
        raw = text[start:end]
        if sum(c.isdigit() for c in raw) < _FEWEST_DIGITS:  # (_PHONE_RUN finds the others)
            return []  # neither it nor a run of its groups is _plausible (most candidates: years, times, prices)
        if "isbn" in _before(text, start, 12):
            return []  # "ISBN 0-674-00613-5" dials nowhere
        before = _before(text, start)
        context = any(word in before for word in _PHONE_CONTEXT)
        score = _phone_score(raw, regions, context)
        if score is None and _ANNOUNCED.search(text, max(0, start - 12), start):
            score = _any_region_score(raw)
        if score is not None:
            return [(start, end, score)]
        return [(start + s, start + e, score) for s, e, score in _split_runs(raw, regions, context)]

    return check


def _split_runs(raw: str, regions: tuple[str, ...], context: bool) -> list[tuple[int, int, float]]:
    """Numbers run together ("+44 20 7946 0958 / (212) 555-0187", "0958 8.8.8.8"): from each
    group where a number can start, the longest run of digit groups that is a valid number."""
    groups = [g.span() for g in _PHONE_GROUP.finditer(raw)]
    found: list[tuple[int, int, float]] = []
    i = 0
    while len(groups) > 1 and i < len(groups):
        run = _longest_from(raw, groups, i, regions, context) if _can_start(raw, groups, i, found) else None
        if run is None:
            i += 1
            continue
        found.append((groups[i][0], groups[run[0] - 1][1], run[1]))
        i = run[0]
    return found


def _longest_from(raw: str, groups: list[tuple[int, int]], i: int, regions: tuple[str, ...], context: bool):
    """(end group, score) of the longest valid number starting at group i, or None."""
    for j in range(len(groups), i, -1):
        score = _phone_score(raw[groups[i][0]:groups[j - 1][1]], regions, context)
        if score is not None:
            return j, score
    return None


def _can_start(raw: str, groups: list[tuple[int, int]], i: int, found: list) -> bool:
    """A number starts at the first group, right after a number found, at a group led by + or
    "(", or after a spaced symbol (" / ", " - "); never inside a run of digits such as an IBAN's."""
    if i == 0 or raw[groups[i][0]] in "+(" or (found and found[-1][1] == groups[i - 1][1]):
        return True
    gap = raw[groups[i - 1][1]:groups[i][0]]
    return bool(gap.strip()) and len(gap) >= 2


def _balanced(raw: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without an unmatched parenthesis at either end ("(call 555-0187)")."""
    if raw.startswith("(") and ")" not in raw:
        start += 1
    if raw.endswith(")") and "(" not in raw:
        end -= 1
    return start, end


def _any_region_score(raw: str) -> float | None:
    """A number announced as one ("Tel. 6123 0624") may be national in any country: valid in
    the numbering plan of any region phonenumbers knows."""
    if not _plausible(raw):
        return None
    for region in phonenumbers.SUPPORTED_REGIONS:
        if _valid_in(raw, region):
            return 0.8
    return None


#: digits of the shortest phone number the recognizer reports
_FEWEST_DIGITS = 7


def _plausible(raw: str) -> bool:
    """7 to 15 digits (ITU E.164 allows 15) and no date or time range inside."""
    return _FEWEST_DIGITS <= sum(c.isdigit() for c in raw) <= 15 and not _DATE_LIKE.search(raw)


def _phone_score(raw: str, regions: tuple[str, ...], context: bool) -> float | None:
    if not _plausible(raw):
        return None
    if raw.startswith(("+", "00")):
        number = _parse(raw if raw.startswith("+") else "+" + raw[2:], None)
        return 1.0 if number is not None and phonenumbers.is_valid_number(number) else None
    # national formats: NANP numbers need no trunk prefix; elsewhere a national number
    # starts with 0 (a bare "2023 11 05" is a date, not a German subscriber number)
    layout = tuple(len(g) for g in re.findall(r"\d+", raw))
    for region in regions:
        if region in NANP and layout not in _NANP_LAYOUTS:
            continue  # "2023-11-05 (12" has ten digits and a Washington area code, but no phone's layout
        if region not in NANP and not raw.lstrip("(").startswith("0"):
            continue
        if _valid_in(raw, region):
            return 0.9 if context else 0.7
    return None


def _valid_in(raw: str, region: str) -> bool:
    """Whether `raw`, parsed for `region`, is a valid number: not parsed where its digits hold no
    national number valid there (phones.cannot_parse_valid: most candidates, in most regions)."""
    if phones.cannot_parse_valid(raw, region):
        return False
    number = _parse(raw, region)
    return number is not None and phonenumbers.is_valid_number(number)


def _parse(raw: str, region: str | None):
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


# ---- IP addresses -----------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.:/-])(?:\d{1,3}\.){3}\d{1,3}(?![\w-]|\.\d)")
_IPV4_RUN = re.compile(r"\d\.\d+\.\d+\.\d")  # inside every _IPV4 match
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|:)(?:[0-9A-Fa-f]{0,4}:){1,7}(?:[0-9A-Fa-f]{1,4}|(?<=:):|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])")
#: every _IPV6 match starts with "h:" or ":" and then "h{0,4}:", so holds this ("::8.8.8.8" has no digit before)
_IPV6_RUN = re.compile(r":[0-9A-Fa-f]{0,4}:")
_VERSION_WORDS = ("version", "release", "ver.", "build", "firmware", "kernel")
_NAME_BEFORE = re.compile(r"\b([A-Z][\w+-]*) $")
#: capitalised words that introduce an address, not a product ("Server 8.0.0.1")
_IP_WORDS = {"ip", "ips", "ipv4", "address", "addr", "adresse", "ip-adresse", "server", "host", "from", "by", "via", "client",
             "dns", "gateway", "proxy", "peer", "remote", "src", "dst", "source", "destination", "origin", "router", "nameserver"}


def _ip_checker(public_only: bool):
    def check(match: re.Match, text: str) -> list[tuple[int, int, float]]:
        try:
            address = ipaddress.ip_address(match.group())
        except ValueError:
            return []
        if public_only and not address.is_global:
            return []
        if address.version == 4 and any(word in _before(text, match.start(), 16) for word in _VERSION_WORDS):
            return []  # "version 1.2.3.4" is a release number
        if address.version == 4 and "0" in match.group().split(".")[1:3]:
            product = _NAME_BEFORE.search(text, max(0, match.start() - 40), match.start())
            if product and product.group(1).lower() not in _IP_WORDS:
                return []  # "Firefox 2.0.0.16", "Stinger 12.2.0.79": a product's release
        return [(match.start(), match.end(), 0.95)]

    return check


# ---- payment and identity numbers -------------------------------------------------------------

_CARD = re.compile(r"(?<![\w.,-])\d(?:[ -]?\d){11,18}(?![\w]|[.,-]\d)")
#: how every _CARD match starts (its lookbehind makes `re` try _CARD at every position)
_CARD_RUN = re.compile(r"\d(?:[ -]?\d){11}")
#: issuer prefixes (IIN) of the card networks: Visa, Mastercard, Amex, Diners, Discover, JCB, UnionPay, Maestro
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|3(?:0[0-5]|[68])|6(?:011|4[4-9]|5|2)|35(?:2[89]|[3-8])|5[06-8]|6\d")
#: Maestro's IIN range (50, 56-69), whose cards may have 12 digits (the other networks: 13 to 19)
_MAESTRO = re.compile(r"50|5[6-9]|6\d")
#: JCB's legacy 15-digit numbers
_JCB15 = re.compile(r"(?:2131|1800)\d{11}")
#: the country, check digits and first groups of an IBAN right before a match: its tail is no card
_IBAN_HEAD = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){0,4} ?$")


def luhn_ok(digits: str) -> bool:
    """Luhn checksum (ISO/IEC 7812) of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


#: how card numbers are printed in groups: 4-4-4-4 (most), 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4-4-3 (19 digits),
#: 4-4-4 (12-digit Maestro: _check_card lets 12 digits through for Maestro's prefixes only)
_CARD_LAYOUTS = {(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4), (4, 4, 4, 1), (4, 4, 4, 3)}


def _check_card(match: re.Match, text: str) -> list[tuple[int, int, float]]:
    raw = match.group()
    digits = raw.replace(" ", "").replace("-", "")
    separators = {c for c in raw if not c.isdigit()}
    if len(separators) > 1 or not 12 <= len(digits) <= 19 or len(digits) < 13 and not _MAESTRO.match(digits):
        return []
    if separators and tuple(len(g) for g in re.split(r"[ -]", raw)) not in _CARD_LAYOUTS:
        return []  # "3704 0044 0532 0130 01" is the tail of an IBAN, not a card
    if not (_CARD_PREFIX.match(digits) or _JCB15.fullmatch(digits)) or not luhn_ok(digits) or len(set(digits)) < 2:
        return []
    if _IBAN_HEAD.search(text, max(0, match.start() - 30), match.start()):
        return []  # "IT70 R329 4571 4374 4776 9675 878": digits of an IBAN (Presidio's recognizer still reports them)
    return [(match.start(), match.end(), 1.0)]


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


def iban_ok(iban: str) -> bool:
    """ISO 13616 check: country letters and check digits moved to the end, mod 97 == 1."""
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _check_iban(match: re.Match, text: str) -> list[tuple[int, int, float]]:
    raw = match.group()
    # the pattern may have eaten a trailing group of the next word: back off one group at a time
    while len(raw) >= 15:
        if iban_ok(raw.replace(" ", "")):
            return [(match.start(), match.start() + len(raw), 1.0)]
        raw = raw[: max(raw.rfind(" "), len(raw) - 4)].rstrip()
    return []


_SSN = re.compile(r"(?<![\w-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w-])")
#: every _SSN match, without its lookarounds
_SSN_RUN = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")


def _check_ssn(match: re.Match, text: str) -> list[tuple[int, int, float]]:
    area, sep, group, serial = match.groups()
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return []
    if len(set(area + group + serial)) == 1 or area + group + serial == "123456789":
        return []
    before = _before(text, match.start())
    context = any(word in before for word in ("ssn", "social security", "ss#", "ss #"))
    if not sep and not context:
        return []  # nine bare digits are any id; only "SSN 078051121" says what they are
    return [(match.start(), match.end(), 1.0 if context else (0.85 if sep == "-" else 0.6))]


# ---- credentials ------------------------------------------------------------------------------

_CREDENTIAL = re.compile(
    r"(?P<url>(?<=://)[^\s:/@]{1,64}:[^\s/@]{1,128}(?=@[\w.-]))"
    r"|(?P<key>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{36,255}\b|\bgithub_pat_\w{22,255}"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\b[spr]k_(?:live|test)_[0-9A-Za-z]{16,}"
    r"|\bsk-[A-Za-z0-9_-]{20,}"
    r"|\beyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)"
    r"|(?i:\b(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|secret[_-]?key|client[_-]?secret|password|passwd)\b)"
    r"[\"']?\s*[:=]\s*[\"']?(?P<value>[^\s\"',;<>]{8,128})"
)


#: a superset of where _CREDENTIAL matches, branch by branch: a URL's "user:password@", a key's
#: prefix, and for a `password=` value the last part of its key word and what follows it up to
#: ":" or "=" (derived by screens.superset, so cased as Python's IGNORECASE and with its `\s`)
_CREDENTIAL_SCREEN = (r"://[^\s/@]+:[^\s/@]+@|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abposr]-|AIza|k_live_|k_test_|sk-|eyJ|PRIVATE KEY|(?:"
                      + screens.superset(r"(?i:key|token|secret|passw(?:or)?d)[\"']?\s*[:=]") + ")")


def _check_credential(match: re.Match, text: str) -> list[tuple[int, int, float]]:
    if match.group("value") is not None:
        value = match.group("value")
        # a secret mixes letters and digits; "password: required" is prose
        if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
            return []
        return [(match.start("value"), match.end("value"), 0.8)]
    group = "url" if match.group("url") is not None else "key"
    return [(match.start(group), match.end(group), 0.95)]


#: our recognizers per entity: what they add to Presidio's (docs/pii.md, "What it finds")
def build(entities: list[str], phone_regions: list[str], public_ips_only: bool, screened: bool = True) -> list[Recognizer]:
    """Our recognizers for the enabled entities (PERSON is NER's, not a pattern's); unscreened,
    each pattern reads every document whole (no windows, no prefilter)."""
    known = {
        "EMAIL_ADDRESS": [Recognizer("EMAIL_ADDRESS", "@", _EMAIL, _check_email)],
        "PHONE_NUMBER": [Recognizer.prefiltered("PHONE_NUMBER", _PHONE_RUN, _PHONE, _phone_checker(tuple(phone_regions)))],
        "IP_ADDRESS": [Recognizer.prefiltered("IP_ADDRESS", _IPV4_RUN, _IPV4, _ip_checker(public_ips_only)),
                       Recognizer.prefiltered("IP_ADDRESS", _IPV6_RUN, _IPV6, _ip_checker(public_ips_only))],
        "CREDIT_CARD": [Recognizer.prefiltered("CREDIT_CARD", _CARD_RUN, _CARD, _check_card)],
        "IBAN_CODE": [Recognizer("IBAN_CODE", r"[A-Z]{2}\p{Nd}{2} ?[A-Z0-9]{4}", _IBAN, _check_iban)],
        "US_SSN": [Recognizer.prefiltered("US_SSN", _SSN_RUN, _SSN, _check_ssn)],
        "CREDENTIAL": [Recognizer("CREDENTIAL", _CREDENTIAL_SCREEN, _CREDENTIAL, _check_credential)],
    }
    return [r if screened else dataclasses.replace(r, windowed=False, prefilter=None) for name in entities if name in known for r in known[name]]


class PresidioWrapper(LocalRecognizer):
    """One of our recognizers as a Presidio recognizer (name `Dataprep<Entity>Recognizer`), so
    the AnalyzerEngine runs it next to Presidio's and merges their results."""

    def __init__(self, recognizer: Recognizer, index: int = 0):
        self.recognizer = recognizer
        self.screen = recognizer.screen
        title = recognizer.label.title().replace("_", "")
        super().__init__(supported_entities=[recognizer.label], name=f"Dataprep{title}Recognizer{index or ''}",
                         supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        meta = {RecognizerResult.RECOGNIZER_NAME_KEY: self.name, RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}
        return [RecognizerResult(s.label, s.start, s.end, s.score, recognition_metadata=dict(meta))
                for s in self.recognizer.find(text)]


PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "CREDENTIAL")
