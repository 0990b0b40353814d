"""The consulting domain's transformations, and the helpers its daily snapshots share.

The consumer-aligned products are snapshots: partition D holds the state at the end of day D,
computed from every record the HR systems had recorded by then (their inputs use window
``history``). A run over several days computes one snapshot per day, so what a partition holds
never depends on which run computed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
import pyarrow as pa

from mesh.partitions import RunWindow


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
