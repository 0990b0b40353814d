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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

KINDS = ("malformed", "wrong_type", "null_key", "duplicate_key", "out_of_range", "late", "line_break", "bom",
         "truncated", "big_integer", "non_finite", "resent", "emptied")
TEXT_ONLY = ("malformed", "wrong_type", "line_break", "bom", "truncated", "big_integer")  # not in Parquet
FILE_KINDS = ("bom", "truncated", "emptied")  # befall a whole file (with the rate's probability), not a record
# What each kind does, and so where a reader must put the record (tests check every entry of the log):
#   malformed, truncated, wrong_type, big_integer, non_finite, late: quarantined when read
#   null_key, duplicate_key, resent (a key of an earlier day's file sent again), out_of_range made
#   negative: quarantined by validation; out_of_range made larger: published, flagged by a WARN rule
#   line_break (a quoted line break inside a text field), bom (a byte order mark): valid, published
#   emptied (the file holds no records): nothing to read
BIG_INTEGERS = ("99999999999999999999", "9223372036854775808", "-9223372036854775809", "1e19")
NON_FINITE = ("Infinity", "-Infinity", "1e309", "NaN")


@dataclass(frozen=True)
class FeedSpec:
    """What a simulator knows about one feed: its key, numeric and date columns."""

    name: str
    key: tuple[str, ...]
    date_column: str | None
    numeric: tuple[str, ...] = ()  # columns an out-of-range defect makes negative
    typed: tuple[str, ...] = ()  # non-text columns a wrong-type defect can spoil
    integers: tuple[str, ...] = ()  # bigint columns a big_integer defect overflows
    doubles: tuple[str, ...] = ()  # double columns a non_finite defect makes infinite or NaN
    texts: tuple[str, ...] = ()  # free-text columns a line_break defect breaks


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

    def supersede(self, feed: str, day: str, line: int) -> None:
        """Forget the defects of the record starting at ``line``: a later defect destroyed that record."""
        self.entries = [e for e in self.entries if (e["feed"], e["day"], e["line"]) != (feed, day, line)]

    def write(self, path: Path) -> None:
        path.write_text("".join(json.dumps(e) + "\n" for e in self.entries))


def day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def write_partitioned(con: duckdb.DuckDBPyConnection, query: str, folder: Path, fmt: str,
                      days: list[date], on_file: Callable[[], None] | None = None) -> None:
    """Write a query with a ``_day`` column as one file per day (an empty file on days without rows);
    ``on_file`` is called as each day's file is in place."""
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
        produced = sorted((staging / f"_day={day.isoformat()}").glob("*"), key=lambda f: (len(f.name), f.name))
        target = folder / f"{day.isoformat()}.{fmt}"
        if len(produced) == 1:
            produced[0].replace(target)
        elif produced:
            target.write_bytes(_joined(produced, fmt))
        else:
            target.write_bytes(empty)
        if on_file is not None:
            on_file()
    shutil.rmtree(staging, ignore_errors=True)


def _joined(parts: list[Path], fmt: str) -> bytes:
    """One day's file from the several DuckDB wrote for it (data_0, data_1, ...): DuckDB keeps at most
    ``partitioned_write_max_open_files`` partitions open and starts a new file when it reopens one,
    which happens from scale factor 0.1 up. Every part is kept, in DuckDB's order."""
    if fmt == "csv":  # one header, then every part's records
        first, *rest = (part.read_bytes() for part in parts)
        return first + b"".join(text.split(b"\n", 1)[1] if b"\n" in text else b"" for text in rest)
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.concat_tables([pq.read_table(part) for part in parts]), sink)
    return sink.getvalue()


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
def injected_kinds(fmt: str, defects: Defects) -> list[str]:
    """The defect kinds ``inject`` applies to files of a format (none when the rate is zero)."""
    if defects.rate <= 0:
        return []
    kinds = [k for k in defects.kinds if fmt in ("csv", "jsonl") or k not in TEXT_ONLY]
    return [k for k in kinds if k != "line_break"] if fmt != "csv" else kinds


