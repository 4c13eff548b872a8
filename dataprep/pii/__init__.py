"""PII detection and replacement for the `pii` stage.

`recognizers` finds pattern entities (e-mail, phone, IP, card, IBAN, SSN, credentials) with
regexes screened over the whole Arrow batch first and validated on candidates only; `ner` finds
PERSON with spaCy on the chunks that may hold a name; `spans` resolves overlaps and rewrites.
"""
