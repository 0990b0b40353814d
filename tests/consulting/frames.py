"""Hand-built frames for the consulting tests, typed as the products read them (dates as Arrow date32)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from mesh.contracts.partitions import RunWindow
from mesh.contracts.registry import load_mesh

DATE = pd.ArrowDtype(pa.date32())


def dates(*days: str | None) -> pd.Series:
    return pd.Series([dt.date.fromisoformat(d) if isinstance(d, str) else None for d in days], dtype=DATE)


def frame(columns: list[str], rows: list[tuple], date_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame from tuples; columns named in ``date_columns`` (or ending in ``_date``) become dates."""
    data = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column.endswith("_date") or column in date_columns:
            data[column] = dates(*data[column])
    return data


def window(first: str, last: str | None = None) -> RunWindow:
    return RunWindow.of_keys(load_mesh().domains["consulting"], first, last or first)


CONSULTANT_COLUMNS = ["consultant_id", "name", "practice", "career_level", "hire_date", "leave_date", "change",
                      "recorded_date"]


def consultants(*rows: tuple) -> pd.DataFrame:
    """(id, practice, level, hire, leave, change, recorded) -> a consulting.consultants frame."""
    return frame(CONSULTANT_COLUMNS, [(r[0], f"Consultant {r[0]}", *r[1:]) for r in rows])
