"""`normalize`: repair and tidy text before anything measures it.

Every later rule counts words, lines and characters, so they must see one canonical form:
mojibake repaired (UTF-8 read as Latin-1/cp1252, the commonest crawl damage), Unicode NFC (so
"é" is one code point whichever way the page wrote it), no control characters, and whitespace
collapsed without losing line structure (line-based rules need the newlines).
"""

from __future__ import annotations

import re
import unicodedata

import ftfy
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil
from dataprep.stages.base import Mapper, TextBatch, register

# A UTF-8 lead byte shown as a Latin-1 character followed by a continuation byte shown as
# Latin-1 or cp1252: the fingerprint of mojibake; or a C1 control character anywhere, which no
# text writes, and which is what is left of UTF-8 read in another single-byte code page ("ā\x80\x94"
# for "—" read as Windows-1257: stripping the controls left "ā"). Cheap to test for over the whole
# batch; only documents that match go through ftfy (which is Python, and decides whether it really is).
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE_HINT = f"[\u00c2-\u00f4][\u0080-\u00bf{_CP1252_HIGH}]|[\u0080-\u0084\u0086-\u009f]"  # not NEL: a line break
MOJIBAKE_SEARCH = re.compile(MOJIBAKE_HINT).search
#: a combining diacritical mark: the text may be decomposed (NFD), hiding the hint until composed
COMBINING_MARK = "[\u0300-\u036f]"


#: a terminal escape sequence whole (colour codes "\x1b[31m", titles "\x1b]0;...\x07"): removing only
#: the ESC control character would leave "[31m" in the text
ANSI_ESCAPES = r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])"


@register
class Normalize(Mapper):
    """Unicode NFC, mojibake repair, control characters out, whitespace collapsed.

    Records the fixes applied to each document in `normalize_fixes` (e.g. ["mojibake", "nfc"]).
    """

    name = "normalize"
    adds = {"normalize_fixes": pa.list_(pa.string())}

    def __init__(
        self,
        fix_mojibake: bool = True,  # ftfy.fix_encoding on documents that look mis-decoded
        form: str = "NFC",  # NFC keeps compatibility characters (NFKC would fold "ﬁ", "²", full-width)
        strip_control: bool = True,  # control characters carry no text and break tokenizers; line breaks become \n
        collapse_whitespace: bool = True,  # runs of spaces and blank lines are layout, not content
    ):
        if form not in ("NFC", "NFKC", "NFD", "NFKD"):
            raise ValueError(f"form must be one of NFC, NFKC, NFD, NFKD, not {form!r}")
        self.fix_mojibake = fix_mojibake
        self.form = form
        self.strip_control = strip_control
        self.collapse_whitespace = collapse_whitespace

    def transform(self, batch: TextBatch) -> tuple[pa.Array, dict[str, pa.Array]]:
        text = batch.text
        flags: dict[str, np.ndarray] = {}
        if self.fix_mojibake:
            fixed = _fix_mojibake(text)
            flags["mojibake"], text = textutil.changed(text, fixed), fixed
        normal = pc.utf8_normalize(text, form=self.form)
        flags[self.form.lower()], text = textutil.changed(text, normal), normal
        if self.strip_control:
            clean = pc.replace_substring_regex(text, ANSI_ESCAPES, "")
            clean = pc.replace_substring_regex(pc.replace_substring_regex(clean, textutil.LINE_BREAKS, "\n"), textutil.CONTROL_CHARS, "")
            flags["control"], text = textutil.changed(text, clean), clean
        if self.collapse_whitespace:
            tidy = _collapse_whitespace(text)
            flags["whitespace"], text = textutil.changed(text, tidy), tidy
        return text, {"normalize_fixes": textutil.tags_column(flags)}


def _fix_mojibake(text: pa.Array) -> pa.Array:
    """Mojibake repaired by ftfy in the documents the hint finds, composed (NFC) first: in a
    decomposed (NFD) text, mojibake's "Ã" is "A" and a combining tilde, which no hint matches
    (such a copy kept its "MÃ¤scot" and escaped dedup against the repaired one). A document
    ftfy leaves as it is stays as written."""
    suspects = pc.or_(pc.match_substring_regex(text, MOJIBAKE_HINT), pc.match_substring_regex(text, COMBINING_MARK))
    suspects = np.flatnonzero(pc.fill_null(suspects, False).to_numpy(zero_copy_only=False))
    if suspects.size == 0:
        return text
    values = text.to_pylist()
    for i in suspects:
        composed = unicodedata.normalize("NFC", values[i])
        if MOJIBAKE_SEARCH(composed) and (repaired := ftfy.fix_encoding(composed)) != composed:
            values[i] = repaired
    return pa.array(values, text.type)


def _collapse_whitespace(text: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(text, textutil.LINE_BREAKS, "\n")
    text = pc.replace_substring_regex(text, textutil.ODD_SPACES, " ")
    text = pc.replace_substring_regex(text, r" {2,}", " ")
    text = pc.replace_substring_regex(text, r" ?\n ?", "\n")
    text = pc.replace_substring_regex(text, r"\n{3,}", "\n\n")
    return pc.utf8_trim_whitespace(text)
