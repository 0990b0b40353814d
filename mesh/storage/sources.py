"""Reading operational feeds: one file per partition, typed by the contract, every record accounted for.

A source-aligned product names its feeds in its contract (system, feed, format, typed columns and
the column holding each record's business date). For a run window the reader opens the window's
files (plus ``lateness_days`` of later files, whose late records belong to the window), types each
column, and turns what it cannot use into quarantine entries with the file and line: malformed
lines, values of the wrong type, records dated outside their feed's reach. Records accepted carry
their provenance in the frame's index (see ``LINEAGE_BASE``) so later rejections can cite the line.
"""

from __future__ import annotations

import csv
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mesh.contracts.contract import SourceFeed
from mesh.contracts.partitions import KEY_FORMATS, RunWindow, format_key
from mesh.errors import MeshError, NotFound
from mesh.storage.quarantine import Entry, clip, record_json

MESH_SYSTEM = "mesh"  # the platform's own observations, not files

# Source rows are indexed from LINEAGE_BASE * (source number + 1), far from any index a function
# would build itself; output rows whose index falls in that range can be traced to file and line.
LINEAGE_BASE = 10**12
FEED_READERS = 4  # Parquet feed files read at once


@dataclass
class Lineage:
    files: list[str] = field(default_factory=list)
    file_of_row: list[np.ndarray] = field(default_factory=list)
    line_of_row: list[np.ndarray] = field(default_factory=list)

    def locate(self, index: pd.Index) -> tuple[list[str | None], list[int | None]]:
        """Source file and line for each index value; None where a row has no provenance."""
        files: list[str | None] = []
        lines: list[int | None] = []
        for value in index:
            source, position = divmod(int(value), LINEAGE_BASE) if isinstance(value, int | np.integer) else (0, 0)
            if 1 <= source <= len(self.file_of_row) and position < len(self.file_of_row[source - 1]):
                files.append(self.files[self.file_of_row[source - 1][position]])
                lines.append(int(self.line_of_row[source - 1][position]))
            else:
                files.append(None)
                lines.append(None)
        return files, lines


@dataclass
class SourceBatch:
    frames: dict[str, pd.DataFrame]  # source name -> typed accepted records
    rejects: list[Entry]
    rows_read: dict[str, int]  # partition -> records attributed to it (accepted + rejected)
    lineage: Lineage


def read_sources(
    root: Path, sources: dict[str, SourceFeed], window: RunWindow, lateness_days: int, observer: Any = None
) -> SourceBatch:
    """Read every source of a product; feeds of system ``mesh`` come from ``observer``
    (see mesh.orchestration.observe)."""
    batch = SourceBatch({}, [], {k: 0 for k in window.keys}, Lineage())
    for number, (name, feed) in enumerate(sources.items(), start=1):
        if feed.system == MESH_SYSTEM:
            batch.frames[name] = _observed(feed, observer)
            continue
        batch.frames[name] = _read_feed(root, name, feed, window, lateness_days, number, batch)
    return batch


def _observed(feed: SourceFeed, observer: Any) -> pd.DataFrame:
    if observer is None:
        raise MeshError(f"feed {feed.system}/{feed.feed} is read from the Dagster instance: run it inside Dagster")
    frame = observer.feed(feed.feed)
    missing = [c for c in feed.columns if c not in frame.columns]
    if missing:
        raise MeshError(f"feed {feed.system}/{feed.feed} has no columns {missing}; it has {list(frame.columns)}")
    return frame[list(feed.columns)]


def _feed_keys(window: RunWindow, lateness_days: int) -> tuple[list[str], list[str]]:
    """The window's own feed files, and the later files that may hold its late records."""
    assert window.end is not None and window.cadence is not None
    extra = []
    moment = window.end
    while lateness_days and moment < window.end + timedelta(days=lateness_days):
        extra.append(format_key(moment, window.cadence))
        moment += window.cadence.period
    return list(window.keys), extra


def find_feed_file(root: Path, feed: SourceFeed, key: str) -> Path | None:
    """The feed's file for a partition: ``<key>.<format>``, any known format when none is declared."""
    formats = [feed.format] if feed.format else list(_READERS)
    for fmt in formats:
        path = root / feed.system / feed.feed / f"{key.replace(':', '')}.{fmt}"
        if path.exists():
            return path
    return None


