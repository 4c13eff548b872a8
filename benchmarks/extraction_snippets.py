"""Main-text extraction on pages of every kind, scored by trafilatura's own test assertions.

    python benchmarks/extraction_snippets.py [--repeat 3] [--unsure 0.1,0.2]

The article benchmark (benchmarks/extraction.py) is news and blogs in English. This set is the
"real pages of every kind" check: the 110 pages of trafilatura 1.1.0's `tests/cache` (shops,
government and party sites, forums, blogs, recipes, news; mostly German, also English, French and
Chinese), taken from the sdist on PyPI at run time (into benchmarks/.peers/, never into the
repository). Its `tests/realworld_tests.py` asserts, per page, strings that must be in the
extracted text (`'...' in result`) and strings that must not (`not in result`): 198 and 193 of
them on 83 pages, written by trafilatura's author for trafilatura's default output. So the set
favours trafilatura by construction (it passes nearly all of them), and it counts comment
sections as text, which `extract` leaves out on every engine; the table therefore also counts the
must-have strings outside comments (those trafilatura keeps with `include_comments=False`) and
gives each extractor's agreement F1 with that output on all 110 pages.

Pages are decoded as the readers decode a file (dataprep.readers.charset.to_utf8). The pages are
split in halves by a hash of their file name; none of the hybrid's rules was chosen on either
half (both are held out today), and any rule chosen on this set must be chosen on the first.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from extraction import EXTRACTORS, Extractor, fresh_pages, load_line, sdist_tests

from dataprep.extract.scoring import score
from dataprep.readers.charset import to_utf8

SDIST = "trafilatura==1.1.0"  # the last release whose sdist ships tests/cache (1.2.0 dropped it)
SPACE = re.compile(r"\s+")


@dataclass
class Page:
    name: str
    html: str
    must: list[str]  # strings trafilatura's tests require in the text
    must_not: list[str]  # strings they require to be left out


def tests_folder() -> Path:
    """trafilatura 1.1.0's tests/ folder, unpacked from its sdist (downloaded once)."""
    return sdist_tests(SDIST)


def assertions(tests: Path) -> tuple[dict[str, str], dict[str, tuple[list[str], list[str]]]]:
    """MOCK_PAGES (url -> file) and, per file, the `'x' in result` / `'x' not in result` strings
    asserted after a plain `load_mock_page(url)` (text output; the XML/TEI-only branches skipped)."""
    tree = ast.parse((tests / "realworld_tests.py").read_text(encoding="utf-8"))
    files = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MOCK_PAGES")
    found: dict[str, tuple[list[str], list[str]]] = {}

    def visit(statements: list[ast.stmt], url: str | None) -> None:
        for statement in statements:
            if isinstance(statement, ast.FunctionDef):
                visit(statement.body, None)
            elif isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call) \
                    and getattr(statement.value.func, "id", "") == "load_mock_page":
                call = statement.value
                plain = not call.keywords and len(call.args) <= 2 and all(isinstance(a, (ast.Constant, ast.Name)) for a in call.args)
                url = call.args[0].value if plain and isinstance(call.args[0], ast.Constant) else None
            elif isinstance(statement, ast.If):
                test = ast.unparse(statement.test).replace(" ", "")
                if "xmloutput" in test or "tei" in test:
                    visit(statement.body if test in ("xmloutputisFalse", "notxmloutput") else statement.orelse, url)
                else:
                    visit(statement.body, url)
            elif isinstance(statement, ast.Assert) and url in files:
                must, must_not = found.setdefault(files[url], ([], []))
                for node in ast.walk(statement.test):
                    if (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
                            and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
                            and getattr(node.comparators[0], "id", "") == "result"):
                        (must if isinstance(node.ops[0], ast.In) else must_not).append(node.left.value)
    visit(tree.body, None)
    return files, found


def pages() -> list[Page]:
    tests = tests_folder()
    _, found = assertions(tests)
    return [Page(path.name, to_utf8(path.read_bytes()).data.decode("utf-8", "replace"), *found.get(path.name, ([], [])))
            for path in sorted((tests / "cache").glob("*.html"))]


def held_out(name: str) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2 == 1


def flat(text: str | None) -> str:
    return SPACE.sub(" ", text or "")


def trafilatura_without_comments(html: list[str]) -> tuple[list[str | None], str]:
    import trafilatura

    return [trafilatura.extract(page, include_comments=False) for page in html], "trafilatura.extract(html, include_comments=False)"


def main() -> None:
    print(load_line("before"))
    every = pages()
    reference = [flat(t) for t in trafilatura_without_comments(fresh_pages([p.html for p in every]))[0]]
    extractors = {name: EXTRACTORS[name] for name in ("extract hybrid (default)", "extract hybrid unsure=1", "extract resiliparse",
                                                         "trafilatura (direct)")}
    extractors |= {name: extractor for name, extractor in EXTRACTORS.items() if name.startswith("extract hybrid unsure=0")}
    extractors["trafilatura, no comments"] = Extractor(fresh_pages, trafilatura_without_comments)
    print(f"{len(every)} pages; {sum(bool(p.must or p.must_not) for p in every)} with assertions: "
          f"{sum(len(p.must) for p in every)} must-have, {sum(len(p.must_not) for p in every)} must-not strings\n")
    print(f"{'extractor':<26} {'half':<9} {'must-have':>10} {'outside comments':>17} {'must-not':>9} {'pages all':>10} "
          f"{'agreement F1':>12} {'pages/s/core':>12}  note")
    for name, extractor in extractors.items():
        texts, note, speed = extractor.timed([p.html for p in every])
        for half, chosen in (("all", lambda _: True), ("first", lambda n: not held_out(n)), ("second", held_out)):
            kept = [(p, flat(t), r) for p, t, r in zip(every, texts, reference) if chosen(p.name)]
            must = [s in t for p, t, _ in kept for s in map(flat, p.must)]
            outside = [s in t for p, t, r in kept for s in map(flat, p.must) if s in r]
            must_not = [s not in t for p, t, _ in kept for s in map(flat, p.must_not)]
            passing = sum(all(flat(s) in t for s in p.must) and not any(flat(s) in t for s in p.must_not)
                          for p, t, _ in kept if p.must or p.must_not)
            agreement = score([t for _, t, _ in kept], [r for _, _, r in kept]).f1
            asserted = sum(bool(p.must or p.must_not) for p, _, _ in kept)
            print(f"{name if half == 'all' else '':<26} {half:<9} {sum(must) / len(must):10.3f} {sum(outside) / len(outside):17.3f} "
                  f"{sum(must_not) / len(must_not):9.3f} {passing:>4}/{asserted:<5} {agreement:12.3f} "
                  f"{f'{speed:12.1f}' if half == 'all' else ' ' * 12}  {note if half == 'all' else ''}", flush=True)
    print(load_line("after"))


if __name__ == "__main__":
    main()