def inject(folder: Path, spec: FeedSpec, fmt: str, defects: Defects, log: DefectLog,
           on_file: Callable[[], None] | None = None) -> None:
    """Corrupt about ``rate`` of the records of every file in a feed folder (and, for the file kinds,
    about ``rate`` of the files), deterministically; log every defect with its file and first line.
    ``on_file`` is called as each file is done (never when ``injected_kinds`` is empty: nothing is done)."""
    kinds = injected_kinds(fmt, defects)
    if not kinds:
        return
    injector = {"csv": _inject_csv, "jsonl": _inject_jsonl}.get(fmt, _inject_parquet)
    previous: Sequence[tuple] = []  # keys of the previous file's untouched records, for 'resent'
    for path in sorted(folder.glob(f"*.{fmt}")):
        rng = random.Random(f"{defects.seed}:{spec.name}:{path.stem}")
        record_kinds = [k for k in kinds if k not in FILE_KINDS]
        file_kinds = [k for k in kinds if k in FILE_KINDS and rng.random() < defects.rate]
        if "emptied" in file_kinds:
            _empty(path, fmt)
            log.add(spec.name, path.stem, "emptied", None, "every record removed")
            previous = []
        else:
            previous = injector(path, spec, defects.rate, record_kinds, rng, log, previous)
            if "bom" in file_kinds and fmt in ("csv", "jsonl"):
                path.write_bytes("\ufeff".encode() + path.read_bytes())
                log.add(spec.name, path.stem, "bom", None, "a UTF-8 byte order mark before the first line")
            if "truncated" in file_kinds and fmt in ("csv", "jsonl"):
                _truncate(path, spec, fmt, log)
        if on_file is not None:
            on_file()


def _empty(path: Path, fmt: str) -> None:
    if fmt == "csv":
        path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    elif fmt == "jsonl":
        path.write_text("", encoding="utf-8")
    else:
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(path).slice(0, 0), path)


def _truncate(path: Path, spec: FeedSpec, fmt: str, log: DefectLog) -> None:
    """Cut the last record short and drop the file's final newline, as a writer that died would."""
    text = path.read_text(encoding="utf-8")
    if fmt == "csv":
        if _last_record_line(text) <= 1:
            return  # the header only
        first_line = _last_record_line(text)
    else:
        if not text.lstrip("\ufeff").strip():
            return  # no record (a byte order mark alone is not one)
        first_line = text.rstrip("\n").count("\n") + 1
    body = text.rstrip("\r\n")
    cut = body[:-1] if not body.endswith('"') else body[:-2]  # drop the last character (of the last field)
    path.write_text(cut, encoding="utf-8")
    log.supersede(spec.name, path.stem, first_line)  # what the cut record held before no longer matters
    log.add(spec.name, path.stem, "truncated", first_line, "last record cut short, no final newline")


def _last_record_line(text: str) -> int:
    """The physical line on which the last CSV record of ``text`` starts."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 0
    while True:
        before = reader.line_num
        try:
            next(reader)
        except StopIteration:
            return start
        start = before + 1


def _earlier(day_text: str, rng: random.Random) -> str:
    return (date.fromisoformat(day_text[:10]) - timedelta(days=rng.randint(5, 40))).isoformat() + day_text[10:]


def _spoil_record(row: dict, spec: FeedSpec, kind: str, rng: random.Random, previous: Sequence[tuple]) -> str:
    """Change one record in place for a value-level defect; returns what was done ('' if nothing)."""
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
    if kind == "big_integer" and spec.integers:
        column = rng.choice(spec.integers)
        row[column] = rng.choice(BIG_INTEGERS)
        return f"{column} set to {row[column]}, beyond int64"
    if kind == "non_finite" and spec.doubles:
        column = rng.choice(spec.doubles)
        row[column] = rng.choice(NON_FINITE)
        return f"{column} set to {row[column]}"
    if kind == "resent" and previous:
        key = rng.choice(previous)
        row.update(zip(spec.key, key, strict=True))
        return f"key {list(key)} of the previous file sent again"
    if kind == "line_break":
        columns = [c for c in spec.texts if row.get(c)]
        if columns:
            column = rng.choice(columns)
            text = str(row[column])
            cut = rng.randint(0, len(text))
            row[column] = text[:cut] + rng.choice(["\n", "\r\n"]) + text[cut:]
            return f"a line break inside {column}"
    return ""


def _csv_record(values: list) -> str:
    buffer = io.StringIO()  # the terminator's characters are what the writer quotes: '\r\n' quotes both
    csv.writer(buffer, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()[:-2]


def _inject_csv(path: Path, spec: FeedSpec, rate: float, kinds: list[str], rng: random.Random,
                log: DefectLog, previous: Sequence[tuple]) -> Sequence[tuple]:
    lines = path.read_text(encoding="utf-8").splitlines()  # generated records hold no line breaks
    if len(lines) <= 1:
        return []
    header = next(csv.reader([lines[0]]))
    out = [lines[0]]
    line = 2  # the physical line the next record starts on
    untouched: list[str] = []

    def emit(record: str) -> int:
        nonlocal line
        out.append(record)
        first, line = line, line + record.count("\n") + 1
        return first

    for text in lines[1:]:
        if not kinds or rng.random() >= rate:
            untouched.append(text)
            emit(text)
            continue
        kind = rng.choice(kinds)
        if kind == "malformed":  # one bad record: never an open quote, which would swallow the records after it
            fields = next(csv.reader([text]))
            broken = rng.choice([text + ',"stray"quote', _csv_record(fields[:-2]), text + ",extra,fields"])
            log.add(spec.name, path.stem, kind, emit(broken), "line broken")
            continue
        if kind == "duplicate_key":
            emit(text)
            log.add(spec.name, path.stem, kind, emit(text), "record repeated")
            continue
        row = dict(zip(header, next(csv.reader([text])), strict=False))
        detail = _spoil_record(row, spec, kind, rng, previous)
        first = emit(_csv_record([row[h] for h in header]))
        if detail:
            log.add(spec.name, path.stem, kind, first, detail)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return _Keys(untouched, lambda text: _key(dict(zip(header, next(csv.reader([text])), strict=False)), spec))


def _inject_jsonl(path: Path, spec: FeedSpec, rate: float, kinds: list[str], rng: random.Random,
                  log: DefectLog, previous: Sequence[tuple]) -> Sequence[tuple]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out: list[str] = []
    untouched: list[str] = []
    for text in lines:
        if not kinds or rng.random() >= rate:
            out.append(text)
            untouched.append(text)
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
        detail = _spoil_record(flat, spec, kind, rng, previous)
        if kind in ("big_integer", "non_finite"):  # written as JSON number literals, not strings
            for column in (*spec.integers, *spec.doubles):
                if isinstance(flat.get(column), str) and column in detail:
                    flat[column] = _JsonNumber(flat[column])
        out.append(_dumps(_unflatten(flat)))
        if detail:
            log.add(spec.name, path.stem, kind, number, detail)
    path.write_text("".join(line + "\n" for line in out), encoding="utf-8")
    return _Keys(untouched, lambda text: _key(_flatten(json.loads(text)), spec))


class _Keys(Sequence):
    """The keys of a file's untouched records, for 'resent': a record is parsed only when a defect
    picks it (parsing every record of every file was most of the injection's time)."""

    def __init__(self, records: list[str], key_of: Callable[[str], tuple]):
        self.records, self.key_of = records, key_of

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index):  # random.choice indexes by position
        return self.key_of(self.records[index])


