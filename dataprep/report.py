"""report.html: what each stage of a run did, as one static self-contained page.

Written at the end of every run and by `dataprep report OUT`. Everything comes from the output
folder (stats.json, run.json, metrics/, the ledger, tokens/manifest.json when present), never
from stage code, so any stage shows up without a special case. Charts are inline SVG drawn here;
the only script is the threshold slider (plain JS, inline): the page needs no server or network.
"""

from __future__ import annotations

import html
import json
import os
import platform
from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from dataprep import highlight, ledger, storage, tokens
from dataprep import metrics as recorded
from dataprep.explain import find
from dataprep.layout import OutputLayout
from dataprep.stages.base import TUNING_FACTORS, Stage, fails, side_of, tuning_bounds

SAMPLES_PER_REASON = 3  # removed documents shown per reason: enough to see a pattern
FILES_AT_ONCE = 256  # ledger parts read in parallel per round while sampling: their candidates are merged, then let go
SHOWN_CHARS = 3000  # characters of a sampled document shown
CONTEXT_CHARS = 300  # shown before the first highlight when that lies beyond the first SHOWN_CHARS
BINS = 40  # histogram bins
SLIDER_VALUES = 2000  # values per threshold embedded for the slider (quantiles beyond that)
#: what names a document beside its id in the report's samples, the first one a ledger row has
NAMING_COLUMNS = ("url", "title")
#: documents' measured values read per stage; beyond, a uniform sample of this many: the process
#: writing the report holds this (~100 MB for a stage of a few metrics), never the corpus
REPORT_ROWS = 1_000_000
KEPT, REMOVED = "#4c9a5b", "#c8553d"


def write(out: OutputLayout | str | os.PathLike) -> str:
    """Render OUT/report.html (whole: atomically on a local disk, one PUT on an object store) and return its path or URI."""
    out = OutputLayout.at(out)
    storage.write_bytes(render(out).encode("utf-8"), out.report_html)
    return out.report_html


def render(out: OutputLayout | str | os.PathLike) -> str:
    out = OutputLayout.at(out)
    stats = out.finished_stats()
    identity = storage.read_json(out.run_json) if storage.is_file(out.run_json) else {}
    samples = _sampled_removals(out)
    specs = identity.get("stages") or []  # each stage's parameters as given: what its highlight() reads
    sections = [
        _section("waterfall", "Waterfall", _waterfall(stats, _token_count(out))),
        _section("stages", "Stages", _reading(out, stats, samples) + "".join(
            _stage(out, i, s, samples, specs[i] if i < len(specs) else None) for i, s in enumerate(stats["stages"]))),
        _section("quarantine", "Quarantine", _quarantine(out)),
        _section("metadata", "Run", _metadata(stats, identity)),
    ]
    title = f"dataprep report: {stats.get('pipeline') or storage.name(out.root)}"
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>{_summary(stats)}{_contents(stats)}{''.join(sections)}"
            f"<script>{SCRIPT}</script></body></html>")


# ---- data ---------------------------------------------------------------------------------

def _token_count(out: OutputLayout) -> int | None:
    """Total tokens from tokens/manifest.json (written by the tokenize stage), if any."""
    path = storage.join(out.tokens, tokens.MANIFEST)
    if not storage.is_file(path):
        return None
    manifest = storage.read_json(path)
    for key in ("tokens", "total_tokens", "num_tokens"):
        if isinstance(manifest.get(key), int):
            return manifest[key]
    return None