def _read_feed(root: Path, name: str, feed: SourceFeed, window: RunWindow, lateness_days: int,
               number: int, batch: SourceBatch) -> pd.DataFrame:
    own, later = _feed_keys(window, lateness_days)
    text_columns: dict[str, list[Any]] = {c: [] for c in feed.columns}  # text readers' values, column by column
    columns: dict[str, list[np.ndarray]] = {"_file": [], "_line": [], "_feed_key": []}
    typed_parts: list[pd.DataFrame] = []
    arrow_parts: list[tuple[pa.Table, int, str]] = []  # (table, file index, feed key)
    paths = {key: find_feed_file(root, feed, key) for key in own + later}
    # Parquet files are read ahead by a few threads (Arrow releases the GIL), then taken in order.
    pool = ThreadPoolExecutor(max_workers=FEED_READERS)
    ahead = {key: pool.submit(_parquet_table, path, feed) for key, path in paths.items()
             if path is not None and path.suffix == ".parquet"}
    try:
        for key in own + later:
            path = paths[key]
            if path is None:
                if key in own:
                    raise NotFound(
                        f"operational file {root / feed.system / feed.feed / key}.{feed.format or '*'} is missing: "
                        f"feed {feed.system}/{feed.feed} has no data for partition {key} "
                        f"(generate it with `mesh operational generate`, or check the partition range)"
                    )
                continue  # later feeds may not exist yet
            file_index = len(batch.lineage.files)
            batch.lineage.files.append(str(path))
            if path.suffix == ".parquet":  # typed already: kept as Arrow and converted once, below
                table, rejects = ahead[key].result()
                found, lines = ([], np.zeros(0, dtype=np.int64)) if table is None else (table, None)
            else:
                found, lines, rejects = _READERS[path.suffix[1:]](path, feed)
            for line, reason, raw in rejects:
                if key in own:
                    batch.rejects.append(Entry(key, "read", "malformed_record", reason, source_file=str(path),
                                               source_line=line, record=clip(raw)))
                    batch.rows_read[key] += 1
            if isinstance(found, pa.Table):
                arrow_parts.append((found, file_index, key))
                continue
            if isinstance(found, pd.DataFrame):
                typed_parts.append(found.assign(_file=file_index, _line=lines, _feed_key=key))
                continue
            for column, values in (found if isinstance(found, dict) else _transposed(found, feed)).items():
                text_columns[column] += values
            columns["_file"].append(np.full(len(lines), file_index, dtype=np.int64))
            columns["_line"].append(lines)
            columns["_feed_key"].append(np.full(len(lines), key, dtype=object))
    finally:
        pool.shutdown(cancel_futures=True)
        ahead.clear()  # the futures hold the tables too: let the conversion below free them
    typed_parts += _arrow_frames(arrow_parts)
    raw_parts = typed_parts
    if any(len(lines) for lines in columns["_line"]) or not typed_parts:
        text = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in text_columns.items()})
        for column, parts in columns.items():
            text[column] = np.concatenate(parts) if parts else np.zeros(0, dtype=object)
        raw_parts = [text, *typed_parts]
    if not any(len(p) for p in raw_parts) and not typed_parts:
        return _empty(feed)
    raw = pd.concat(raw_parts, ignore_index=True)
    typed, bad_type = _type_columns(raw, feed)
    keys = _attribute(typed, raw, feed, window, lateness_days)
    files = batch.lineage.files
    # Rejected rows are few: their provenance and records are taken for all of them at once.
    own_rows = raw["_feed_key"].isin(set(own)).to_numpy()
    feed_keys, file_numbers, line_numbers = (raw[c].to_numpy() for c in ("_feed_key", "_file", "_line"))
    bad = bad_type.to_numpy(dtype=bool)
    wrong = np.flatnonzero(bad.any(axis=1) & own_rows)
    for i, first, record in zip(wrong, bad[wrong].argmax(axis=1), _records(raw, wrong, feed), strict=True):
        column = str(bad_type.columns[first])
        value = raw[column].iat[i]
        batch.rejects.append(Entry(
            feed_keys[i], "read", "type_mismatch",
            f"{column} {type_problem(value, feed.columns[column])}",  # the value: in `value`
            column=column, value=value, source_file=files[file_numbers[i]], source_line=int(line_numbers[i]),
            record=record))
        batch.rows_read[feed_keys[i]] += 1
    usable = ~bad.any(axis=1)
    late = np.flatnonzero(usable & _rejected(keys) & own_rows)
    dates = typed[feed.event_date].iloc[late] if feed.event_date else None
    for n, (i, record) in enumerate(zip(late, _records(raw, late, feed), strict=True)):
        rule, reason = keys.iat[i][1:].split("|", 1)
        batch.rejects.append(Entry(
            feed_keys[i], "read", rule, reason, column=feed.event_date,
            value=dates.iat[n] if dates is not None else None,
            source_file=files[file_numbers[i]], source_line=int(line_numbers[i]), record=record))
        batch.rows_read[feed_keys[i]] += 1
    accepted = usable & keys.isin(set(window.keys)).to_numpy()
    for key, count in keys[accepted].value_counts().items():
        batch.rows_read[key] += int(count)
    result = typed.loc[accepted, list(feed.columns)]
    batch.lineage.file_of_row.append(raw["_file"].to_numpy()[accepted])
    batch.lineage.line_of_row.append(raw["_line"].to_numpy()[accepted])
    result.index = pd.RangeIndex(number * LINEAGE_BASE, number * LINEAGE_BASE + len(result))
    return result