def _key(row: dict, spec: FeedSpec) -> tuple:
    return tuple(row.get(k) for k in spec.key)


class _JsonNumber(str):
    """A number written into JSON as its literal text: 99999999999999999999, Infinity, 1e309."""


def _dumps(record: dict) -> str:
    literals: dict[str, str] = {}

    def mark(value):
        if isinstance(value, _JsonNumber):
            token = f"@@number{len(literals)}@@"
            literals[f'"{token}"'] = str(value)
            return token
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        return value

    text = json.dumps(mark(record))
    for token, literal in literals.items():
        text = text.replace(token, literal)
    return text


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
                    log: DefectLog, previous: Sequence[tuple]) -> Sequence[tuple]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if table.num_rows == 0:
        return []
    floating = {f.name for f in table.schema if pa.types.is_floating(f.type)}
    rows = table.to_pylist()
    out = []
    untouched: list[tuple] = []
    for row in rows:
        if not kinds or rng.random() >= rate:
            out.append(row)
            untouched.append(tuple(row.get(k) for k in spec.key))
            continue
        kind = rng.choice(kinds)
        if kind == "duplicate_key":
            out += [row, dict(row)]
            log.add(spec.name, path.stem, kind, len(out), "record repeated")
            continue
        if kind == "late" and spec.date_column and row.get(spec.date_column):
            row[spec.date_column] = row[spec.date_column] - timedelta(days=rng.randint(5, 40))
            detail = f"{spec.date_column} moved weeks earlier"
        elif kind == "non_finite":
            columns = [c for c in spec.doubles if c in floating]
            detail = ""
            if columns:
                column = rng.choice(columns)
                row[column] = float(rng.choice(NON_FINITE))
                detail = f"{column} set to {row[column]}"
        else:
            detail = _spoil_record(row, spec, kind, rng, previous)
        out.append(row)
        if detail:
            log.add(spec.name, path.stem, kind, len(out), detail)
    pq.write_table(pa.Table.from_pylist(out, schema=table.schema), path)
    return untouched


def count_records(path: Path) -> int:
    """Records in a feed file as its format defines them: CSV per RFC 4180 (a quoted line break does not
    end a record), non-blank JSON lines, Parquet rows."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text, newline=""))
    return sum(1 for row in reader if row) - 1
