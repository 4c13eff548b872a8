"""Labelled PII sets generated at run time, the way presidio-evaluator builds them: templated
customer-service sentences filled with Faker's synthetic identities from many locales, every
inserted value's span known.

Two parts with disjoint templates and seeds: `tuning` (looked at while developing the stage)
and `held_out` (never looked at before a figure was reported: its templates were written
before any run, and no recognizer was changed after reading its errors). Nothing generated is
committed; the same seed gives the same records (Faker and random seeded per record).
"""

from __future__ import annotations

import random
import re
from faker import Faker

#: Faker locales the identities come from (names, phones, IBANs, e-mail domains of 14 countries)
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE", "fi_FI", "pl_PL", "pt_BR", "ja_JP",
           "tr_TR", "hr_HR")
#: IBAN country per locale where Faker has one (others draw from these)
IBAN_LOCALES = ("de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "fi_FI", "en_GB", "pt_BR", "tr_TR", "hr_HR")
CARD_TYPES = ("visa16", "visa13", "mastercard", "amex", "discover", "diners", "jcb15", "jcb16", "maestro")

TUNING_TEMPLATES = (
    "Hi, this is {PERSON}, my card {CREDIT_CARD} was charged twice last week.",
    "Please call me back at {PHONE_NUMBER}, thanks, {PERSON}",
    "My e-mail changed to {EMAIL_ADDRESS}, can you update the account of {PERSON}?",
    "The refund should go to IBAN {IBAN_CODE} please.",
    "I logged in from {IP_ADDRESS} and got locked out.",
    "For verification my SSN is {US_SSN}.",
    "{PERSON} here. Phone {PHONE_NUMBER}, mail {EMAIL_ADDRESS}.",
    "Customer {PERSON} disputes the payment with card number {CREDIT_CARD}.",
    "Transfer the deposit to {IBAN_CODE}, account holder {PERSON}.",
    "The order was placed by {PERSON} ({EMAIL_ADDRESS}) from IP {IP_ADDRESS}.",
    "you can reach {PERSON} on {PHONE_NUMBER} after 5pm",
    "Ticket closed. Agent note: spoke with {PERSON}, confirmed SSN {US_SSN}.",
)
HELD_OUT_TEMPLATES = (
    "Dear support, {PERSON} again: the charge on {CREDIT_CARD} is not mine.",
    "Text or ring {PHONE_NUMBER} if the courier is late.",
    "Kindly send the invoice to {EMAIL_ADDRESS} and cc {PERSON}.",
    "Wire it to {IBAN_CODE} (beneficiary: {PERSON}).",
    "Our firewall blocked requests from {IP_ADDRESS} overnight.",
    "Social security number on file: {US_SSN}, name {PERSON}.",
    "Best regards,\n{PERSON}\n{PHONE_NUMBER}\n{EMAIL_ADDRESS}",
    "I paid with {CREDIT_CARD} and was billed in the wrong currency.",
    "hello my name is {PERSON} and i never got my parcel",
    "Escalated by {PERSON}; callback number {PHONE_NUMBER}.",
)


def _name(fake: Faker, locale: str, rng: random.Random) -> str:
    if locale == "ja_JP":
        name = f"{fake.first_romanized_name()} {fake.last_romanized_name()}"
    else:
        name = f"{fake.first_name()} {fake.last_name()}"
    return name.lower() if rng.random() < 0.1 else name  # people type their names in lower case too


def _card(fake: Faker, rng: random.Random) -> str:
    digits = fake.credit_card_number(card_type=rng.choice(CARD_TYPES))
    if rng.random() < 0.5 and len(digits) == 16:
        return " ".join(digits[i:i + 4] for i in range(0, 16, 4))
    return digits


def _iban(rng: random.Random, seed: int) -> str:
    fake = Faker(rng.choice(IBAN_LOCALES))
    fake.seed_instance(seed)
    iban = fake.iban()
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _ssn(rng: random.Random, seed: int) -> str:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake.ssn()


def _value(slot: str, fake: Faker, locale: str, rng: random.Random, seed: int) -> str:
    if slot == "PERSON":
        return _name(fake, locale, rng)
    if slot == "CREDIT_CARD":
        return _card(fake, rng)
    if slot == "IBAN_CODE":
        return _iban(rng, seed)
    if slot == "US_SSN":
        return _ssn(rng, seed)
    if slot == "IP_ADDRESS":
        return fake.ipv4_public() if rng.random() < 0.8 else fake.ipv6()
    return {"EMAIL_ADDRESS": fake.email, "PHONE_NUMBER": fake.phone_number}[slot]()


def generate(part: str, n: int) -> list[dict]:
    """`n` records of one part: {"text", "spans": [[start, end, label]], "locale"}."""
    templates, base = {"tuning": (TUNING_TEMPLATES, 15), "held_out": (HELD_OUT_TEMPLATES, 1015)}[part]
    records = []
    for i in range(n):
        seed = base * 1_000_003 + i
        rng = random.Random(seed)
        locale = LOCALES[i % len(LOCALES)]
        fake = Faker(locale)
        fake.seed_instance(seed)
        text, spans, last = "", [], 0
        template = rng.choice(templates)
        for slot in re.finditer(r"\{(\w+)\}", template):
            value = _value(slot.group(1), fake, locale, rng, seed)
            text += template[last:slot.start()]
            spans.append([len(text), len(text) + len(value), slot.group(1)])
            text += value
            last = slot.end()
        records.append({"text": text + template[last:], "spans": spans, "locale": locale})
    return records
