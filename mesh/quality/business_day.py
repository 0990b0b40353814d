"""Nothing is published before it happens: the mesh-wide rule ``happened_by_business_day``.

Every date or timestamp column of a product records an event that has happened, unless the
contract lists it under ``planned`` (a commitment, a schedule, an expiry). A row whose event is
later than the end of its business period, the partition it belongs to (a daily product's day),
is quarantined under this rule with the column, the value and that business day. An unpartitioned
product's bound is its run's as-of moment: the wall clock, or the end of the newest partition its
inputs publish when that is later (a history replayed ahead of the clock). Bounds are in the
domain's timezone: a timestamp without a zone is local time there, one with a zone is converted to
it, and a date is after the business period when it begins after the period ends (a daily
product's date is after its day from the next day on). The partition column is not judged: a row
outside its partition is ``structure``'s.

What the model declares decides what is an event: a date or timestamp column whose feed or function
sends text is coerced cell by cell first (text that is no date is ``structure``'s), then judged; a
column the model declares text is text, never read as a date, however much it looks like one. So
``planned`` names date and timestamp columns only: text, numbers or a column the model lacks are
refused, naming the contract, the field and the column.

This module builds the rule (a check on every product), refuses ``planned`` declarations naming no
date or timestamp column when definitions load, and evaluates the rule over a run's output.
Quarantining is ``mesh.quality.wap``'s, the asset check ``mesh.orchestration.compile``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from mesh.contracts.contract import Cadence
from mesh.contracts.names import Address
from mesh.contracts.partitions import RunWindow, parse_key
from mesh.contracts.registry import Mesh, Product
from mesh.errors import ContractError
from mesh.quality.rules import Rule, RuleOutcome, Schema
from mesh.storage.lake import Published
from mesh.storage.sources import datetimes

NAME = "happened_by_business_day"
TEMPORAL = ("date", "timestamp")
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class BusinessDay:
    """What the rule judges: the event columns, and the planned ones it leaves alone."""

    events: tuple[str, ...]
    planned: tuple[str, ...]
    timezone: str
    partitioned: bool


def business_day_rule(product: Product, schema: Schema) -> Rule:
    """The rule for a product: its date and timestamp columns but the partition column and the planned ones."""
    contract = product.contract
    partition = contract.partitioning.column if contract.partitioning else None
    events = tuple(c.name for c in schema.columns
                   if c.type_name in TEMPORAL and c.name != partition and c.name not in contract.planned)
    spec = BusinessDay(events, tuple(contract.planned), product.domain.snapshots.timezone, contract.partitioned)
    return Rule(NAME, events, "error", True, describe(spec), check=spec)


def describe(spec: BusinessDay) -> str:
    bound = (f"the end of the row's partition, its business day ({spec.timezone})" if spec.partitioned
             else f"the run's as-of moment ({spec.timezone})")
    planned = f"; planned, not judged: {', '.join(spec.planned)}" if spec.planned else ""
    if not spec.events:
        return f"Nothing is published before it happens: no date or timestamp column to judge{planned}"
    return f"Nothing is published before it happens: {', '.join(spec.events)} not later than {bound}{planned}"


def check(product: Product, schema: Schema) -> None:
    """Every planned column is a date or timestamp column of the model, and the rule's name is free: else a
    ContractError naming the contract, the product and the column."""
    contract = product.contract
    types = {c.name: c.type_name for c in schema.columns}
    problems = []
    for column in contract.planned:
        if column not in types:
            problems.append(("planned", f"{product.address} has no column {column!r} (expected a date or timestamp "
                                        f"column of {schema.model_name})"))
        elif types[column] not in TEMPORAL:
            text = "text dates are text to the mesh: " if types[column] == "string" else ""
            problems.append(("planned", f"{product.address}.{column} is of type {types[column]}: only date and "
                                        f"timestamp columns can be planned ({text}declare it a Date or "
                                        f"pd.Timestamp in {schema.model_name})"))
    for field, names in (("schema", {r.name for r in schema.rules}), ("relations", set(contract.relations))):
        if NAME in names:
            problems.append((field, f"{NAME!r} is the mesh-wide rule's name: name the product's rule otherwise"))
    if problems:
        raise ContractError(product.file, problems)


def evaluate(frame: pd.DataFrame, rule: Rule, keys: pd.Series, window: RunWindow, skip: np.ndarray) -> RuleOutcome:
    """The rows (not in ``skip``) with an event after the end of their partition ``keys`` (or after the
    window's as-of moment), each with the column it failed on and why."""
    spec: BusinessDay = rule.check
    failing = np.zeros(len(frame), dtype=bool)
    if not spec.events or not len(frame):
        return RuleOutcome(rule, failing=failing, reasons={}, columns={})
    bounds, shown = _bounds(keys, window, spec)
    after = {}
    for column in spec.events:
        moments = local_moments(frame[column], spec.timezone).to_numpy(dtype="datetime64[us]")
        late = ~np.isnat(moments) & (moments > bounds) & ~skip
        if late.any():
            after[column] = late
            failing |= late
    positions = np.flatnonzero(failing)
    values = {c: frame[c].iloc[positions].map(_text).to_numpy(dtype=object) for c in after}
    reasons, columns = {}, {}
    for i, p in enumerate(positions):
        names = [c for c in after if after[c][p]]
        listed = ", ".join(f"{c} {values[c][i]}" for c in names)
        columns[int(p)] = names[0]
        reasons[int(p)] = (f"{listed} {'is' if len(names) == 1 else 'are'} after {shown[p]}: it had not happened "
                           f"by then (a plan or an expectation is listed under the contract's 'planned')")
    return RuleOutcome(rule, failing=failing, reasons=reasons, columns=columns)


def judged_window(window: RunWindow, mesh: Mesh, product: Product,
                  published: Callable[[Address], Published]) -> RunWindow:
    """The window a run is judged by. A partitioned run's own; an unpartitioned run's is as of its moment (the
    wall clock), or as of the end of the newest partition its partitioned inputs publish (``published``) when
    that is later: the mesh published a history ahead of the clock, as a replay of simulated data does."""
    if window.partitioned:
        return window
    zone = product.domain.snapshots.timezone
    moment = window.as_of or datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
    for spec in product.contract.inputs.values():
        upstream = mesh.product(spec.address)
        keys = published(spec.address).keys() if upstream.partitioned else []
        if keys:
            snapshots = upstream.domain.snapshots
            end = parse_key(keys[-1], snapshots.cadence) + snapshots.cadence.period
            local = end.replace(tzinfo=ZoneInfo(snapshots.timezone)).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            moment = max(moment, local - _INSTANT)
    return RunWindow.unpartitioned(moment)


def local_moments(values: pd.Series, timezone: str) -> pd.Series:
    """Dates and timestamps as naive local times of ``timezone`` (``datetime64[us]``); a date is its midnight."""
    dtype = values.dtype
    arrow = dtype.pyarrow_dtype if isinstance(dtype, pd.ArrowDtype) else None
    zoned = getattr(dtype, "tz", None) is not None or (arrow is not None and pa.types.is_timestamp(arrow)
                                                       and arrow.tz is not None)
    if zoned:
        values = values.dt.tz_convert(timezone).dt.tz_localize(None)
    return datetimes(values)


def _bounds(keys: pd.Series, window: RunWindow, spec: BusinessDay) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the last moment of its business period (naive local) and how a reason names that period."""
    if not spec.partitioned or window.cadence is None:
        as_of = window.as_of or datetime.now(ZoneInfo(spec.timezone)).replace(tzinfo=None)
        text = f"the run's as-of moment {as_of:%Y-%m-%d %H:%M:%S} {spec.timezone}"
        return np.full(len(keys), np.datetime64(as_of, "us")), np.full(len(keys), text, dtype=object)
    codes, distinct = pd.factorize(keys)
    cadence = window.cadence
    ends = [parse_key(k, cadence) + cadence.period for k in distinct]
    last = np.array([np.datetime64(end - _INSTANT, "us") for end in ends], dtype="datetime64[us]")
    texts = np.array([f"its business day {k}" if cadence is Cadence.daily else
                      f"the end of its business period {k} ({end:%Y-%m-%d %H:%M} {spec.timezone})"
                      for k, end in zip(distinct, ends, strict=True)], dtype=object)
    return last[codes], texts[codes]


def _text(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)  # dates, datetimes, Timestamps
