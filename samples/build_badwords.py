"""Rebuild dataprep/badwords/<lang>.txt: the LDNOOBW lists C4 filtered with, from the npm registry.

    python samples/build_badwords.py        (needs npm; writes the lists and their NOTICE)

"List of Dirty, Naughty, Obscene, and Otherwise Bad Words" (LDNOOBW, Shutterstock), CC BY 4.0,
as packaged on npm as `naughty-words` (version pinned below). One word or phrase per line.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "naughty-words@1.2.0"
OUT = Path(__file__).resolve().parents[1] / "dataprep" / "badwords"
NOTICE = """The word lists in this folder are the "List of Dirty, Naughty, Obscene, and Otherwise Bad
Words" (https://github.com/LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words),
copyright Shutterstock, Inc. and contributors, licensed under the Creative Commons Attribution
4.0 International licence (https://creativecommons.org/licenses/by/4.0/). Taken unchanged
(one entry per line) from the npm package {package} by samples/build_badwords.py.
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        with tarfile.open(next(Path(tmp).glob("*.tgz"))) as archive:
            archive.extractall(tmp, filter="data")
        OUT.mkdir(parents=True, exist_ok=True)
        for path in sorted((Path(tmp) / "package").glob("*.json")):
            words = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(words, list) and "-" not in path.stem and path.stem != "tlh":
                (OUT / f"{path.stem}.txt").write_text("\n".join(w.strip() for w in words if w.strip()) + "\n", encoding="utf-8")
    (OUT / "NOTICE").write_text(NOTICE.format(package=PACKAGE), encoding="utf-8")
    print(f"{len(list(OUT.glob('*.txt')))} lists in {OUT}")


if __name__ == "__main__":
    main()
