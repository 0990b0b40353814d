"""Writing an operational system's daily feed files, with realistic defects when asked.

Every simulator (ERP, product events, HR) produces a set of feeds: one file per business day,
``<root>/<system>/<feed>/<YYYY-MM-DD>.<csv|jsonl|parquet>``, a header-only (or empty) file for a
day without records. ``Defects`` corrupts a deterministic share of records, by kind, and records
the ground truth of what it did in ``<root>/<system>/_defects.jsonl`` so tests can check that every
defect ends up in a quarantine. This module knows nothing about the mesh.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

KINDS = ("malformed", "wrong_type", "null_key", "duplicate_key", "out_of_range", "late")
TEXT_ONLY = ("malformed", "wrong_type")


@dataclass(frozen=True)
class FeedSpec:
    """What a simulator knows about one feed: its key, numeric and date columns."""

    name: str
    key: tuple[str, ...]
    date_column: str | None
    numeric: tuple[str, ...] = ()  # columns an out-of-range defect makes negative
    typed: tuple[str, ...] = ()  # non-text columns a wrong-type defect can spoil


@dataclass(frozen=True)
class Defects:
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    seed: int = 7

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"defect rate must be between 0 and 1, found {self.rate}")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown defect kinds {unknown}; expected some of {', '.join(KINDS)}")

    @classmethod
    def parse(cls, rate: float, kinds: str | Iterable[str] | None, seed: int = 7) -> Defects:
        if kinds is None or kinds == "" or kinds == "all":
            chosen: tuple[str, ...] = KINDS
        elif isinstance(kinds, str):
            chosen = tuple(k.strip() for k in kinds.split(",") if k.strip())
        else:
            chosen = tuple(kinds)
        return cls(rate, chosen, seed)

    def describe(self) -> dict:
        return {"rate": self.rate, "kinds": list(self.kinds), "seed": self.seed}


@dataclass
class DefectLog:
    entries: list[dict] = field(default_factory=list)

    def add(self, feed: str, day: str, kind: str, line: int | None, detail: str) -> None:
        self.entries.append({"feed": feed, "day": day, "kind": kind, "line": line, "detail": detail})

    def write(self, path: Path) -> None:
        path.write_text("".join(json.dumps(e) + "\n" for e in self.entries))


def day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def write_partitioned(con: duckdb.DuckDBPyConnection, query: str, folder: Path, fmt: str,
                      days: list[date]) -> None:
    """Write a query with a ``_day`` column as one file per day (an empty file on days without rows)."""
    staging = folder.with_name(folder.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    if fmt == "jsonl":
        options = "FORMAT json"
    con.execute(f"COPY ({query}) TO '{staging}' ({options}, PARTITION_BY (_day), OVERWRITE_OR_IGNORE true)")
    folder.mkdir(parents=True)
    columns = [c for c in con.sql(f"SELECT * FROM ({query}) LIMIT 0").to_arrow_table().column_names
               if c != "_day"]
    empty = _empty_file(con, query, fmt, columns)
    for day in days:
        produced = list((staging / f"_day={day.isoformat()}").glob("*"))
        target = folder / f"{day.isoformat()}.{fmt}"
        if produced:
            produced[0].replace(target)
        else:
            target.write_bytes(empty)
    shutil.rmtree(staging, ignore_errors=True)


def _empty_file(con: duckdb.DuckDBPyConnection, query: str, fmt: str, columns: list[str]) -> bytes:
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(columns)
        return buffer.getvalue().encode()
    if fmt == "jsonl":
        return b""
    import pyarrow.parquet as pq

    table = con.sql(f"SELECT * EXCLUDE (_day) FROM ({query}) LIMIT 0").to_arrow_table()
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# -- defects ------------------------------------------------------------------------------------
def inject(folder: Path, spec: FeedSpec, fmt: str, defects: Defects, log: DefectLog) -> None:
    """Corrupt about ``rate`` of the records of every file in a feed folder, deterministically."""
    if defects.rate <= 0:
        return
    kinds = [k for k in defects.kinds if fmt in ("csv", "jsonl") or k not in TEXT_ONLY]
    if not kinds:
        return
    for path in sorted(folder.glob(f"*.{fmt}")):
        rng = random.Random(f"{defects.seed}:{spec.name}:{path.stem}")
        if fmt == "csv":
            _inject_csv(path, spec, defects.rate, kinds, rng, log)
        elif fmt == "jsonl":
            _inject_jsonl(path, spec, defects.rate, kinds, rng, log)
        else:
            _inject_parquet(path, spec, defects.rate, kinds, rng, log)


def _earlier(day_text: str, rng: random.Random) -> str:
    return (date.fromisoformat(day_text[:10]) - timedelta(days=rng.randint(5, 40))).isoformat() + day_text[10:]


def _spoil_record(row: dict, spec: FeedSpec, kind: str, rng: random.Random) -> str:
    """Change one record in place for a value-level defect; returns what was done."""
    if kind == "null_key":
        column = rng.choice(spec.key)
        row[column] = None
        return f"{column} emptied"
    if kind == "out_of_range" and spec.numeric:
        column = rng.choice(spec.numeric)
        value = float(row.get(column) or 0)
        if rng.random() < 0.5:  # impossible: breaks an ERROR rule and is quarantined
            row[column] = -abs(value) - 1
            return f"{column} made negative"
        row[column] = abs(value) * 1000 + 1000  # implausible: passes, but a WARN rule flags it
        return f"{column} made a thousand times larger"
    if kind == "wrong_type" and spec.typed:
        column = rng.choice(spec.typed)
        row[column] = rng.choice(["n/a", "12x", "??", "one"])
        return f"{column} set to text"
    if kind == "late" and spec.date_column and row.get(spec.date_column):
        row[spec.date_column] = _earlier(str(row[spec.date_column]), rng)
        return f"{spec.date_column} moved weeks earlier"
    return ""


def _inject_csv(path: Path, spec: FeedSpec, rate: float, kinds: list[str], rng: random.Random,
                log: DefectLog) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) <= 1:
        return
    header = next(csv.reader([lines[0]]))
    out = [lines[0]]
    for text in lines[1:]:
        if rng.random() >= rate:
            out.append(text)
            continue
        kind = rng.choice(kinds)
        number = len(out) + 1
        if kind == "malformed":
            broken = rng.choice([text + ',"stray"quote', text.rsplit(",", 2)[0], text + ",extra,fields"])
            out.append(broken)
            log.add(spec.name, path.stem, kind, number, "line broken")
            continue
        if kind == "duplicate_key":
            out.append(text)
            out.append(text)
            log.add(spec.name, path.stem, kind, number + 1, "record repeated")
            continue
        row = dict(zip(header, next(csv.reader([text])), strict=False))
        detail = _spoil_record(row, spec, kind, rng)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(["" if row[h] is None else row[h] for h in header])
        out.append(buffer.getvalue())
        if detail:
            log.add(spec.name, path.stem, kind, number, detail)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _inject_jsonl(path: Path, spec: FeedSpec, rate: float, kinds: list[str], rng: random.Random,
                  log: DefectLog) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out: list[str] = []
    for text in lines:
        if rng.random() >= rate:
            out.append(text)
            continue
        kind = rng.choice(kinds)
        number = len(out) + 1
        if kind == "malformed":
            out.append(text[: max(1, len(text) // 2)])
            log.add(spec.name, path.stem, kind, number, "line truncated")
            continue
        if kind == "duplicate_key":
            out += [text, text]
            log.add(spec.name, path.stem, kind, number + 1, "event repeated")
            continue
        record = json.loads(text)
        flat = _flatten(record)
        detail = _spoil_record(flat, spec, kind, rng)
        out.append(json.dumps(_unflatten(flat)))
        if detail:
            log.add(spec.name, path.stem, kind, number, detail)
    path.write_text("".join(line + "\n" for line in out), encoding="utf-8")


def _flatten(record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _unflatten(flat: dict) -> dict:
    record: dict = {}
    for name, value in flat.items():
        parts = name.split(".")
        node = record
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return record


def _inject_parquet(path: Path, spec: FeedSpec, rate: float, kinds: list[str], rng: random.Random,
                    log: DefectLog) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if table.num_rows == 0:
        return
    rows = table.to_pylist()
    out = []
    for row in rows:
        if rng.random() >= rate:
            out.append(row)
            continue
        kind = rng.choice(kinds)
        if kind == "duplicate_key":
            out += [row, dict(row)]
            log.add(spec.name, path.stem, kind, len(out), "record repeated")
            continue
        if kind == "late" and spec.date_column and row.get(spec.date_column):
            row[spec.date_column] = row[spec.date_column] - timedelta(days=rng.randint(5, 40))
            detail = f"{spec.date_column} moved weeks earlier"
        else:
            detail = _spoil_record(row, spec, kind, rng)
        out.append(row)
        if detail:
            log.add(spec.name, path.stem, kind, len(out), detail)
    pq.write_table(pa.Table.from_pylist(out, schema=table.schema), path)
