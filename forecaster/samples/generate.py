"""Write sample logs: counts from the traffic model, expanded to requests, rendered per format.

The only module of :mod:`forecaster.samples` that touches the disk. Deterministic: the same
arguments give the same bytes (gzip output too: no name or time in the gzip header).
"""

from __future__ import annotations

import gzip
import logging
import time
import zlib
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, cast

import numpy as np
import pandas as pd

from .catalog import Api, default_catalog
from .events import Event, _ts, calendar, default_events, events_csv, events_yaml
from .expand import expand, series_load
from .text import write_lines
from .traffic import Series, buckets, expected_counts, generate_counts, series_of
from .writers import Pools, SampleWriter, all_writers, get_writer
from .writers.base import Render
from .writers.counts import HEADER as COUNTS_HEADER, counts_lines

log = logging.getLogger(__name__)

BLOCK_REQUESTS = 500_000     # requests expanded and rendered at a time (bounded memory)


@dataclass
class FileReport:
    format: str
    path: str
    lines: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class GenerateReport:
    start: str
    end: str
    step: str
    seed: int
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def parse_formats(spec: str | list[str] | None) -> list[SampleWriter]:
    """'a,b' or a list of names -> writers (all when empty); unknown names list the known ones."""
    if not spec:
        return list(all_writers().values())
    names = spec.split(",") if isinstance(spec, str) else [n for s in spec for n in s.split(",")]
    return [get_writer(n.strip()) for n in names if n.strip()]


def line_scale(start: pd.Timestamp, end: pd.Timestamp, step: str, lines: int, catalog: tuple[Api, ...],
               events: list[Event]) -> dict[str, float]:
    """Per-API rate multipliers giving each API about ``lines`` requests over the window."""
    series = series_of(catalog)
    lam = expected_counts(buckets(start, end, step), step, series, events)
    totals: dict[str, float] = {}
    for s, row in zip(series, lam):
        totals[s.api.name] = totals.get(s.api.name, 0.0) + float(row.sum())
    return {a: lines / t for a, t in totals.items() if t > 0}


def _open(path: Path, gz: bool, stack: ExitStack) -> BinaryIO:
    raw = stack.enter_context(open(path, "wb"))
    if gz:
        return cast(BinaryIO, stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                                compresslevel=6)))
    return raw


def generate(out_dir: Path | str, formats: str | list[str] | None = None, start: str = "2026-11-23", days: float = 7,
             step: str = "5min", seed: int = 0, lines: int | None = None, gz: bool = False,
             catalog: tuple[Api, ...] | None = None, names: dict[str, str] | None = None,
             write_events: bool = True) -> GenerateReport:
    """Generate sample files into ``out_dir``; see the CLI ``forecaster samples generate``."""
    t0 = time.perf_counter()
    catalog = catalog or default_catalog()
    writers = parse_formats(formats)
    names = names or {}
    unknown = sorted(set(names) - {w.name for w in writers} - {"events"})
    if unknown:
        raise ValueError(f"file names given for format(s) not generated: {unknown}")
    lo = _ts(start)
    hi = lo + pd.Timedelta(days=days)
    events = default_events(lo, hi, catalog)
    scale = line_scale(lo, hi, step, lines, catalog, events) if lines else None
    counts = generate_counts(lo, hi, step, seed, catalog, events, scale)
    report = GenerateReport(str(lo), str(hi), step, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""

    def path_of(w: SampleWriter) -> Path:
        return out / (names.get(w.name, w.file_name) + suffix)

    for w in writers:
        if w.aggregated:
            report.files.append(_write_counts(path_of(w), counts, gz, w.name))
    groups: dict[tuple[str, ...], list[SampleWriter]] = {}
    for w in writers:
        if not w.aggregated:
            apis = tuple(a.name for a in catalog if w.name in a.formats)
            if not apis:
                log.warning("no API of the catalog writes format %s; %s will be empty", w.name, path_of(w))
            groups.setdefault(apis, []).append(w)
    series = series_of(catalog)
    sid_all = np.tile(np.arange(len(series)), len(counts) // len(series))   # counts are time-major
    load_all = series_load(counts, sid_all)
    step_ms = int(pd.Timedelta(step) / pd.Timedelta(milliseconds=1))
    for apis, ws in groups.items():
        report.files += _write_group(apis, ws, counts, sid_all, load_all, series, step_ms, seed, gz, path_of)
    if write_events:
        for kind, render in (("csv", events_csv), ("yaml", events_yaml)):
            p = out / names.get("events", f"events.{kind}")
            p = p.with_suffix("." + kind)
            body = render(events).encode()
            p.write_bytes(body)
            report.files.append(FileReport(f"events_{kind}", str(p), len(calendar(events)), len(body)))
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _write_counts(path: Path, counts: pd.DataFrame, gz: bool, name: str) -> FileReport:
    t = time.perf_counter()
    fr = FileReport(name, str(path))
    with ExitStack() as stack:
        fh = _open(path, gz, stack)
        fh.write(COUNTS_HEADER.encode())
        body = counts_lines(counts)
        fr.bytes = len(COUNTS_HEADER) + write_lines(fh, body)
        fr.lines = len(body)
    fr.seconds = round(time.perf_counter() - t, 3)
    return fr


def _write_group(apis: tuple[str, ...], ws: list[SampleWriter], counts: pd.DataFrame, sid_all: np.ndarray,
                 load_all: np.ndarray, series: list[Series], step_ms: int, seed: int, gz: bool,
                 path_of: Callable[[SampleWriter], Path]) -> list[FileReport]:
    """Expand the requests of ``apis`` block by block and render each block in every format of ``ws``."""
    t = time.perf_counter()
    key = zlib.crc32("|".join(apis).encode())
    mask = counts["api"].isin(list(apis)).to_numpy() & (counts["requests"].to_numpy() > 0)
    rows, sid, load = counts[mask], sid_all[mask], load_all[mask]
    # Blocks end on bucket boundaries, so sorting within a block orders the whole file.
    per_bucket = rows.groupby("ts", sort=True)["requests"].sum()
    block_of_bucket = (np.cumsum(per_bucket.to_numpy()) - per_bucket.to_numpy()) // BLOCK_REQUESTS
    block = pd.Series(block_of_bucket, index=per_bucket.index).reindex(rows["ts"]).to_numpy()
    pools = Pools.make(np.random.default_rng(np.random.SeedSequence([seed, 4, key])))
    reports = [FileReport(w.name, str(path_of(w))) for w in ws]
    with ExitStack() as stack:
        handles = [_open(path_of(w), gz, stack) for w in ws]
        for i in np.unique(block) if len(block) else []:
            sel = block == i
            rng = np.random.default_rng(np.random.SeedSequence([seed, 3, key, int(i)]))
            b = expand(rows[sel], sid[sel], load[sel], step_ms, series, rng)
            for w, fh, fr in zip(ws, handles, reports):
                body = cast(Render, w.render)(b, pools)   # ws are the rendering writers
                fr.bytes += write_lines(fh, body)
                fr.lines += len(body)
    for fr in reports:
        fr.seconds = round(time.perf_counter() - t, 3)
    return reports
