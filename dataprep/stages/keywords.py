"""`keywords`: the survey's keyword filtering: block lists, leftover HTML, links, boilerplate lines.

Documents are removed on a blocked word or phrase (or only the lines holding it, with
`scope: line`); blocked URL domains are `url_filter`'s (`block_domains`); leftover HTML tags and
bare links are stripped; lines that are web-page chrome rather than content (cookie banners, "Read more", "Sign in", cart and
comment counters, in English, German, French and Spanish) are dropped. Each document records
what was stripped in `keywords_fixes` and how many lines went in `keywords_lines_removed`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep import text as textutil
from dataprep.stages.base import LineFilter, TextBatch, register

#: the elements of HTML (WHATWG's, the obsolete ones still met in pages, and svg/math): only their
#: tags are markup; "<package>", "<stdin>" and "<COPYRIGHT HOLDER>" are text (a manual's argument)
HTML_ELEMENTS = (
    "a abbr acronym address applet area article aside audio b base basefont bdi bdo big blink blockquote body br button "
    "canvas caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl dt em embed fieldset "
    "figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe img input ins "
    "kbd label legend li link main map mark marquee math menu meta meter nav nobr noframes noscript object ol optgroup option "
    "output p param picture pre progress q rp rt ruby s samp script search section select slot small source span strike "
    "strong style sub summary sup svg table tbody td template textarea tfoot th thead time title tr track tt u ul var video wbr"
).split()
HTML_TAG = rf"</?(?i:{'|'.join(HTML_ELEMENTS)})(\s[^<>]{{0,500}})?/?>|<!--(?s:.*?)-->"
LINK = r"\b(https?://|www\.)[^\s<>\"')\]]+"
# Whole lines that are page chrome. Short by construction: a sentence that mentions "cookies"
# is content; a line that *is* a cookie button is not.
BOILERPLATE = "(?i)^(" + "|".join([
    r"(read|learn|see|show|view) (more|all|less)( »| ›| >)?", r"weiterlesen|mehr (lesen|erfahren|anzeigen)|lire la suite|en savoir plus|leer más|ver más",
    r"(sign|log) (in|out|up)|register|create (an )?account|my account|anmelden|abmelden|registrieren|einloggen|mein konto|se connecter|connexion|iniciar sesión|registrarse",
    r"(skip|jump) to (main )?(content|navigation)|zum inhalt( springen)?|back to top|nach oben|retour en haut|volver arriba",
    r"(share|teilen|partager|compartir)( (on|auf|sur|en) \w+)?|tweet|print|drucken|imprimer|imprimir|e-?mail|newsletter( abonnieren)?|subscribe",
    r"(accept|allow|reject|decline)( all)?( cookies)?|(alle )?(akzeptieren|ablehnen)|tout accepter|aceptar( todo)?|cookie[- ]?(settings|einstellungen|policy|richtlinie|hinweis)s?|ok(ay)?|got it",
    r"\d+ (items?|artikel|articles?|art[ií]culos?) in (your |ihrem |votre |tu )?(cart|basket|warenkorb|panier|carrito)|(your )?(cart|basket|warenkorb|panier|carrito)( \(\d+\))?( is empty| ist leer)?",
    r"\(?\d[\d.,]*\)? ?(comments?|kommentare?|commentaires?|comentarios?|likes?|views?|aufrufe|shares?|reviews?|bewertungen|antworten|replies)",
    r"(previous|next|zurück|weiter|vorherige?|nächste|précédent|suivant|anterior|siguiente)( (page|seite|article|artikel|post|beitrag))?( »| ›| >)?",
    r"(home|startseite|accueil|inicio|menu|menü|search|suche|rechercher|buscar|close|schließen|fermer|cerrar)",
]) + r")[.!:]?$"
# A cookie or consent banner sentence: "we use cookies", "diese Website verwendet Cookies", ...
COOKIE_BANNER = (r"(?i)((we|this (web)?site|our (web)?site) (use|uses)|wir (verwenden|nutzen)|(diese|unsere) (website|webseite|seite) "
                 r"(verwendet|nutzt)|ce site utilise|nous utilisons|(este|nuestro) sitio (web )?utiliza|utilizamos) (\w+ )?cookies")


@register
class Keywords(LineFilter):
    """Block lists (words, phrases, files), HTML tags, links and boilerplate lines (domains: `url_filter`)."""

    name = "keywords"
    adds = {"keywords_fixes": pa.list_(pa.string()), "keywords_lines_removed": pa.int32()}
    moved = {"block_domains": "since 0.2.5, a url_filter stage's block_domains blocks domains (reason url_filter.blocked_domain)"}

    def __init__(
        self,
        block_words: list[str] | None = None,  # whole words, case-insensitive (e.g. a brand, a slur)
        block_phrases: list[str] | None = None,  # substrings, case-insensitive ("buy viagra online")
        block_files: list[str] | None = None,  # files of one word or phrase per line (# comments)
        scope: str = "document",  # "document": a block-list hit removes the page; "line": only the line
        strip_html: bool = True,  # tags left by a careless extractor carry no text
        strip_links: bool = True,  # bare URLs are noise for a language model and can leak PII
        drop_boilerplate_lines: bool = True,  # page chrome: menus, buttons, banners, counters
    ):
        if scope not in ("document", "line"):
            raise ValueError(f"scope must be 'document' or 'line', not {scope!r}")
        terms = list(block_phrases or [])
        for path in block_files or []:
            if not Path(path).is_file():
                raise ValueError(f"block file not found: {path}")
            lines = Path(path).read_text(encoding="utf-8").splitlines()
            terms += [t.strip() for t in lines if t.strip() and not t.startswith("#")]
        if any(not str(t).strip() for t in list(block_words or []) + terms):
            raise ValueError("block_words and block_phrases hold an empty entry, which would block every document")
        self.block_words = list(block_words or [])
        self.block_phrases = terms
        self.block_files = list(block_files or [])
        self.scope = scope
        self.strip_html, self.strip_links = strip_html, strip_links
        self.drop_boilerplate_lines = drop_boilerplate_lines

    def read_files(self) -> list[str]:
        return self.block_files

    def _blocked_terms(self) -> str | None:
        """One alternation of every blocked word (whole: between non-letters of any script, as
        c4_badwords reads words; RE2's `\\b` knows ASCII letters only, so "über" was not found in
        "über die" but was in "darüber") and phrase, each in a group of its own."""
        def alternation(terms: list[str]) -> str:
            return "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))

        parts = ([rf"(?:^|[^\p{{L}}\p{{N}}_])(?P<word>{alternation(self.block_words)})(?:$|[^\p{{L}}\p{{N}}_])"] if self.block_words else []) \
            + ([f"(?P<phrase>{alternation(self.block_phrases)})"] if self.block_phrases else [])
        return "|".join(parts) or None

    def rewrite(self, batch: TextBatch) -> tuple[TextBatch, dict[str, np.ndarray]]:
        n = batch.num_rows
        text = batch.text
        flags: dict[str, np.ndarray] = {}
        for name, enabled, pattern in (("html", self.strip_html, HTML_TAG), ("links", self.strip_links, LINK)):
            if enabled:
                stripped = pc.replace_substring_regex(text, pattern, "")
                flags[name], text = textutil.changed(text, stripped), stripped
        lines, parent = textutil.flat(textutil.split_lines(text))
        keep = np.ones(len(lines), dtype=bool)
        if self.drop_boilerplate_lines:
            trimmed = pc.utf8_trim_whitespace(lines)
            chrome = textutil.matches(trimmed, BOILERPLATE) | (
                textutil.matches(lines, COOKIE_BANNER) & (textutil.char_lengths(lines) < 400))
            keep &= ~chrome
            flags["boilerplate"] = textutil.per_doc(parent, chrome.astype(float), n) > 0
        term = np.full(n, None, dtype=object)  # what blocks a document
        blocked = self._blocked_terms()
        if blocked:
            if self.scope == "line":
                hits = textutil.matches(lines, f"(?i){blocked}")
                keep &= ~hits
                flags["blocked_lines"] = textutil.per_doc(parent, hits.astype(float), n) > 0
            else:  # one pass: the lines that match are those with a match extracted
                found = pc.extract_regex(lines, f"(?i){blocked}")
                hits = pc.is_valid(found).to_numpy(zero_copy_only=False)
                groups = [pc.struct_field(found, field.name).to_pylist() for field in found.type]  # word, phrase
                terms = [next((g for g in matched if g), None) for matched in zip(*groups)]
                for i in np.flatnonzero(hits)[::-1]:  # the first hit of each document wins
                    term[parent[i]] = terms[i]
        new_text = textutil.join_kept(lines, parent, keep, n)
        removed_lines = textutil.per_doc(parent, (~keep).astype(float), n).astype(np.int32)
        out = batch.with_text(new_text).with_columns({
            "keywords_fixes": textutil.tags_column(flags),
            "keywords_lines_removed": pa.array(removed_lines, pa.int32()),
        })
        return out, {"term": term, "lines_removed": removed_lines}

    def checks(self, m: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        return [("blocked_term", m["term"] != None)]  # noqa: E711