def _records(raw: pd.DataFrame, rows: np.ndarray, feed: SourceFeed) -> list[str]:
    """The quarantine's text of the feed's columns of ``rows`` (as read, before typing)."""
    if not len(rows):
        return []
    return [record_json(row) for row in raw[list(feed.columns)].iloc[rows].to_dict("records")]


def _attribute(typed: pd.DataFrame, raw: pd.DataFrame, feed: SourceFeed, window: RunWindow,
               lateness_days: int) -> pd.Series:
    """The partition each record belongs to, or '!rule|reason' for records that belong nowhere."""
    feed_keys = raw["_feed_key"]
    if feed.event_date is None or window.cadence is None or window.start is None:
        return feed_keys.copy()
    fmt = KEY_FORMATS[window.cadence]
    period = pd.Timedelta(window.cadence.period)
    dates = datetimes(typed[feed.event_date])
    feed_start = pd.to_datetime(feed_keys, format=fmt)
    lateness = pd.Timedelta(days=lateness_days)
    missing = dates.isna()
    future = ~missing & (dates >= feed_start + period)
    late = ~missing & (dates < feed_start - lateness)
    ok = ~(missing | future | late)
    out = pd.Series("", index=raw.index, dtype=object)
    out[ok] = period_keys(dates[ok], window.start, window.cadence.period, fmt)
    out[missing] = f"!missing_event_date|{feed.event_date} is empty: the record cannot be placed in a partition"
    for mask, rule, text in ((future, "future_record", "dated after its feed"),
                             (late, "late_record", f"older than the {lateness_days}-day lateness window of")):
        if mask.any():
            out[mask] = [f"!{rule}|{feed.event_date} {d.date()} is {text} feed {k}"
                         for d, k in zip(dates[mask], feed_keys[mask], strict=True)]
    return out


def datetimes(values: pd.Series) -> pd.Series:
    """Dates or timestamps as ``datetime64[us]`` (nulls NaT). Arrow-backed dates are cast by Arrow:
    pandas converts them one value at a time."""
    dtype = values.dtype
    arrow = dtype.pyarrow_dtype if isinstance(dtype, pd.ArrowDtype) else None
    if arrow is not None and (pa.types.is_date(arrow) or (pa.types.is_timestamp(arrow) and arrow.tz is None)):
        cast = pc.cast(pa.array(values.array), pa.timestamp("us"), safe=False)  # truncates, as astype does
        return pd.Series(cast.to_numpy(zero_copy_only=False), index=values.index, name=values.name)
    return pd.to_datetime(values.astype("datetime64[us]"))


def period_keys(moments: pd.Series, start: datetime, period: timedelta, fmt: str) -> np.ndarray:
    """The key of the period (of ``period`` from ``start``) each moment falls in, None for NaT.
    Formats each distinct period once instead of every row."""
    moments64 = moments.to_numpy(dtype="datetime64[us]")
    values = moments64.astype(np.int64)
    present = ~np.isnat(moments64)
    steps = (values[present] - np.datetime64(start, "us").astype(np.int64)) // (period // timedelta(microseconds=1))
    keys = np.full(len(values), None, dtype=object)
    distinct, position = np.unique(steps, return_inverse=True)
    names = np.array([(start + int(step) * period).strftime(fmt) for step in distinct], dtype=object)
    keys[present] = names[position]
    return keys


