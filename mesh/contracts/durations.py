"""Parsing of the small time vocabulary contracts use: durations (``26h``), clock times (``06:00``).

Kept apart from the contract models so that error messages about time read the same everywhere.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


def parse_duration(text: object) -> timedelta:
    """``"26h"``, ``"1d 2h"``, ``"90m"`` -> timedelta. Raises ValueError with what was expected."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a duration such as '26h', '2d' or '90m', found {text!r}")
    match = _DURATION_RE.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"expected a duration such as '26h', '2d' or '90m', found {text!r}")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes)
    if value <= timedelta(0):
        raise ValueError(f"expected a positive duration, found {text!r}")
    return value


def format_duration(value: timedelta) -> str:
    total = int(value.total_seconds() // 60)
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or "0m"


def parse_clock(text: object) -> time:
    """``"06:00"`` -> time(6, 0). Rejects times outside the day such as ``"25:00"``."""
    if isinstance(text, time):
        return text
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
        raise ValueError(f"expected a time of day 'HH:MM', found {text!r}")
    hours, minutes = (int(p) for p in text.strip().split(":"))
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"expected a time of day between 00:00 and 23:59, found {text!r}")
    return time(hours, minutes)