def _sampled_removals(out: OutputLayout) -> dict[str, list[dict[str, Any]]]:
    """Up to SAMPLES_PER_REASON ledger rows per reason, seeded (the same run gives the same page).

    Read in rounds of FILES_AT_ONCE parts (storage.each): each row draws a random priority (seeded
    by its part), and each reason keeps its lowest ones so far, so the process holds a round's
    candidates and a few rows per reason, whatever the ledger's size.
    """
    files = out.parts(out.removed)

    def candidates(i: int) -> list[tuple[str, list[tuple[float, int, str]]]]:
        index = storage.read_table(files[i], columns=["id", "reason"])
        priority = np.random.default_rng([0, i]).random(index.num_rows)
        reasons = index.column("reason").combine_chunks().dictionary_encode()
        codes = reasons.indices.to_numpy(zero_copy_only=False)
        ids = index.column("id").combine_chunks()
        best = [(reason, rows[np.argsort(priority[rows], kind="stable")[:SAMPLES_PER_REASON]])
                for code, reason in enumerate(reasons.dictionary.to_pylist()) if (rows := np.flatnonzero(codes == code)).size]
        return [(reason, [(float(priority[r]), i, ids[int(r)].as_py()) for r in rows]) for reason, rows in best]

    chosen: dict[str, list[tuple[float, int, str]]] = {}  # reason -> (priority, file, id), lowest first
    for start in range(0, len(files), FILES_AT_ONCE):  # a round of files read in parallel, then merged
        for found in storage.each(candidates, range(start, min(start + FILES_AT_ONCE, len(files)))):
            for reason, picks in found:
                chosen[reason] = sorted(chosen.get(reason, []) + picks)[:SAMPLES_PER_REASON]
    wanted: dict[int, list[str]] = {}
    for picks in chosen.values():
        for _, i, doc_id in picks:
            wanted.setdefault(i, []).append(doc_id)
    def rows_of(i: int) -> list[dict[str, Any]]:
        # with a web page's url or title when the ledger has them: a WARC record's id says nothing
        named = [c for c in NAMING_COLUMNS if c in storage.read_schema(files[i]).names]
        table = storage.read_table(files[i], columns=["id", "reason", "details", "text", *named])
        return table.filter(pc.is_in(table.column("id").cast(pa.string()), value_set=pa.array(sorted(wanted[i]), pa.string()))).to_pylist()

    result: dict[str, list[dict[str, Any]]] = {}
    for rows in storage.each(rows_of, sorted(wanted)):
        for row in rows:
            result.setdefault(row["reason"], []).append(row)
    return result