def _rejected(keys: pd.Series) -> np.ndarray:
    """Which attributed keys are rejections ('!rule|reason'), judged once per distinct key."""
    codes, distinct = pd.factorize(keys)
    flags = np.array([isinstance(k, str) and k.startswith("!") for k in distinct] + [False], dtype=bool)
    return flags[codes]


def _empty(feed: SourceFeed) -> pd.DataFrame:
    return _type_columns(pd.DataFrame({c: pd.Series([], dtype=object) for c in feed.columns}), feed)[0]


def _type_columns(raw: pd.DataFrame, feed: SourceFeed) -> tuple[pd.DataFrame, pd.DataFrame]:
    typed, bad = {}, {}
    for column, kind in feed.columns.items():
        typed[column], bad[column] = _typed(raw[column], kind, column in feed.non_finite)
    return pd.DataFrame(typed, index=raw.index), pd.DataFrame(bad, index=raw.index)


INTEGER_RANGES = {"bigint": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
_DIGITS = r"[+-]?\d{1,18}"  # at most 18 digits always fits in int64: cast exactly by Arrow
_WHOLE = _DIGITS + r"(?:\.0*)?"  # '12.0' is the integer 12


def _integers(values: pd.Series, blank: pd.Series, kind: str) -> tuple[pd.Series, np.ndarray]:
    """Integers parsed exactly from their text, never through a float: the common forms vectorized,
    the rest (exponents, 19 digits and more, garbage) one by one with ``Decimal``."""
    text = values.where(~blank).astype("str").str.strip()
    whole = text.str.fullmatch(_WHOLE).fillna(False).to_numpy(dtype=bool)
    numbers = pd.Series(pd.NA, index=values.index, dtype="Int64")
    if whole.any():
        numbers[whole] = text[whole].str.replace(r"\.0*$", "", regex=True).astype("int64").to_numpy()
    low, high = INTEGER_RANGES[kind]
    bad = np.zeros(len(values), dtype=bool)
    rest = np.flatnonzero(~whole & ~blank.to_numpy(dtype=bool))
    for i in rest:
        exact = _exact_integer(text.iat[i])
        if exact is None or not low <= exact <= high:
            bad[i] = True
        else:
            numbers.iat[i] = exact
    if kind == "integer" and whole.any():
        bad |= whole & ((numbers < low) | (numbers > high)).fillna(False).to_numpy(dtype=bool)
        numbers[bad] = pd.NA
    return numbers, bad


def _exact_integer(text: str) -> int | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def type_problem(value: Any, kind: str) -> str:
    """Why a value is not a valid ``kind``, in words, for the quarantine."""
    if kind in INTEGER_RANGES:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return f"is not a number (expected {kind})"
        if not number.is_finite():
            return f"is not a finite number (expected {kind})"
        if number != number.to_integral_value():
            return f"is not a whole number (expected {kind})"
        low, high = INTEGER_RANGES[kind]
        return f"is outside the {kind} range {low}..{high}"
    if kind == "double":
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return "is not a number (expected double)"
        if number.is_nan():
            return "is NaN, which the contract does not allow (declare the column under non_finite)"
        if number.is_infinite() or not math.isfinite(float(number)):
            return "is infinite or beyond the double range, which the contract does not allow " \
                   "(declare the column under non_finite)"
    return f"is not a valid {kind}"


def _typed(values: pd.Series, kind: str, non_finite: bool = False) -> tuple[pd.Series, np.ndarray]:
    nothing = np.zeros(len(values), dtype=bool)
    dtype = values.dtype
    if kind in ("bigint", "integer") and pd.api.types.is_integer_dtype(dtype):
        if kind == "integer":
            low, high = INTEGER_RANGES[kind]
            bad = ((values < low) | (values > high)).fillna(False).to_numpy(dtype=bool)
            return values.astype("Int64").mask(bad), bad
        return values.astype("Int64"), nothing
    if kind == "double" and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        numbers = values.astype("float64")
        bad = nothing if non_finite else np.isinf(numbers.to_numpy())
        return numbers.mask(bad) if bad.any() else numbers, bad
    if kind == "date" and str(dtype).startswith("date32"):
        return values, nothing
    if kind == "timestamp" and pd.api.types.is_datetime64_any_dtype(dtype):
        return values, nothing
    if kind == "varchar":
        text = values.astype("str").where(values.notna())
        return text.replace("", None).astype("str"), np.zeros(len(values), dtype=bool)
    blank = values.isna() | (values.astype("str").str.strip() == "")
    if kind in INTEGER_RANGES:
        return _integers(values, blank, kind)
    if kind == "double":
        numbers = pd.to_numeric(values.where(~blank), errors="coerce")
        bad = numbers.isna() & ~blank  # unparsable, or the text 'nan' (a NaN is not a missing value)
        if non_finite:
            bad &= ~values.astype("str").str.strip().str.lower().isin(["nan", "+nan", "-nan"])
        else:
            bad |= np.isinf(numbers)
        return numbers.mask(bad).astype("float64"), bad.to_numpy()
    if kind in ("date", "timestamp"):
        # as text: pandas 4 reads a number as an epoch, and a JSON number where a date belongs is a wrong type
        text = values.astype("str").where(~blank)
        if kind == "date":
            parsed = pd.to_datetime(text, errors="coerce", format="%Y-%m-%d")
        else:  # RFC 3339 with an offset or Z, or naive (taken as UTC): stored as naive UTC
            parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True).dt.tz_convert(None)
        bad = parsed.isna() & ~blank
        if kind == "date":
            return parsed.dt.date.astype(pd.ArrowDtype(pa.date32())), bad.to_numpy()
        return parsed, bad.to_numpy()
    if kind == "boolean":
        lowered = values.astype("str").str.strip().str.lower()
        mapped = lowered.map({"true": True, "false": False, "1": True, "0": False}).astype("boolean")
        return mapped.where(~blank), (mapped.isna() & ~blank).to_numpy()
    raise MeshError(f"unknown source type {kind!r}")


