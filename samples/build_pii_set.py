"""Build samples/_pii_eval.jsonl: labelled PII spans on real text from samples/, for benchmarks/pii_quality.py.

    python samples/build_pii_set.py

Four kinds of record (column `kind`), every span [start, end, label] on the record's text:
- `real`: lines of Debian copyright files (samples/, "debian copyright file") naming a person
  and their address, "2008 Jane Doe <jane@example.org>": the name is PERSON and the address is
  EMAIL_ADDRESS. Names are cut by the line's own structure (after the years or "Contact:", before
  "<"), not by any detector; lines whose holder is no person (companies, projects, teams) are
  dropped by the word list ORGANISATION and by hand (HAND_REJECTED, found reading every record).
- `inserted`: real English sentences (Debian Reference, English fortunes) with one to three
  generated entities inserted at a word boundary, in the formats people write them: phone
  numbers of 18 countries (valid in their numbering plan) international, 00-prefixed or
  national after a "Tel." word; e-mail addresses; public IPv4/IPv6; Luhn-valid cards of five
  networks, grouped or not; IBANs of ten countries with correct check digits; SSNs; names
  from the lists below; URL credentials and API keys.
- `trap`: the same sentences with look-alikes that are *not* PII and must stay: version strings
  ("v1.2.3.4"), private and loopback IPs, dates, times, ISBNs, prices, order numbers, card-length
  digit runs failing Luhn, host-local addresses ("root@localhost").
- `clean`: real sentences as they are. Those holding real PII (a maintainer's address in the
  Debian Reference) get their spans from the same hand review.

Deterministic (seeded): the same samples/ give the same file.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from pathlib import Path

import phonenumbers
import pyarrow.parquet as pq

HERE = Path(__file__).parent
OUT = HERE / "_pii_eval.jsonl"  # "_": not an input file of pipelines reading samples/
SEED = 20261123

FIRST = ["James", "Maria", "Wei", "Fatima", "Olga", "Hiroshi", "Priya", "Carlos", "Anna", "Mohammed", "Emily",
         "Lars", "Chloe", "Kwame", "Sofia", "Dmitri", "Aisha", "Lucas", "Ingrid", "Rahul", "Grace", "Mateo",
         "Yuki", "Hannah", "Omar", "Elena", "Thomas", "Mei", "Jonas", "Amara", "Patrick", "Leila", "Robert",
         "Sarah", "Juan", "Katarzyna", "David", "Nadia", "Michael", "Laura"]
LAST = ["Smith", "Garcia", "Zhang", "Khan", "Petrova", "Tanaka", "Sharma", "Rodriguez", "Kowalski", "Haddad",
        "Johnson", "Andersen", "Dubois", "Mensah", "Rossi", "Ivanov", "Bello", "Silva", "Larsen", "Gupta",
        "Murphy", "Fernandez", "Sato", "Becker", "Nasser", "Popescu", "Miller", "Chen", "Schmidt", "Okafor",
        "O'Brien", "Moreau", "Taylor", "Cohen", "Lopez", "Nowak", "Wilson", "Karimi", "Brown", "Fischer"]
DOMAINS = ["gmail.com", "yahoo.fr", "outlook.com", "mail.ru", "uni-heidelberg.de", "example.org", "company.io",
           "web.de", "btinternet.co.uk", "protonmail.ch", "cs.stanford.edu", "qq.com"]
PHONE_REGIONS = ["US", "GB", "DE", "FR", "IT", "ES", "NL", "IN", "AU", "BR", "JP", "CA", "CH", "SE", "PL", "MX",
                 "ZA", "SG"]
IBAN_LAYOUT = {"DE": "18n", "GB": "4a14n", "FR": "23n", "NL": "4a10n", "ES": "20n", "IT": "1a22n", "CH": "17n",
               "BE": "12n", "AT": "16n", "PL": "24n"}
#: holder words that make a copyright line an organisation's, not a person's
ORGANISATION = re.compile(r"\b(Inc|Ltd|LLC|GmbH|Corp|Corporation|Foundation|Project|Team|Software|Group|Authors|"
                          r"Contributors|Developers|Maintainers|University|Institute|Systems|Technologies|Limited|"
                          r"Association|Consortium|Community|Labs?|Network|Debian|Ubuntu|Red Hat|Free)\b", re.I)
#: holder texts found, reading every `real` record, not to be one person's name (aliases, lists)
HAND_REJECTED = {"aka", "et al", " and ", ","}

TRAPS = ["v1.2.3.4", "version 2.4.1.10", "192.168.1.20", "10.0.0.1", "127.0.0.1", "172.16.4.1", "fe80::1", "::1",
         "2023-11-05", "12/05/2023", "05.11.2023", "12:30:45", "ISBN 978-3-16-148410-0", "$1,299.00", "1.299,00 EUR",
         "order #4829104", "open 08.30 - 12.00", "ISBN 0-674-00613-5", "1234 5678 9012 3456", "4111 1111 1111 1112", "root@localhost", "user@host.lan",
         "kernel 5.10.0.21", "chmod 0755", "port 8080", "1999-2005", "0x7fff5fbff8c8", "+/- 0.05",
         "lines 120-180", "ticket 2024-0117-3321", "tel. extension 42"]


def main() -> None:
    rng = random.Random(SEED)
    sentences = english_sentences()
    records = real_records(rng)
    for _ in range(700):
        records.append(inserted(rng.choice(sentences), [entity(rng) for _ in range(rng.choice([1, 1, 2, 3]))], rng, "inserted"))
    for _ in range(200):
        records.append(inserted(rng.choice(sentences), [("", rng.choice(TRAPS), "", None)], rng, "trap"))
    for s in rng.sample(sentences, 300):
        records.append({"text": s, "spans": [], "kind": "clean"})
    with OUT.open("w", encoding="utf-8") as f:
        for i, rec in enumerate(map(hand_persons, records)):
            f.write(json.dumps({"id": f"pii-{i:04d}", **rec}, ensure_ascii=False) + "\n")
    kinds = {k: sum(r["kind"] == k for r in records) for k in ("real", "inserted", "trap", "clean")}
    print(f"{len(records)} records {kinds}, {sum(len(r['spans']) for r in records)} spans -> {OUT}")


def _samples() -> list[dict]:
    return pq.read_table(sorted(HERE.glob("shard-*.parquet")), columns=["text", "source", "lang_hint"]).to_pylist()


def english_sentences() -> list[str]:
    """Sentences of 40-220 characters from the English Debian Reference and English fortunes,
    with no '@' or digits groups that could be PII of their own (those go to `real`)."""
    out = []
    for row in _samples():
        if row["lang_hint"] != "en" or not row["source"].startswith(("debian-reference", "fortune")):
            continue
        for line in row["text"].split("\n"):
            for s in re.split(r"(?<=[.!?])\s+", line.strip()):
                if 40 <= len(s) <= 220 and "@" not in s and not re.search(r"\d{3}", s) and s[0].isupper():
                    out.append(s)
    return sorted(set(out))


_HOLDER = re.compile(r"^\s*(?:Copyright:?\s*|Upstream-Contact:\s*|\(C\)\s*|©\s*)*(?:[\d ,-]+,?\s+)?(?=[A-Z])")
_PAIR = re.compile(r"(?P<name>[A-Z][\w'.-]*(?: [A-Z][\w'.-]*| van| de| von| da){1,3})\s+<(?P<email>[^<>\s]+@[^<>\s]+)>")
#: people named in the sentences of Debian Reference and fortunes, found reading what either
#: detector flagged there (authors of TeX and LaTeX, maintainers, a fortune's "Miss Collins")
HAND_PERSONS = ["Leslie Lamport", "Donald Knuth", "Donald E", "Collins"]


def real_records(rng: random.Random) -> list[dict]:
    """Copyright lines naming people and their addresses (at most 250, sampled): every
    "Name <address>" pair of a line that starts with one (after the years)."""
    lines = set()
    for row in _samples():
        if row["source"] == "debian copyright file":
            lines.update(line.strip() for line in row["text"].split("\n") if "<" in line and "@" in line)
    records = []
    for line in sorted(lines):
        head = _HOLDER.match(line)
        pairs = list(_PAIR.finditer(line))
        if head is None or not pairs or pairs[0].start() != head.end():
            continue
        if any(ORGANISATION.search(m.group("name")) or any(w in m.group("name") for w in HAND_REJECTED) for m in pairs):
            continue
        spans = [[m.start(g), m.end(g), label] for m in pairs for g, label in (("name", "PERSON"), ("email", "EMAIL_ADDRESS"))]
        records.append({"text": line, "kind": "real", "spans": spans})
    return rng.sample(records, min(250, len(records)))


def hand_persons(record: dict) -> dict:
    """Add the PERSON spans of HAND_PERSONS found in a sentence (where no span is yet)."""
    for name in HAND_PERSONS:
        for m in re.finditer(rf"\b{re.escape(name)}\b", record["text"]):
            if not any(s < m.end() and m.start() < e for s, e, _ in record["spans"]):
                record["spans"].append([m.start(), m.end(), "PERSON"])
    return record


def inserted(sentence: str, entities: list[tuple[str, str, str, str | None]], rng: random.Random, kind: str) -> dict:
    """The sentence with each (lead, value, tail, label) put at its own word boundary; the value
    is the span (none for a trap, whose label is None)."""
    words = sentence.split(" ")
    slots = sorted(rng.sample(range(len(words) + 1), len(entities)))
    text, spans, last = "", [], 0

    def add(piece: str) -> None:
        nonlocal text
        text = f"{text} {piece}" if text else piece

    for slot, (lead, value, tail, label) in zip(slots, entities):
        if slot > last:
            add(" ".join(words[last:slot]))
        add(lead + value + tail)
        if label is not None:
            start = len(text) - len(tail) - len(value)
            spans.append([start, start + len(value), label])
        last = slot
    if last < len(words):
        add(" ".join(words[last:]))
    return {"text": text, "spans": spans, "kind": kind}


def entity(rng: random.Random) -> tuple[str, str, str, str]:
    """A generated entity with the words that usually announce it."""
    label = rng.choice(["PHONE_NUMBER", "PHONE_NUMBER", "EMAIL_ADDRESS", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE",
                        "US_SSN", "PERSON", "PERSON", "CREDENTIAL"])
    lead, value = {
        "PHONE_NUMBER": phone, "EMAIL_ADDRESS": email, "IP_ADDRESS": ip, "CREDIT_CARD": card,
        "IBAN_CODE": iban, "US_SSN": ssn, "PERSON": person, "CREDENTIAL": credential,
    }[label](rng)
    tail = ")" if lead == "(" else ("@" + rng.choice(DOMAINS) + "/repo.git" if lead == "https://" else "")
    return lead, value, tail, label


def person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice([f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                       f"{rng.choice(FIRST)} {rng.choice('ABCDEHJKLMPRSTW')}. {rng.choice(LAST)}", rng.choice(FIRST)])
    return rng.choice(["as ", "said ", "wrote ", "according to ", "thanks to ", "ask ", ""]), name


def email(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower().replace("'", "")
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}", first])
    return rng.choice(["mail ", "contact: ", "write to ", "(", ""]), f"{local}@{rng.choice(DOMAINS)}"


def phone(rng: random.Random) -> tuple[str, str]:
    region = rng.choice(PHONE_REGIONS)
    kind = rng.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
    example = phonenumbers.example_number_for_type(region, kind)
    national = phonenumbers.national_significant_number(example)  # keeps Italy's leading 0
    while True:  # random subscriber digits, kept only when the numbering plan says valid
        digits = national[: len(national) // 2] + "".join(str(rng.randint(0, 9)) for _ in range(len(national) - len(national) // 2))
        number = phonenumbers.parse("+" + str(example.country_code) + digits)
        if phonenumbers.is_valid_number(number):
            break
    style = rng.choice(["international", "international", "e164", "00", "national"])
    if style == "national":
        return rng.choice(["Tel. ", "phone: ", "call ", "Mobile "]), phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164 if style == "e164" else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == "00":
        text = "00" + text[1:]
    if rng.random() < 0.2:
        text = text.replace(" ", rng.choice(["-", "."]))
    return rng.choice(["Tel. ", "phone ", "call ", "", "(", "at "]), text


def ip(rng: random.Random) -> tuple[str, str]:
    while True:
        if rng.random() < 0.7:
            address = ipaddress.IPv4Address(rng.getrandbits(32))
        else:
            address = ipaddress.IPv6Address((0x2A00 << 112) | rng.getrandbits(100))
        if address.is_global:
            return rng.choice(["from ", "server ", "IP ", "host ", ""]), str(address)


def card(rng: random.Random) -> tuple[str, str]:
    prefix, length, groups = rng.choice([("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)), ("2221", 16, (4, 4, 4, 4)),
                                         ("34", 15, (4, 6, 5)), ("6011", 16, (4, 4, 4, 4)), ("3530", 16, (4, 4, 4, 4))])
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    digits = body + _luhn_digit(body)
    sep = rng.choice([" ", " ", "-", ""])
    parts, at = [], 0
    for g in groups:
        parts.append(digits[at:at + g])
        at += g
    return rng.choice(["card ", "Visa ", "paid with ", "CC: ", ""]), sep.join(parts)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def iban(rng: random.Random) -> tuple[str, str]:
    country = rng.choice(sorted(IBAN_LAYOUT))
    bban = ""
    for count, kind in re.findall(r"(\d+)([an])", IBAN_LAYOUT[country]):
        pool = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if kind == "a" else "0123456789"
        bban += "".join(rng.choice(pool) for _ in range(int(count)))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    compact = f"{country}{check:02d}{bban}"
    text = compact if rng.random() < 0.4 else " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return rng.choice(["IBAN ", "IBAN: ", "account ", ""]), text


def ssn(rng: random.Random) -> tuple[str, str]:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return rng.choice(["SSN ", "SSN: ", "social security number ", ""]), f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def credential(rng: random.Random) -> tuple[str, str]:
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    token = "".join(rng.choice(alnum) for _ in range(36))
    return rng.choice([
        ("key ", "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))),
        ("token ", "ghp_" + token),
        ("api_key=", token[:24]),
        ("https://", f"{rng.choice(FIRST).lower()}:{token[:12]}"),
    ])


if __name__ == "__main__":
    main()
