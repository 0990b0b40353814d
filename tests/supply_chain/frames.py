"""Helpers for the supply chain tests: dates typed as the mesh types them, frames as DuckDB relations."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pyarrow as pa

from mesh.contracts.contract import Cadence
from mesh.contracts.partitions import RunWindow, format_key

DATE = pd.ArrowDtype(pa.date32())


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def dates(*days: str) -> pd.Series:
    return pd.Series([day(d) for d in days], dtype=DATE)


def relations(**frames: pd.DataFrame) -> dict[str, duckdb.DuckDBPyRelation]:
    """The frames as relations on one connection, as the runner passes them (not named after the input,
    so that a function may name its own view after it)."""
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register(f"{name}_input", frame)
    return {name: con.table(f"{name}_input") for name in frames}


def daily_window(first: str, last: str) -> RunWindow:
    start = dt.datetime.combine(day(first), dt.time())
    count = (day(last) - day(first)).days + 1
    keys = [format_key(start + dt.timedelta(days=i), Cadence.daily) for i in range(count)]
    return RunWindow(start, start + dt.timedelta(days=count), Cadence.daily, keys, start + dt.timedelta(days=count))


def rows(relation: duckdb.DuckDBPyRelation) -> list[dict]:
    return relation.to_arrow_table().to_pylist()