# A reader returns text records (rows, or columns by name), or a typed frame (Parquet), their line numbers,
# and rejected lines.
Reader = tuple[list[list[Any]] | dict[str, list[Any]] | pd.DataFrame, np.ndarray, list[tuple[int, str, str]]]


def _transposed(records: list[list[Any]], feed: SourceFeed) -> dict[str, list[Any]]:
    columns = list(zip(*records, strict=True)) if records else [() for _ in feed.columns]
    return {c: list(v) for c, v in zip(feed.columns, columns, strict=True)}


class _Taken:
    """The physical lines a CSV reader consumed since the last ``take()``: a rejected record's raw text."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self.lines: list[str] = []

    def __iter__(self) -> _Taken:
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        self.lines.append(line)
        return line

    def take(self) -> str:
        text = "".join(self.lines)
        self.lines.clear()
        return text


def _read_csv(path: Path, feed: SourceFeed) -> Reader:
    """CSV per RFC 4180 by Python's C CSV parser: quoted separators, quotes and line breaks, CRLF, a
    UTF-8 byte order mark. A record's line is that of its first physical line. A last record without
    the final newline every complete file ends with is quarantined as truncated."""
    expected = list(feed.columns)
    records, lines, rejects = [], [], []
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        taken = _Taken(handle)
        reader = csv.reader(taken, strict=True)
        try:
            header = next(reader, [])
        except csv.Error as err:
            raise MeshError(f"{path}: unreadable CSV header: {err}") from None
        missing = [c for c in expected if c not in header]
        if missing:
            raise MeshError(f"{path}: header lacks columns {missing}; found {header}")
        order = [header.index(c) for c in expected]
        width = len(header)
        taken.take()
        while True:
            number = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                text = taken.take()
                rejects.append((number, f"malformed CSV record: {err}", text.rstrip("\r\n")))
                continue
            complete = taken.lines[-1].endswith(("\n", "\r"))
            if not fields:
                taken.lines.clear()
                continue  # a blank line
            if not complete:
                rejects.append((number, "truncated CSV record: the file does not end with a newline, so its "
                                        "last record may be cut", taken.take()))
                continue
            if len(fields) != width:
                rejects.append((number, f"malformed CSV record: expected {width} fields, found {len(fields)}",
                                taken.take().rstrip("\r\n")))
                continue
            taken.lines.clear()
            records.append([fields[i] for i in order])
            lines.append(number)
    return records, np.asarray(lines, dtype=np.int64), rejects


def _json_path(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict | list):
        return json.dumps(value, default=float)  # an object's numbers were read as Decimal: written back as numbers
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json_record(text: str, paths: list[str]) -> list[Any] | str:
    """One JSON line's values at ``paths``, or why the line is malformed: the reference reading, exact
    (numbers as ``int`` or ``Decimal``, NaN and Infinity kept as text)."""
    try:
        record = json.loads(text, parse_float=Decimal, parse_constant=str)
    except ValueError as err:
        return f"malformed JSON line: {err}"
    except ArithmeticError:  # decimal.InvalidOperation: valid JSON, but no number has such an exponent
        return "malformed JSON line: a number has an exponent of more than 18 digits, which no number holds"
    if not isinstance(record, dict):
        return f"malformed JSON line: expected an object, found {type(record).__name__}"
    values = [_json_path(record, p) for p in paths]
    for path, value in zip(paths, values, strict=True):
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # JSON allows the escape "\ud800" alone; no text holds it
                return f"malformed JSON line: {path} holds an unpaired surrogate escape, which is not Unicode text"
    return values


# Values orjson gives that the reference reading gives identically (a bool becomes 'true'/'false' in
# both). Not floats (the reference keeps a number's exact text as a Decimal; orjson also turns
# integers beyond 64 bits into floats), objects or arrays: a line with one at a path is read again.
_PLAIN = frozenset({str, int, type(None)})
_REREAD = frozenset({float, dict, list})


def _read_jsonl(path: Path, feed: SourceFeed) -> Reader:
    """JSON lines; ``paths`` in the contract map a column to a nested field such as ``data.feature``.

    Lines are parsed by orjson and their values taken column by column. orjson is strict (RFC 8259):
    a line it refuses, or that is not an object, or whose values include one the reference reading
    gives differently (see ``_REREAD``), is read again by ``_json_record``, which decides. So every
    line gives what ``_json_record`` gives, the quarantine's reasons included, at a fraction of the cost.
    """
    paths = [feed.paths.get(c, c) for c in feed.columns]
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        content = handle.read()  # newlines translated as iterating the file would ('\r\n', '\r' -> '\n')
    pieces = content.split("\n")
    tail = pieces.pop().strip()  # after the last newline: '' when the file ends with one
    numbers: list[int] = []
    records: list[dict[str, Any]] = []
    reread: list[tuple[int, str]] = []  # (line number, text) of lines the reference reading decides
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for number, line in enumerate(pieces, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            record = loads(text)
        except decode_error:
            reread.append((number, text))
            continue
        if type(record) is not dict:
            reread.append((number, text))
            continue
        numbers.append(number)
        records.append(record)
    columns = [_json_column(records, p) for p in paths]
    again: set[int] = set()  # rows (of records) whose values the reference reading gives
    for values in columns:
        kinds = set(map(type, values))
        if bool in kinds:
            values[:] = ["true" if v is True else "false" if v is False else v for v in values]
        if kinds & _REREAD:
            again.update(i for i, v in enumerate(values) if type(v) in _REREAD)
    refused = set()
    for i in again:
        values = _json_record(pieces[numbers[i] - 1].strip(), paths)
        if isinstance(values, str):  # orjson accepted what the reference refuses: quarantined below
            reread.append((numbers[i], pieces[numbers[i] - 1].strip()))
            refused.add(i)
            continue
        for column, value in zip(columns, values, strict=True):
            column[i] = value
    if refused:
        keep = [i for i in range(len(numbers)) if i not in refused]
        numbers = [numbers[i] for i in keep]
        columns = [[values[i] for i in keep] for values in columns]
    rejects: list[tuple[int, str, str]] = []
    extra: list[tuple[int, list[Any]]] = []
    for number, text in reread:
        values = _json_record(text, paths)
        if isinstance(values, str):
            rejects.append((number, values, text))
        else:
            extra.append((number, values))
    if extra:  # merged back in line order
        numbers += [n for n, _ in extra]
        order = np.argsort(np.asarray(numbers, dtype=np.int64), kind="stable")
        merged = [values + [v[j] for _, v in extra] for j, values in enumerate(columns)]
        columns = [[values[i] for i in order] for values in merged]
        numbers = [numbers[i] for i in order]
    if tail:
        rejects.append((len(pieces) + 1, "truncated JSON line: the file does not end with a newline, so its last "
                                          "record may be cut", tail))
    rejects.sort(key=lambda item: item[0])
    return dict(zip(feed.columns, columns, strict=True)), np.asarray(numbers, dtype=np.int64), rejects


def _json_column(records: list[dict[str, Any]], path: str) -> list[Any]:
    """Every record's value at a dotted path (None where a part is missing or not an object)."""
    parts = path.split(".")
    values: list[Any] = [r.get(parts[0]) for r in records]
    for part in parts[1:]:
        values = [v.get(part) if type(v) is dict else None for v in values]
    return values


