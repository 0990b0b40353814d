"""Partitions from a domain's snapshot cadence, and the time window a run covers.

A partitioned product has one partition per period of its domain's cadence (hourly, daily or
weekly, in the domain's timezone, from its start date); the newest partition is the last complete
period. ``RunWindow`` is what a transformation sees of the partitions it is computing: ``start`` and
``end`` (end exclusive), the partition keys, and which partition a date falls into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from mesh.contracts.contract import Cadence, Domain, cron_weekday
from mesh.contracts.names import ALL

KEY_FORMATS = {Cadence.hourly: "%Y-%m-%d-%H:%M", Cadence.daily: "%Y-%m-%d", Cadence.weekly: "%Y-%m-%d"}


def partitions_def(domain: Domain) -> dg.TimeWindowPartitionsDefinition:
    snapshots = domain.snapshots
    start = datetime.combine(snapshots.start, time())
    if snapshots.cadence is Cadence.hourly:
        return dg.HourlyPartitionsDefinition(start_date=start, timezone=snapshots.timezone)
    if snapshots.cadence is Cadence.weekly:
        # Weeks start on the weekday of the start date so that the first partition begins there.
        return dg.WeeklyPartitionsDefinition(
            start_date=start, timezone=snapshots.timezone, day_offset=cron_weekday(snapshots.week_start)
        )
    return dg.DailyPartitionsDefinition(start_date=start, timezone=snapshots.timezone)


@dataclass(frozen=True)
class RunWindow:
    """The partitions a run computes. ``start``/``end`` are naive local datetimes, end exclusive.

    An unpartitioned product's window has ``keys == ["all"]`` and no bounds: it is a full snapshot
    as of ``as_of``.
    """

    start: datetime | None
    end: datetime | None
    cadence: Cadence | None = None
    keys: list[str] = field(default_factory=list)
    as_of: datetime | None = None

    @property
    def partitioned(self) -> bool:
        return self.start is not None

    @property
    def start_date(self) -> date | None:
        return self.start.date() if self.start else None

    @property
    def end_date(self) -> date | None:
        """The last day inside the window (inclusive), convenient for SQL ``BETWEEN``."""
        return (self.end - timedelta(microseconds=1)).date() if self.end else None

    def key_of(self, moment: datetime | date) -> str:
        """The partition key a moment belongs to in this window's cadence."""
        assert self.cadence is not None and self.start is not None
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time())
        period = self.cadence.period
        steps = (moment - self.start) // period
        return format_key(self.start + steps * period, self.cadence)

    @classmethod
    def unpartitioned(cls, as_of: datetime | None = None) -> RunWindow:
        return cls(None, None, None, [ALL], as_of)

    @classmethod
    def of_keys(cls, domain: Domain, first: str, last: str) -> RunWindow:
        """The window from partition ``first`` through partition ``last`` (both included)."""
        cadence = domain.snapshots.cadence
        start = parse_key(first, cadence)
        end = parse_key(last, cadence) + cadence.period
        count = (end - start) // cadence.period
        keys = [format_key(start + i * cadence.period, cadence) for i in range(count)]
        return cls(start, end, cadence, keys, end)


def format_key(moment: datetime, cadence: Cadence) -> str:
    return moment.strftime(KEY_FORMATS[cadence])


def parse_key(key: str, cadence: Cadence) -> datetime:
    return datetime.strptime(key, KEY_FORMATS[cadence])


def now_in(domain: Domain) -> datetime:
    """The current local time of the domain, naive, like partition bounds."""
    return datetime.now(ZoneInfo(domain.snapshots.timezone)).replace(tzinfo=None)