def _tuning(table: pa.Table, stage_name: str, thresholds: list[dict[str, Any]], scale: float = 1.0,
            by_reason: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Per threshold: documents the stage removes now, and would remove at other values.

    Exact from the recorded values: a document stays removed when another rule of the stage
    fails it (or a rule without a threshold removed it); the tuned rule decides the rest. From a
    sample of the records (`scale` = records / sampled), the counts at the configured values are
    the run's own (`by_reason`, from stats.json) and every other count adds the sample's
    difference from them, scaled: an estimate.

    A stage may leave a rule unmeasured (NaN) on documents an earlier rule removed, as datatrove
    does (gopher_repetition's n-grams, fineweb's words): a looser bound lets such a document
    through to rules nobody measured, so `unmeasured` counts them beside each count, which is
    then the least the stage would remove, and the count plus them the most.
    """
    reasons = np.array(table.column("reason").to_pylist(), dtype=object)
    removed = reasons != None  # noqa: E711 (elementwise)
    usable, values, unmeasured = [], {}, []
    for t in thresholds:
        if t["metric"] not in table.column_names:
            continue
        if t["bound"] is not None:
            usable.append(t)
            values[t["metric"]] = _floats(table.column(t["metric"]))
        elif t["param"] in table.column_names:  # each document's own bound (per language), recorded as `param`:
            # tuned as a factor on it, the metric read as its share of the document's bound
            relative = {**t, "bound": 1.0, "metric": f"{t['metric']} / own {t['param']}"}
            usable.append(relative)
            with np.errstate(divide="ignore", invalid="ignore"):
                values[relative["metric"]] = _floats(table.column(t["metric"])) / _floats(table.column(t["param"]))
        else:
            continue
        unmeasured.append(removed & np.isnan(_floats(table.column(t["metric"]))))
    codes = {f"{stage_name}.{t['code']}" for t in usable}
    not_by_threshold = removed & ~np.isin(reasons, list(codes))
    failing_now = [fails(values[t["metric"]], t["bound"], t["side"]) for t in usable]
    rows = []
    for i, t in enumerate(usable):
        other = not_by_threshold.copy()
        for j, f in enumerate(failing_now):
            if j != i:
                other |= f
        now = int((other | failing_now[i]).sum())
        exact_now = now if by_reason is None else sum(by_reason.values())

        def count(n: Any, now: int = now, exact_now: int = exact_now) -> Any:
            return (np.rint((np.asarray(n) - now) * scale).astype(int) + exact_now).tolist()

        v = values[t["metric"]]
        free = np.sort(v[~other & np.isfinite(v)])  # a ratio to a bound of 0 is no slider stop (JSON has no Infinity)
        # removed by this rule alone as far as measured: their fate is unknown wherever it lets them through
        elsewhere = np.any([m for j, m in enumerate(unmeasured) if j != i] or [np.zeros_like(removed)], axis=0)
        unsure = np.sort(v[~other & elsewhere & ~np.isnan(v)])

        # the run recorded which of them the stage accepts (language's min_score stays below 1)
        bounds = t.get("alternatives") or tuning_bounds(t["bound"], isinstance(t["bound"], int))
        alternatives = [(None, None) if bound is None else (bound, count((other | fails(v, bound, t["side"])).sum()))
                        for bound in bounds]
        stops = np.array(sorted(set(_quantiles(free)) | {t["bound"]}), dtype=float)
        failing = _failing_at(free, stops, t["side"])
        code = f"{stage_name}.{t['code']}"
        by_rule = int((reasons == code).sum()) if by_reason is None else by_reason.get(code, 0)
        rows.append({**t, "now": exact_now, "by_rule": by_rule,
                     "other": count(other.sum()), "alternatives": alternatives,
                     "unmeasured": [0 if b is None else u for b, u in zip(bounds, _passing(unsure, [b or 0 for b in bounds], t["side"], scale))],
                     "stops": stops.tolist(), "counts": count(other.sum() + failing), "stop_unmeasured": _passing(unsure, stops, t["side"], scale)})
    return rows


def _passing(values: np.ndarray, bounds: Any, side: str, scale: float) -> list[int]:
    """How many of the sorted values pass each bound, scaled."""
    return np.rint((len(values) - _failing_at(values, np.asarray(bounds, dtype=float), side)) * scale).astype(int).tolist()


def _between(least: int, unsure: int) -> str:
    """A count, or the range it lies in when `unsure` documents' fate was not measured."""
    return f"{least:,}" if not unsure else f"{least:,}–{least + unsure:,}"


def _failing_at(free: np.ndarray, stops: np.ndarray, side: str) -> np.ndarray:
    """How many of the sorted values fail each stop as the bound (stages.base.fails, counted)."""
    rule = side_of(side)
    if rule.low:  # the values under the stop fail, and the stop itself when inclusive
        return np.searchsorted(free, stops, "right" if rule.inclusive else "left")
    return free.size - np.searchsorted(free, stops, "left" if rule.inclusive else "right")


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _quantiles(sorted_values: np.ndarray) -> list[float]:
    """At most SLIDER_VALUES evenly spaced order statistics (all of them when fewer)."""
    if sorted_values.size > SLIDER_VALUES:
        sorted_values = sorted_values[np.linspace(0, sorted_values.size - 1, SLIDER_VALUES).astype(int)]
    return [round(float(x), 6) for x in sorted_values]


# ---- sections -----------------------------------------------------------------------------

def _attempts(stats: dict[str, Any]) -> str:
    """A resumed run's attempts, each until its last committed part (run._attempt_seconds)."""
    attempts = stats.get("attempts") or []
    return f" over {len(attempts)} attempts ({', '.join(f'{a:,.1f} s' for a in attempts)})" if len(attempts) > 1 else ""


def _summary(stats: dict[str, Any]) -> str:
    out = stats["output"]
    ok = "invariant OK" if stats.get("invariant_ok") else "invariant BROKEN: " + "; ".join(stats.get("problems", []))
    return (f"<p class=summary>{stats['input']['docs']:,} documents in; {out['kept']:,} kept, {out['removed']:,} removed, "
            f"{out['quarantined']:,} quarantined; {stats.get('seconds', 0):,.1f} s; {_e(ok)}</p>")


def _contents(stats: dict[str, Any]) -> str:
    links = [f"<a href='#stage-{i}'>{_e(s['name'])}</a>" for i, s in enumerate(stats["stages"])]
    if any(_before_stages(stats)):
        links.insert(0, "<a href='#reading'>reading</a>")
    return f"<nav><a href='#waterfall'>waterfall</a> · {' · '.join(links)} · <a href='#quarantine'>quarantine</a> · <a href='#metadata'>run</a></nav>"


def _waterfall(stats: dict[str, Any], tokens: int | None) -> str:
    stages = stats["stages"]
    doc_rows = [("input", stats["input"]["docs"], ledger.entering(stats))] + [(s["name"], s["in"], s["kept"]) for s in stages]
    first_bytes = stages[0]["bytes_in"] if stages else 0
    byte_rows = [("input", first_bytes, first_bytes)] + [(s["name"], s["bytes_in"], s["bytes_out"]) for s in stages]
    parts = [f"<h3>Documents</h3>{_bars(doc_rows, '{:,.0f}'.format)}", f"<h3>Bytes of text</h3>{_bars(byte_rows, _bytes)}"]
    if tokens is not None:
        final = stages[-1]["bytes_out"] if stages else 0
        ratio = f", {final / tokens:.2f} bytes of kept text per token" if tokens and final else ""
        parts.append(f"<h3>Tokens</h3><p class=tokens>{tokens:,} tokens in tokens/ (tokens/manifest.json){ratio}</p>")
    return "".join(parts)


def _bars(rows: list[tuple[str, float, float]], fmt: Callable[[float], str], colour: str = KEPT) -> str:
    """Horizontal bars: what reached each step (light grey) and what left it (kept: green)."""
    top = max([r[1] for r in rows] + [1])
    height, bar_w = 22, 420
    label_w = 12 + 7 * max(len(r[0]) for r in rows)  # ~7 px per character at 11 px
    items = []
    for i, (name, came, kept) in enumerate(rows):
        y = i * height
        text = fmt(kept)
        items.append(f"<text x=0 y={y + 15}>{_e(name)}</text>"
                     f"<rect class=came x={label_w} y={y + 3} width={bar_w * came / top:.1f} height=16 fill='#ddd'><title>in {came:,}</title></rect>"
                     f"<rect class=bar x={label_w} y={y + 3} width={bar_w * kept / top:.1f} height=16 fill='{colour}'><title>{kept:,}</title></rect>"
                     f"<text x={label_w + bar_w + 6} y={y + 15}>{_e(text)}</text>")
    return f"<svg class='chart waterfall' width={label_w + bar_w + 120} height={len(rows) * height + 4}>{''.join(items)}</svg>"


def _num(x: float) -> str:
    """A number as a reader writes it: 19,320 (not 1.932e+04), 204.5, 0.0123."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


def _stage(out: OutputLayout, index: int, stage: dict[str, Any], samples: dict[str, list[dict[str, Any]]],
           spec: dict[str, dict[str, Any]] | None) -> str:
    name = stage["name"]
    removed = sum(stage["removed"].values())
    head = (f"<h3 id='stage-{index}'>{index + 1}. {_e(name)} <small>({_e(stage['kind'])})</small></h3>"
            f"<p>in {stage['in']:,}, kept {stage['kept']:,}, removed {removed:,}, quarantined {stage['quarantined']:,}; "
            f"{stage['seconds']:.2f} s</p>")
    body = [_reasons(stage)] if stage["removed"] else ["<p>removed nothing</p>"]
    if stage["kind"] in ("mapper", "line_filter"):  # the output keeps only the final text: the rewrite itself is inspect's to show
        body.append(f"<p class=note>What it rewrote, line by line: <code>dataprep inspect PIPELINE.yaml --stage {_e(name)} --sample 100</code></p>")
    table, total = recorded.sample(out, index, name, REPORT_ROWS)
    thresholds = stage.get("thresholds", [])
    if table is not None:
        sampled = f"a sample of {table.num_rows:,} of {total:,} documents" if table.num_rows < total else ""
        body.append(_histograms(table, thresholds, sampled))
        body.append(_sizes(table, sampled or f"all {total:,} documents"))
        tuning = _tuning(table, name, thresholds, total / max(table.num_rows, 1), stage["removed"] if sampled else None)
        if tuning:
            body.append(_tuning_table(tuning, sampled))
    remover = highlight.stage_of(spec) if spec else (None, {})
    for reason in sorted(stage["removed"]):
        body.append(_samples(out, reason, samples.get(reason, []), remover))
    return f"<div class=stage>{head}{''.join(body)}</div>"


def _before_stages(stats: dict[str, Any]) -> tuple[dict[str, int], int, int]:
    """Records set aside by reason and quarantined while reading, and input files passed over."""
    q = stats["quarantine"]
    return stats["input"].get("removed", {}), q["read_rows"] + q["file_rows"], stats["input"].get("passed_over", 0)


def _reading(out: OutputLayout, stats: dict[str, Any], samples: dict[str, list[dict[str, Any]]]) -> str:
    """What happened before the first stage: records the reader set aside (WARC requests, images,
    404s: `read.*` in the ledger), records it quarantined, files it passed over; nothing when the
    first stage took in every record."""
    read = stats["input"]
    set_aside, quarantined, passed_over = _before_stages(stats)
    if not (set_aside or quarantined or passed_over):
        return ""
    body = [f"<p>{read['docs']:,} records in {read['files']:,} file{'s' if read['files'] != 1 else ''}; {ledger.entering(stats):,} went on to the first stage, "
            f"{sum(set_aside.values()):,} set aside (in removed/ with stage <code>read</code>), {quarantined:,} quarantined "
            f"(see <a href='#quarantine'>Quarantine</a>)"
            + (f"; {passed_over:,} files in the input passed over (not of the input format)" if passed_over else "") + "</p>"]
    if set_aside:
        body.append(_reasons({"removed": set_aside}))
    body += [_samples(out, reason, samples.get(reason, []), (None, {})) for reason in sorted(set_aside)]
    return f"<div class=stage><h3 id='reading'>Reading</h3>{''.join(body)}</div>"


def _sizes(table: pa.Table, documents: str, shown: int = 12) -> str:
    """Per sampled document, the bytes a stage took in against the text it kept: for stages that
    record both (`extract`: `html_bytes` and `text_bytes`), what the boilerplate weighed."""
    source = next((n for n in table.column_names if n.endswith("_bytes") and n != "text_bytes"), None)
    if source is None or "text_bytes" not in table.column_names or table.num_rows == 0:
        return ""
    picked = table.take(np.linspace(0, table.num_rows - 1, min(shown, table.num_rows)).astype(int))
    totals = (pc.sum(table.column(source)).as_py() or 0, pc.sum(table.column("text_bytes")).as_py() or 0)
    rows = "".join(f"<tr><td>{_e(row['id'])}</td><td>{_bytes(row[source] or 0)}</td><td>{_bytes(row['text_bytes'] or 0)}</td>"
                   f"<td>{(row['text_bytes'] or 0) / max(row[source] or 0, 1):.1%}</td></tr>" for row in picked.to_pylist())
    return (f"<h4>Sizes, {source} against text_bytes kept</h4><p>{documents}: {_bytes(totals[0])} in, "
            f"{_bytes(totals[1])} of text kept ({totals[1] / max(totals[0], 1):.1%})</p>"
            f"<table class=sizes><tr><th>document (a sample)</th><th>{_e(source)}</th><th>text_bytes</th><th>kept</th></tr>{rows}</table>")


def _reasons(stage: dict[str, Any]) -> str:
    rows = sorted(stage["removed"].items(), key=lambda kv: -kv[1])
    return "<h4>Removed by reason</h4>" + _bars([(r, n, n) for r, n in rows], "{:,.0f}".format, REMOVED)


def _histograms(table: pa.Table, thresholds: list[dict[str, Any]], sampled: str) -> str:
    """A chart per measured value; bounds a stage records per document (a parameter's value, which
    per-language settings may vary) are drawn on their metric's chart, not as charts of their own;
    per-key counts (`pii_counts[EMAIL_ADDRESS]`) are one breakdown."""
    removed = np.array(table.column("reason").to_pylist(), dtype=object) != None  # noqa: E711
    bounds = {t["param"] for t in thresholds} - {t["metric"] for t in thresholds}
    charts = []
    keyed: dict[str, list[tuple[str, int, int]]] = {}
    for name in table.column_names:
        if name in recorded.KEYS or name in bounds:
            continue
        column = table.column(name)
        if "[" in name and name.endswith("]") and recorded.is_numeric(column.type):
            base, key = name[:-1].split("[", 1)
            values = np.nan_to_num(_floats(column))
            keyed.setdefault(base, []).append((key, int(values.sum()), int(values[~removed].sum())))
            continue
        if recorded.is_numeric(column.type):
            charts.append(_histogram(name, _floats(column), removed, [t for t in thresholds if t["metric"] == name and t["bound"] is not None]))
        else:
            charts.append(_top_values(name, column, removed))
    for base, rows in keyed.items():
        rows.sort(key=lambda r: -r[1])
        charts.append(f"<div class=hist><b>{_e(base)} by kind</b> <small>total found (in kept documents: green)</small>"
                      f"{_bars(rows, _num)}</div>")
    of = f" <small>({sampled})</small>" if sampled else ""
    return f"<h4>Measured values{of}</h4><div class=charts>" + "".join(charts) + "</div>"


def _histogram(name: str, values: np.ndarray, removed: np.ndarray, thresholds: list[dict[str, Any]]) -> str:
    """Kept and removed documents stacked per bin, thresholds drawn as dashed lines."""
    known = ~np.isnan(values) & np.isfinite(values)
    v, gone = values[known], removed[known]
    if v.size == 0:
        return f"<div class=hist><b>{_e(name)}</b><p>no values</p></div>"
    # a threshold beyond every value (max_words 100,000) would squash the chart: it is drawn at the edge
    bounds = [t["bound"] for t in thresholds if v.min() <= t["bound"] <= v.max()]
    lo = min([float(np.percentile(v, 0.5))] + bounds)
    hi = max([float(np.percentile(v, 99.5))] + bounds)
    if hi <= lo:  # nearly every value is the same: show the whole range, outliers are the news
        lo, hi = min([float(v.min())] + bounds), max([float(v.max())] + bounds)
    if hi <= lo:
        return f"<div class=hist><b>{_e(name)}</b><p>all {v.size:,} documents: {_num(lo)}</p></div>"
    edges = np.linspace(lo, hi, BINS + 1)
    bins = np.clip(np.digitize(v, edges) - 1, 0, BINS - 1)
    kept_counts = np.bincount(bins[~gone], minlength=BINS)
    gone_counts = np.bincount(bins[gone], minlength=BINS)
    width, height, pad = 360, 120, 18
    scale = height / max(1, (kept_counts + gone_counts).max())
    step = width / BINS
    rects = []
    for i in range(BINS):
        k, g = (max(1.5, c * scale) if c else 0.0 for c in (kept_counts[i], gone_counts[i]))  # one document stays visible
        tip = f"{_num(edges[i])}..{_num(edges[i + 1])}: kept {kept_counts[i]:,}, removed {gone_counts[i]:,}"
        if kept_counts[i]:
            rects.append(f"<rect class=bin x={i * step:.1f} y={height - k:.1f} width={step - 1:.1f} height={k:.1f} fill='{KEPT}'><title>{tip}</title></rect>")
        if gone_counts[i]:
            rects.append(f"<rect class=bin x={i * step:.1f} y={height - k - g:.1f} width={step - 1:.1f} height={g:.1f} fill='{REMOVED}'><title>{tip}</title></rect>")
    lines = []
    for t in thresholds:
        x = min(max((t["bound"] - lo) / (hi - lo), 0), 1) * width
        label = f"{t['param']} {_num(t['bound'])}" + (" (off the axis)" if not lo <= t["bound"] <= hi else "")
        place = f"x={x - 3:.1f} text-anchor=end" if x > width / 2 else f"x={x + 3:.1f}"  # the label stays inside the chart
        lines.append(f"<line class=threshold x1={x:.1f} x2={x:.1f} y1=0 y2={height} stroke='#222' stroke-dasharray='4 3'/>"
                     f"<text {place} y={24 + 12 * (x > width / 2)}>{_e(label)}</text>")
    axis = (f"<text x=0 y={height + 14}>{_num(lo)}</text><text x={width} y={height + 14} text-anchor=end>{_num(hi)}</text>"
            f"<text x={width} y=10 text-anchor=end>{(kept_counts + gone_counts).max():,}</text>")
    clipped = int((v < lo).sum() + (v > hi).sum())
    note = f" ({clipped:,} beyond the axis, in the end bins)" if clipped else ""
    return (f"<div class=hist><b>{_e(name)}</b> <small>{v.size:,} documents{note}</small>"
            f"<svg class='chart histogram' width={width} height={height + pad}>{''.join(rects)}{''.join(lines)}{axis}</svg></div>")


def _top_values(name: str, column: pa.ChunkedArray, removed: np.ndarray) -> str:
    values = np.array(column.to_pylist(), dtype=object)
    present = values != None  # noqa: E711
    if not present.any():
        return f"<div class=hist><b>{_e(name)}</b><p>no values</p></div>"
    labels, counts = np.unique(values[present].astype(str), return_counts=True)
    order = np.argsort(-counts)[:10]
    rows = [(str(labels[i]), int(counts[i]), int((~removed[present] & (values[present].astype(str) == labels[i])).sum()))
            for i in order]
    return f"<div class=hist><b>{_e(name)}</b> <small>most frequent values (kept part green)</small>{_bars(rows, '{:,.0f} kept'.format)}</div>"


def _tuning_table(rows: list[dict[str, Any]], sampled: str) -> str:
    head = "<tr><th>parameter</th><th>metric</th><th>now</th><th>removed by the stage</th>" + "".join(
        f"<th>×{f:g}</th>" for f in TUNING_FACTORS) + "<th>try a value</th></tr>"
    body = []
    for r in rows:
        cells = "".join("<td title='a value the stage refuses'>—</td>" if b is None else
                        f"<td>{b:g}: {_between(n, u)} <small>({n - r['now']:+,})</small></td>"
                        for (b, n), u in zip(r["alternatives"], r["unmeasured"]))
        stops = r["stops"]  # the slider moves over the recorded values (quantiles), each with its count
        data = json.dumps({"stops": stops, "counts": r["counts"], "unmeasured": r["stop_unmeasured"], "now": r["now"]})
        slider = (f"<input type=range min=0 max={len(stops) - 1} step=1 value={stops.index(r['bound'])} data-tune='{_e(data)}'>"
                  f"<output class=tuned></output>")
        body.append(f"<tr class=tune><td>{_e(r['param'])} ({r['side']})</td><td>{_e(r['metric'])}</td><td>{r['bound']:g}</td>"
                    f"<td>{r['now']:,} <small>({r['by_rule']:,} by this rule)</small></td>{cells}<td>{slider}</td></tr>")
    source = (f"estimated from the recorded values of {sampled}" if sampled else "computed from every document's recorded value")
    return ("<h4>Threshold tuning</h4><p class=note>Documents this stage would remove with one threshold changed "
            f"({source}, no rerun). A range: the stage did not measure its later rules on some documents a "
            "looser bound lets through (an earlier rule had removed them, as in datatrove), so it would remove "
            "at least the first figure and at most the second.</p>"
            f"<table class=tuning>{head}{''.join(body)}</table>")


def _samples(out: OutputLayout, reason: str, rows: list[dict[str, Any]], remover: tuple[type[Stage] | None, dict[str, Any]]) -> str:
    if not rows:
        return ""
    items = []
    for row in rows:
        details = json.loads(row["details"]) if row.get("details") else {}
        text = row["text"] or ""
        spans = highlight.spans(text, reason, details, *remover)
        start = max(0, spans[0][0] - CONTEXT_CHARS) if spans and spans[0][1] > SHOWN_CHARS else 0
        shown = text[start:start + SHOWN_CHARS]
        marked = _marked(shown, [(a - start, min(b - start, len(shown)), label) for a, b, label in spans if start <= a < start + len(shown)])
        extra = ""
        other_id = details.get("duplicate_of")
        if other_id:
            original = find(out.kept, other_id) or find(out.removed, other_id)
            if original:
                theirs = (original["text"] or "")[:SHOWN_CHARS]
                marked = _marked(shown, highlight.shared_ngram_spans(shown, theirs))
                extra = f"<p>the document it duplicates, {_e(other_id)}:</p><pre class=doc>{_marked(theirs, highlight.shared_ngram_spans(theirs, shown))}</pre>"
        if start:
            marked = f"[… {start:,} characters before the first highlight]\n{marked}"
        more = f" … ({len(text):,} characters)" if start + SHOWN_CHARS < len(text) else ""
        facts = ", ".join(f"{k}={_e(json.dumps(v, ensure_ascii=False))}" for k, v in details.items())
        named = next((row[c] for c in NAMING_COLUMNS if row.get(c)), None)
        naming = f" <small>{_e(named)}</small>" if named else ""
        items.append(f"<div class=sample><p><b>{_e(row['id'])}</b>{naming} {facts}</p><pre class=doc>{marked}{more}</pre>{extra}</div>")
    return f"<details class=samples><summary>{_e(reason)}: {len(rows)} sampled</summary>{''.join(items)}</details>"


def _marked(text: str, spans: list[highlight.Span]) -> str:
    parts, at = [], 0
    for start, end, label in spans:
        parts.append(_e(text[at:start]))
        parts.append(f"<mark title='{_e(label)}'>{_e(text[start:end])}</mark>")
        at = end
    parts.append(_e(text[at:]))
    return "".join(parts)


def _quarantine(out: OutputLayout, shown: int = 50) -> str:
    """What could not be processed, by file and error (the most documents first)."""
    files = out.parts(out.quarantine)
    if not files:
        return "<p>nothing was quarantined</p>"

    def by_file_and_error(table: pa.Table) -> pa.Table:
        return table.group_by(["source", "error"]).aggregate([("rows", "sum")]).rename_columns(["source", "error", "rows"])

    # grouped part by part, then the groups: the process holds one part and the (file, error) pairs
    groups = by_file_and_error(pa.concat_tables(storage.each(lambda f: by_file_and_error(storage.read_table(f, columns=["source", "rows", "error"])),
                                                             files))).sort_by([("rows", "descending")])
    rows = "".join(f"<tr><td>{_e(r['source'])}</td><td>{_num(r['rows'] or 0)}</td><td>{_e(r['error'])}</td></tr>"
                   for r in groups.slice(0, shown).to_pylist())
    more = f"<p class=note>{groups.num_rows - shown:,} more (file, error) pairs in quarantine/</p>" if groups.num_rows > shown else ""
    return (f"<p>{pc.sum(groups.column('rows')).as_py() or 0:,} documents in {pc.count_distinct(groups.column('source'), mode='all').as_py():,} files"
            f"</p><table class=quarantine><tr><th>file</th><th>documents</th><th>error</th></tr>{rows}</table>{more}")


def _metadata(stats: dict[str, Any], identity: dict[str, Any]) -> str:
    pipeline = {"name": identity.get("pipeline") or stats.get("pipeline"), **identity.get("options", {}), "stages": identity.get("stages", [])}
    versions = {"dataprep": stats.get("version")}
    for package in ("ray", "pyarrow", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["python"] = platform.python_version()
    timing = "".join(f"<tr><td>{_e(s['name'])}</td><td>{s['seconds']:.2f}</td><td>{s['in'] / s['seconds'] if s['seconds'] else 0:,.0f}</td></tr>"
                     for s in stats["stages"])
    cluster = stats.get("ray") or {}
    return (f"<h3>Pipeline</h3><pre class=yaml>{_e(yaml.safe_dump(pipeline, sort_keys=False, allow_unicode=True))}</pre>"
            f"<h3>Versions</h3><pre>{_e(json.dumps(versions, indent=1))}</pre>"
            f"<p>fingerprint {_e(str(identity.get('fingerprint')))}; wall time {stats.get('seconds', 0):,.1f} s{_attempts(stats)}; "
            f"Ray: {_e(json.dumps(cluster))}</p>"
            f"<h3>Time per stage</h3><table class=timing><tr><th>stage</th><th>seconds (summed over tasks)</th><th>docs/s</th></tr>{timing}</table>")


def _section(anchor: str, title: str, body: str) -> str:
    return f"<section id={anchor}><h2>{_e(title)}</h2>{body}</section>"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h2{border-bottom:2px solid #ccc}.stage{border-top:1px solid #ddd;margin-top:1em}
svg text{font-size:11px;fill:#333}.charts{display:flex;flex-wrap:wrap;gap:12px}
.hist{border:1px solid #eee;padding:4px}.hist svg{display:block}
pre.doc{white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:6px;max-height:24em;overflow:auto}
mark{background:#ffd27a}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
.summary{font-size:16px}output.tuned{display:inline-block;min-width:14em;margin-left:6px}
"""

# The slider: at each stop (a recorded value), the count of documents the stage would remove
# there, computed in Python from the recorded values (exact, or from a sample the page names).
SCRIPT = """
document.querySelectorAll('tr.tune').forEach(function(row){
  var input=row.querySelector('input'), out=row.querySelector('output');
  var data=JSON.parse(input.dataset.tune);
  function update(){
    var i=parseInt(input.value), b=data.stops[i], total=data.counts[i], d=total-data.now, u=data.unmeasured[i];
    out.textContent=(+b.toPrecision(4))+': '+total.toLocaleString()+(u?'–'+(total+u).toLocaleString():'')+' ('+(d>=0?'+':'')+d+')';
  }
  input.addEventListener('input',update); update();
});
"""