_ARROW_CASTS = {"bigint": pa.int64(), "integer": pa.int64(), "double": pa.float64(), "varchar": pa.string()}


def _read_parquet(path: Path, feed: SourceFeed) -> Reader:
    """Parquet feeds are typed already; a column of another type goes through the text coercion."""
    table, rejects = _parquet_table(path, feed)
    if table is None:
        return [], np.zeros(0, dtype=np.int64), rejects
    return _arrow_to_pandas(table), np.arange(1, table.num_rows + 1, dtype=np.int64), []


def _arrow_to_pandas(table: pa.Table, release: bool = False) -> pd.DataFrame:
    """``release``: free each Arrow column as it is converted (the table is unusable afterwards)."""
    return table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_date32(t) else None,
                           self_destruct=release, split_blocks=release)


def _arrow_frames(parts: list[tuple[pa.Table, int, str]]) -> list[pd.DataFrame]:
    """Parquet files' tables as typed frames with their provenance: one conversion when they share a schema."""
    if not parts:
        return []
    tables = [table for table, _, _ in parts]
    if any(not table.schema.equals(tables[0].schema) for table in tables):
        return [_arrow_to_pandas(t).assign(_file=f, _line=np.arange(1, t.num_rows + 1, dtype=np.int64), _feed_key=k)
                for t, f, k in parts]
    sizes = [table.num_rows for table in tables]
    files, keys = [f for _, f, _ in parts], [k for _, _, k in parts]
    whole = pa.concat_tables(tables)
    del tables
    parts.clear()  # the caller's list: the concatenated table is then the only owner of the buffers
    frame = _arrow_to_pandas(whole, release=True)
    del whole
    frame["_file"] = np.repeat(np.array(files, dtype=np.int64), sizes)
    frame["_line"] = np.concatenate([np.arange(1, n + 1, dtype=np.int64) for n in sizes])
    frame["_feed_key"] = pd.array(np.repeat(np.array(keys, dtype=object), sizes), dtype="str")
    return [frame]


