"""The consulting domain's transformations, and the helpers its daily snapshots share.

The consumer-aligned products are snapshots: partition D holds the state at the end of day D,
computed from every record the HR systems had recorded by then (their inputs use window
``history``). A run over several days computes one snapshot per day, so what a partition holds
never depends on which run computed it.

The one-day helpers (``known_by``, ``latest``, ``active_consultants``) say what a snapshot is; the
products compute every day of a run at once from the same definitions, set-based: ``versions``
gives each record the days it is the latest of its key (from the day it becomes known until the day
a later one is), and ``query`` joins such day ranges with the run's days in DuckDB. A run over the
whole history then costs seconds, not one pass over the history per day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mesh.partitions import RunWindow
from mesh.ports import to_pandas


def snapshot_days(window: RunWindow) -> list[date]:
    """The days a run computes: one snapshot per daily partition of the window."""
    return [date.fromisoformat(key) for key in window.keys]


def moments(dates: pd.Series) -> pd.Series:
    """Dates (Arrow date32 or Python dates) as datetimes, so they compare and subtract; NaT for none."""
    if isinstance(dates.dtype, pd.ArrowDtype):  # through an Arrow timestamp: vectorised, not value by value
        dates = dates.astype(pd.ArrowDtype(pa.timestamp("us")))
    return dates.astype("datetime64[us]")


def on_or_before(dates: pd.Series, day: date) -> pd.Series:
    """True where a date falls on or before ``day`` (False where there is none)."""
    return moments(dates) <= pd.Timestamp(day)


def days_until(dates: pd.Series, day: date) -> pd.Series:
    """Days from ``day`` to each date: negative when the date is past."""
    return (moments(dates) - pd.Timestamp(day)).dt.days


def known_by(frame: pd.DataFrame, day: date, column: str = "recorded_date") -> pd.DataFrame:
    """The records the HR systems held at the end of ``day``."""
    return frame[on_or_before(frame[column], day)]


def latest(frame: pd.DataFrame, keys: list[str], order: list[str]) -> pd.DataFrame:
    """The last record of each key, by the ``order`` columns."""
    return frame.sort_values([*keys, *order]).drop_duplicates(keys, keep="last")


def active_consultants(consultants: pd.DataFrame, day: date) -> pd.DataFrame:
    """Consultants employed at the end of ``day``: each one's latest record, unless it says they left."""
    current = latest(known_by(consultants, day), ["consultant_id"], ["recorded_date"])
    has_left = on_or_before(current["leave_date"], day)
    return current[~has_left]


def joined(names: Iterable[str], separator: str = ", ") -> str | None:
    """Names as one text, or None when there are none."""
    text = separator.join(names)
    return text or None


# -- every day of a run at once ---------------------------------------------------------------------
def versions(frame: pd.DataFrame, keys: list[str], order: list[str], known: str = "recorded_date") -> pd.DataFrame:
    """``latest(known_by(frame, day, known), keys, order)`` for every day at once: the records that are
    the latest of their key on some day, each with ``valid_from``, the first such day, and
    ``valid_until``, the first day it no longer is (null while it still is). A record known after one
    it ranks below by ``order`` (a backdated one) never replaces it; records known the same day count
    together, and ties keep the last in the frame, as ``latest`` does."""
    records = frame[frame[known].notna()].reset_index(drop=True)
    rank = np.empty(len(records), dtype=np.int64)  # position in the order `latest` sorts by
    rank[records.sort_values([*keys, *order]).index.to_numpy()] = np.arange(len(records))
    by_day = records.assign(_rank=rank).sort_values([*keys, known], kind="stable")
    by_day["_rank"] = by_day.groupby(keys, dropna=False, sort=False)["_rank"].cummax()
    ends = by_day.drop_duplicates([*keys, known], keep="last")  # the latest at the end of each such day
    key = ends.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    current = ends["_rank"].to_numpy()
    changed = np.ones(len(ends), dtype=bool)  # a key's first day, or a day its latest changed
    changed[1:] = (key[1:] != key[:-1]) | (current[1:] != current[:-1])
    ends, key = ends[changed], key[changed]
    day, same_key_next = ends[known], np.zeros(len(ends), dtype=bool)
    same_key_next[:-1] = key[1:] == key[:-1]
    until = day.shift(-1).where(same_key_next)
    chosen = records.iloc[np.argsort(rank)[ends["_rank"].to_numpy()]].reset_index(drop=True)
    return chosen.assign(valid_from=day.reset_index(drop=True), valid_until=until.reset_index(drop=True))


def staff_spells(consultants: pd.DataFrame) -> pd.DataFrame:
    """``active_consultants`` for every day at once: each consultant record while it is their latest
    (``versions``), with ``employed_until``, the first day it no longer counts them as employed: the
    leave day it names (gone by the end of it) or the day a later record replaces it, whichever comes
    first; null while neither has come."""
    spells = versions(consultants, ["consultant_id"], ["recorded_date"])
    leaves_first = spells["valid_until"].isna() | (moments(spells["leave_date"]) < moments(spells["valid_until"]))
    return spells.assign(employed_until=spells["leave_date"].where(leaves_first, spells["valid_until"]))


def day_table(window: RunWindow) -> pa.Table:
    """The run's days, one row each (column ``day``)."""
    return pa.table({"day": pa.array(snapshot_days(window), pa.date32())})


def query(sql: str, **tables: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """``sql`` run in DuckDB over the frames and tables given, each under its keyword's name; the
    result typed as the mesh hands products over (dates as Arrow dates)."""
    with duckdb.connect() as connection:
        for name, table in tables.items():
            arrow = table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)
            connection.register(name, arrow)
        return to_pandas(connection.sql(sql).to_arrow_table())


def in_force(alias: str, day: str = "d.day", until: str = "valid_until") -> str:
    """SQL: ``day`` falls in the range ``alias.valid_from`` (inclusive) to ``alias.<until>`` (exclusive, null
    for no end). Written without OR, so that DuckDB joins on it by hash or by range, not row by row."""
    return f"{alias}.valid_from <= {day} AND {day} < coalesce({alias}.{until}, DATE '9999-12-31')"


def python_dates(dates: pd.Series) -> pd.Series:
    """Dates as Python ``date`` objects (None for none), as the one-day snapshots set ``snapshot_date``;
    each distinct date converted once (value by value, pandas takes seconds for a run's rows)."""
    codes, distinct = pd.factorize(dates)
    objects = np.append(np.asarray(distinct.astype(object)), None)  # code -1 (no date) takes the last
    return pd.Series(objects[codes], index=dates.index, dtype=object)
