"""Every path of a run's output folder, named once.

    OUT/kept/part-<part>.parquet                 documents that passed every stage
    OUT/removed/part-<part>-s<K>.parquet         the ledger: removed documents with stage, reason, details
    OUT/quarantine/part-<part>-s<K>.parquet      documents (or files) that could not be processed, with the error
    OUT/quarantine/part-plan.parquet             files refused at planning time
    OUT/metrics/<NN>-<stage>/part-<part>.parquet every document's measured values per stage
    OUT/_parts/s<K>-<part>.json                  a part's commit marker (its counts), written last
    OUT/run.json, OUT/stats.json, OUT/report.html
    OUT/tokenizer/, OUT/tokens/                  files of the tokenizer stages
    WORK/s<K>/part-<part>.parquet                what segment K kept, for segment K+1
    WORK/ids/part-<part>.parquet                 the ids a part holds that occur more than once in the input
    WORK/s<K>/keys/part-<part>.parquet           a global stage's per-document keys
    WORK/s<K>/decisions/part-<part>.parquet      its per-document decisions, one file per part (resolution.py)
    WORK/s<K>/phases.json                        the time its corpus-wide phases took

WORK is OUT/_work, or a folder of its own under --work-dir (local or remote), named by the run's
fingerprint and a digest of its output folder, so runs sharing a work dir never meet. Paths are
URIs (see storage.py); the layout is plain strings, cheap to send into every Ray task.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from dataprep import storage
from dataprep.errors import ConfigError

MARKERS = "_parts"
WORK = "_work"


@dataclass(frozen=True)
class OutputLayout:
    root: str  # the output folder (absolute path or URI)
    work: str  # where the segments' intermediate files go

    @classmethod
    def of(cls, output: str, work_dir: str | None = None, fingerprint: str | None = None) -> OutputLayout:
        # local folders as the links they are reached through lead (--overwrite of an output given
        # as a link replaces the run behind it, not the link; a work dir's link pointed elsewhere
        # since the run began is another folder)
        root = storage.real(storage.normalize(output))
        if work_dir is None:
            return cls(root, storage.join(root, WORK))
        # the output too: two outputs of one pipeline and input met in one folder, and the second
        # took the first's resolutions (its tokenizer trained into the first output: none for it)
        output_digest = hashlib.sha256(root.encode("utf-8")).hexdigest()[:12]
        return cls(root, storage.join(storage.real(storage.normalize(work_dir)), f"{fingerprint or 'run'}-{output_digest}"))

    @classmethod
    def at(cls, out: OutputLayout | str | os.PathLike) -> OutputLayout:
        """The layout of a finished run's output folder (given as a layout, a path or a URI)."""
        return out if isinstance(out, OutputLayout) else cls.of(os.fspath(out))

    @property
    def work_is_inside(self) -> bool:
        return self.work == storage.join(self.root, WORK)

    @property
    def work_dir(self) -> str | None:
        """The --work-dir the work folder lies under, as run.json records it (None: inside the output)."""
        return None if self.work_is_inside else storage.parent(self.work)

    def _at(self, *names: str) -> str:
        return storage.join(self.root, *names)

    # ---- folders and files of the run ----
    @property
    def kept(self) -> str:
        return self._at("kept")

    @property
    def removed(self) -> str:
        return self._at("removed")

    @property
    def quarantine(self) -> str:
        return self._at("quarantine")

    @property
    def markers(self) -> str:
        return self._at(MARKERS)

    @property
    def run_json(self) -> str:
        return self._at("run.json")

    @property
    def stats_json(self) -> str:
        return self._at("stats.json")

    def finished_stats(self) -> dict[str, Any]:
        """stats.json, which a run writes last: a one-line error where there is none or it is
        damaged (a folder that is no finished run's output, a file cut short or edited)."""
        if not storage.is_file(self.stats_json):
            raise ConfigError(f"no stats.json in {storage.public(self.root)} (is it a finished run's output folder?)")
        try:
            stats = storage.read_json(self.stats_json)
        except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
            raise ConfigError(f"{storage.public(self.stats_json)} is damaged ({exc}): run the pipeline again with --overwrite") from None
        missing = [key for key in ("input", "output", "quarantine", "stages") if not isinstance(stats, dict) or key not in stats]
        if missing:
            raise ConfigError(f"{storage.public(self.stats_json)} is damaged (no {', '.join(missing)}): run the pipeline again with --overwrite")
        return stats

    @property
    def report_html(self) -> str:
        return self._at("report.html")

    @property
    def tokenizer(self) -> str:
        return self._at("tokenizer")

    @property
    def tokens(self) -> str:
        return self._at("tokens")

    # ---- a part's files ----
    def kept_part(self, key: str) -> str:
        return storage.join(self.kept, f"part-{key}.parquet")

    def removed_part(self, key: str, segment: int) -> str:
        return storage.join(self.removed, f"part-{key}-s{segment}.parquet")

    def quarantine_part(self, key: str, segment: int) -> str:
        return storage.join(self.quarantine, f"part-{key}-s{segment}.parquet")

    @property
    def plan_quarantine(self) -> str:
        return storage.join(self.quarantine, "part-plan.parquet")

    def marker(self, segment: int, key: str) -> str:
        return storage.join(self.markers, self.marker_name(segment, key))

    @staticmethod
    def marker_name(segment: int, key: str) -> str:
        return f"s{segment}-{key}.json"

    def metrics_dir(self, index: int, stage: str) -> str:
        return self._at("metrics", f"{index:02d}-{stage}")

    def metrics_part(self, index: int, stage: str, key: str) -> str:
        return storage.join(self.metrics_dir(index, stage), f"part-{key}.parquet")

    # ---- the work folder ----
    def segment_dir(self, segment: int) -> str:
        return storage.join(self.work, f"s{segment}")

    def segment_part(self, segment: int, key: str) -> str:
        """What segment `segment` kept of a part (read by the next segment)."""
        return storage.join(self.segment_dir(segment), f"part-{key}.parquet")

    def keys_dir(self, segment: int) -> str:
        return storage.join(self.segment_dir(segment), "keys")

    def keys_part(self, segment: int, key: str) -> str:
        return storage.join(self.keys_dir(segment), f"part-{key}.parquet")

    def decisions_dir(self, segment: int) -> str:
        return storage.join(self.segment_dir(segment), "decisions")

    @property
    def ids_dir(self) -> str:
        return storage.join(self.work, "ids")

    @property
    def shuffle_dir(self) -> str:
        """The files of the shuffles of the resolve under way (resolution.shuffles)."""
        return storage.join(self.work, "shuffle")

    def phases(self, segment: int) -> str:
        return storage.join(self.segment_dir(segment), "phases.json")

    def accepted(self, segment: int) -> str:
        """Written once the segment's quarantines were judged within the error budget."""
        return storage.join(self.segment_dir(segment), "accepted.json")

    @property
    def attempts(self) -> str:
        """When each attempt at this run started (a resumed run's wall time adds the earlier ones')."""
        return storage.join(self.work, "attempts.json")

    # ---- reading a folder back ----
    @staticmethod
    def parts(folder: str, pattern: str = "part-*.parquet") -> list[str]:
        """The part files of a folder, sorted (none when the folder does not exist)."""
        return storage.files(folder, pattern)