def _parquet_table(path: Path, feed: SourceFeed) -> tuple[pa.Table | None, list[tuple[int, str, str]]]:
    """The feed's columns of a Parquet file, cast to the contract's types where Arrow can."""
    try:
        table = pq.read_table(path, columns=list(feed.columns))
    except (pa.ArrowInvalid, KeyError) as err:
        raise MeshError(f"{path}: expected columns {list(feed.columns)}: {err}") from None
    except (pa.ArrowException, OSError) as err:
        return None, [(0, f"unreadable Parquet file: {err}", "")]
    columns = {}
    for name, kind in feed.columns.items():
        column = table.column(name)
        target = _ARROW_CASTS.get(kind)
        kind_ok = (pa.types.is_integer(column.type) or pa.types.is_decimal(column.type)
                   or pa.types.is_floating(column.type)) if kind in ("bigint", "integer", "double") else True
        if (kind == "double" and pa.types.is_floating(column.type) and name not in feed.non_finite
                and pc.any(pc.is_nan(column)).as_py()):
            column = column.cast(pa.string())  # a NaN is not a missing value: the text path quarantines it
        elif target is not None and kind_ok and not (kind != "double" and pa.types.is_floating(column.type)):
            column = column.cast(target)
        elif not (kind == "date" and pa.types.is_date32(column.type)) and target is None:
            column = column.cast(pa.string()) if not pa.types.is_timestamp(column.type) else column
        columns[name] = column
    return pa.table(columns), []


_READERS = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}


def describe(window: RunWindow) -> str:
    if not window.partitioned:
        return "full snapshot"
    return f"{window.keys[0]}..{window.keys[-1]}" if len(window.keys) > 1 else window.keys[0]

