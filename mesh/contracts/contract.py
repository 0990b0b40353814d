"""The contract of a data product and the descriptor of a domain, as typed models.

A contract (``domains/<domain>/<product>.yaml``) declares what a product promises: description,
kind, owner, access, version, inputs, operational sources, partitioning, SLOs, consumers, PII,
retention and which dates are plans rather than events (``planned``). Field names follow the Open
Data Contract / Data Product standards where they fit. This module validates one file at a time;
relations between files (inputs that name no product, access rules) are checked in ``mesh.contracts.registry``,
and between a contract and its code (columns it names) when definitions load. It knows nothing
about Dagster, code or storage.
"""

from __future__ import annotations

import re
import statistics
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mesh.contracts.durations import format_duration, parse_clock, parse_duration
from mesh.contracts.names import Address, name_problem
from mesh.contracts.yamlio import load_yaml
from mesh.errors import ContractError

SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
OWNER_RE = re.compile(r"^(team:[a-z][a-z0-9_-]*|[^@\s]+@[^@\s]+\.[a-z]{2,})$")
SOURCE_TYPES = ("bigint", "integer", "double", "varchar", "date", "timestamp", "boolean")


def _name(value: object) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value  # type: ignore[return-value]


def _address(value: object) -> str:
    return str(Address.parse(value))


def _duration(value: object) -> timedelta:
    return parse_duration(value)


Name = Annotated[str, BeforeValidator(_name)]
AddressText = Annotated[str, BeforeValidator(_address)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA timezone such as 'UTC' or 'Europe/Paris', found {value!r}") from None
    return value


class Cadence(StrEnum):
    hourly = "hourly"
    daily = "daily"
    weekly = "weekly"

    @property
    def period(self) -> timedelta:
        return {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}[self]


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = Weekday.__args__


class Snapshots(_Model):
    """How often a domain publishes snapshots: one partition per period, a scheduled job per domain."""

    cadence: Cadence = Cadence.daily
    at: str = Field("01:00", description="time of day the snapshot job runs (hourly: the minute is used)")
    day: Weekday | None = Field(None, description="weekday of weekly snapshots; default the start date's weekday, "
                                                  "the day each week begins (and the week before it ends)")
    timezone: str = "UTC"
    start: date = Field(description="first partition")
    cron: str | None = Field(None, description="explicit schedule, overrides 'at' and 'day'")

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        return _timezone(value)

    @model_validator(mode="after")
    def _hourly_without_daylight_saving(self) -> Snapshots:
        # Dagster names the hour a clock change repeats '<day>-02:00+0100', a key the mesh's hourly
        # windows (naive local hours) cannot place: refused here rather than failing at run time.
        if self.cadence is Cadence.hourly:
            zone = ZoneInfo(self.timezone)
            winter, summer = (datetime(self.start.year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7))
            if winter != summer:
                raise ValueError(f"hourly snapshots need a timezone without daylight saving time (UTC, or a "
                                 f"fixed offset such as Etc/GMT-1), found {self.timezone!r}")
        return self

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        from dagster._utils.schedules import is_valid_cron_string

        if value is not None and not is_valid_cron_string(value):
            raise ValueError(f"expected a cron expression such as '0 1 * * *', found {value!r}")
        return value

    @property
    def cron_schedule(self) -> str:
        return self.cron or period_cron(self.cadence, self.at, self.day or self.week_start)

    @property
    def week_start(self) -> Weekday:
        """The weekday weekly partitions begin on (and the previous week ends): the start date's."""
        return WEEKDAYS[self.start.weekday()]  # type: ignore[return-value]


def cron_weekday(day: str) -> int:
    """A weekday's number in cron (0 is Sunday)."""
    return (WEEKDAYS.index(day) + 1) % 7


def period_cron(cadence: Cadence, at: str, weekday: str) -> str:
    """A cron expression firing once a period of the cadence at the time of day ``at`` (hourly: at its
    minute past every hour; weekly: on ``weekday``). Snapshot schedules and freshness deadlines use it."""
    clock = parse_clock(at)
    if cadence is Cadence.hourly:
        return f"{clock.minute} * * * *"
    if cadence is Cadence.weekly:
        return f"{clock.minute} {clock.hour} * * {cron_weekday(weekday)}"
    return f"{clock.minute} {clock.hour} * * *"


class Domain(_Model):
    """``domains/<domain>/domain.yaml``: the team that owns the domain and its snapshot cadence."""

    name: Name
    description: str = Field(min_length=1)
    owner: str
    snapshots: Snapshots
    tags: list[Name] = []

    @field_validator("owner")
    @classmethod
    def _check_owner(cls, value: str) -> str:
        return _owner(value)


def _owner(value: str) -> str:
    if not OWNER_RE.match(value):
        raise ValueError(f"expected an owner 'team:<name>' or an e-mail address, found {value!r}")
    return value


class Kind(StrEnum):
    source_aligned = "source-aligned"
    aggregate = "aggregate"
    consumer_aligned = "consumer-aligned"


class Access(StrEnum):
    public = "public"  # any domain may read it
    internal = "internal"  # products and people of its own domain
    private = "private"  # its own domain's pipelines only


class Window(StrEnum):
    partition = "partition"  # the same partitions as the run
    history = "history"  # every published partition up to the end of the run's window
    trailing = "trailing"  # the run's partitions plus `days` before them


class Input(_Model):
    product: AddressText
    window: Window | None = None
    days: int | None = Field(None, ge=1, le=3660)

    @model_validator(mode="after")
    def _days_with_trailing(self) -> Input:
        if (self.window is Window.trailing) != (self.days is not None):
            raise ValueError("'days' is required with window 'trailing' and allowed only with it")
        return self

    @property
    def address(self) -> Address:
        return Address.parse(self.product)


def _coerce_input(value: object) -> object:
    return {"product": value} if isinstance(value, str) else value


class SourceFeed(_Model):
    """An operational feed read by a source-aligned product: one file per partition."""

    system: Name = Field(description="operational system folder under the operational root")
    feed: Name = Field(description="feed folder inside the system; files are '<partition>.<format>'")
    format: Literal["csv", "parquet", "jsonl"] | None = Field(None, description="default: whichever file exists")
    event_date: str | None = Field(None, description="column holding the record's business date")
    columns: dict[str, str] = Field(min_length=1, description="column -> type, in file order")
    paths: dict[str, str] = Field({}, description="jsonl: column -> dotted path in the record ('data.plan')")
    non_finite: list[str] = Field([], description="double columns that may hold NaN or infinity; elsewhere such "
                                                   "values are quarantined")

    @field_validator("columns")
    @classmethod
    def _check_columns(cls, value: dict[str, str]) -> dict[str, str]:
        for column, kind in value.items():
            problem = name_problem(column)
            if problem:
                raise ValueError(f"column {column!r}: {problem}")
            if kind not in SOURCE_TYPES:
                raise ValueError(f"column {column!r}: expected one of {', '.join(SOURCE_TYPES)}, found {kind!r}")
        return value

    @model_validator(mode="after")
    def _event_date_is_a_column(self) -> SourceFeed:
        if self.event_date is not None and self.columns.get(self.event_date) not in ("date", "timestamp"):
            raise ValueError(f"event_date {self.event_date!r} must name a date or timestamp column")
        wrong = [c for c in self.non_finite if self.columns.get(c) != "double"]
        if wrong:
            raise ValueError(f"non_finite names {wrong}, which are not double columns")
        return self


class Relation(_Model):
    """A rule between the product's rows and one of its inputs or sources (see ``mesh.quality.relations``).

    ``references: <input>``: every row's key (``key``: this product's column -> the input's) exists in
    the input. ``reconciles: <input>``: ``column`` equals the SQL aggregate ``equals`` over the input's
    rows with the same key, within ``tolerance``; rows whose key the input lacks are not judged
    (a ``references`` rule says whether they may exist).
    """

    references: Name | None = Field(None, description="input or source every row's key must exist in")
    reconciles: Name | None = Field(None, description="input or source whose rows, aggregated per key, give "
                                                      "the value of 'column'")
    key: dict[str, str] = Field(min_length=1, description="this product's key column -> the input's column")
    column: str | None = Field(None, description="reconciles: the column judged")
    equals: str | None = Field(None, description="reconciles: a SQL aggregate over the input's columns, "
                                                 "e.g. 'sum(amount)'")
    tolerance: float = Field(0.0, ge=0.0, description="reconciles: largest absolute difference allowed")
    severity: Literal["error", "warn"] = "error"
    description: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Relation:
        if (self.references is None) == (self.reconciles is None):
            raise ValueError("declare exactly one of 'references' or 'reconciles'")
        if self.reconciles and (self.column is None or not self.equals):
            raise ValueError("'reconciles' needs 'column' (the value judged) and 'equals' (its SQL aggregate)")
        if self.references and (self.column is not None or self.equals is not None or self.tolerance):
            raise ValueError("'column', 'equals' and 'tolerance' belong to 'reconciles' rules only")
        return self

    @property
    def input(self) -> str:
        return self.references or self.reconciles  # type: ignore[return-value]


class Partitioning(_Model):
    column: str = Field(description="date column of the output that assigns each row to its partition")
    lateness_days: int = Field(0, ge=0, le=31, description="how late a record may arrive and still land")


class Freshness(_Model):
    """Either a maximum age (with an optional warning age) or a deadline for the newest partition."""

    max_age: Duration | None = None
    warn_age: Duration | None = None
    deadline: str | None = Field(None, description="time of day by which the previous period's partition exists")
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        return _timezone(value)

    @field_validator("deadline")
    @classmethod
    def _check_deadline(cls, value: str | None) -> str | None:
        if value is not None:
            parse_clock(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Freshness:
        if (self.max_age is None) == (self.deadline is None):
            raise ValueError("declare exactly one of 'max_age' or 'deadline'")
        if self.warn_age is not None and (self.max_age is None or self.warn_age >= self.max_age):
            raise ValueError("'warn_age' must be shorter than 'max_age'")
        return self


class ErrorRate(_Model):
    max: float = Field(ge=0.0, le=1.0, description="largest share of rows that may fail ERROR rules")
    min_rows: int = Field(100, ge=1, description="a partition smaller than this may still have max x min_rows "
                                                 "bad rows, so one bad record does not block a tiny partition")

    def allowed(self, rows_in: int) -> int:
        """How many rows of a partition may fail ERROR rules and the partition still publish."""
        return int(self.max * max(rows_in, self.min_rows) + 1e-9)


class Volume(_Model):
    min_rows: int | None = Field(None, ge=0)
    max_rows: int | None = Field(None, ge=0)
    trailing_partitions: int | None = Field(None, ge=2, le=366, description="median of earlier partitions")
    tolerance: float = Field(0.5, gt=0.0, le=10.0, description="a partition may hold from median / (1 + tolerance) "
                                                                "to median x (1 + tolerance) rows: never negative")

    @model_validator(mode="after")
    def _bounds(self) -> Volume:
        if self.min_rows is not None and self.max_rows is not None and self.min_rows > self.max_rows:
            raise ValueError("'min_rows' must not exceed 'max_rows'")
        if self.min_rows is None and self.max_rows is None and self.trailing_partitions is None:
            raise ValueError("declare 'min_rows', 'max_rows' or 'trailing_partitions'")
        return self

    def bounds(self, earlier: list[int]) -> tuple[float | None, float | None, str]:
        """The rows a partition may hold given the row counts of the partitions before it (oldest
        first): (low, high, how they were set). The band around the median is a ratio, so its lower
        end is positive whenever the median is: a tolerance of 3 allows a quarter to four times it."""
        low, high = self.min_rows, self.max_rows
        how = []
        if low is not None or high is not None:
            how.append(f"contract {low if low is not None else 0}..{high if high is not None else 'any'}")
        recent = earlier[-self.trailing_partitions:] if self.trailing_partitions else []
        if len(recent) >= 2:
            median = statistics.median(recent)
            band_low, band_high = median / (1 + self.tolerance), median * (1 + self.tolerance)
            low = band_low if low is None else max(low, band_low)
            high = band_high if high is None else min(high, band_high)
            how.append(f"median {median:.0f} of {len(recent)} earlier partitions within x/÷{1 + self.tolerance:g}")
        return low, high, "; ".join(how)


class Slo(_Model):
    freshness: Freshness | None = None
    error_rate: ErrorRate = ErrorRate(max=0.05)
    volume: Volume | None = None
    allow_shrink: bool = Field(False, description="a published partition may be replaced by an empty one or by "
                                                  "one below the volume SLO's lower bound (else the run fails)")


class Masking(StrEnum):
    hash = "hash"  # keyed hash: equal values stay equal, so joins keep working
    redact = "redact"  # replaced by a constant


class Retention(_Model):
    days: int = Field(ge=1, le=36600)


class Deprecation(_Model):
    major: int = Field(ge=1)
    readable_until: date


class Chart(_Model):
    kind: Literal["bar", "barh", "line"] = "barh"
    x: str
    y: str
    title: str | None = None


class Presentation(_Model):
    """How the UI shows the product: a Markdown preview of its rows, and optionally a chart."""

    preview_rows: int = Field(20, ge=1, le=500)
    chart: Chart | None = None


class Contract(_Model):
    """``domains/<domain>/<product>.yaml``: what a data product promises to its consumers."""

    name: Name
    description: str = Field(min_length=1)
    kind: Kind
    version: str = "1.0.0"
    owner: str | None = Field(None, description="defaults to the domain's owner")
    access: Access = Access.public
    tags: list[Name] = []
    inputs: dict[Name, Annotated[Input, BeforeValidator(_coerce_input)]] = {}
    sources: dict[Name, SourceFeed] = {}
    partitioning: Partitioning | None = None
    primary_key: list[str] = Field(default_factory=list)
    key_scope: Literal["history", "partition"] = Field(
        "history", description="history: a key is unique across every published partition (a key published in "
                               "another partition is quarantined as a duplicate); partition: within its partition")
    slo: Slo = Slo()
    consumers: list[AddressText] | None = Field(None, description="registered consumers; None: any allowed")
    pii: dict[str, Masking] = {}
    retention: Retention | None = None
    deprecations: list[Deprecation] = []
    parameters: dict[Name, Any] = {}
    relations: dict[Name, Relation] = Field({}, description="rules between the rows and an input or source: "
                                                           "'references' and 'reconciles' (mesh.quality.relations)")
    planned: list[Name] = Field([], description="date or timestamp columns that hold plans or expectations (a "
                                                "commitment, a schedule, an expiry), not events: the mesh-wide rule "
                                                "happened_by_business_day does not judge them "
                                                "(mesh.quality.business_day)")
    presentation: Presentation | None = None
    function: str | None = Field(None, description="'module:function', default assets.<domain>.<product>")
    schema_: str | None = Field(None, alias="schema", description="'module:Model', default checks...")

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not SEMVER_RE.match(value):
            raise ValueError(f"expected a semantic version 'MAJOR.MINOR.PATCH', found {value!r}")
        return value

    @field_validator("owner")
    @classmethod
    def _check_owner(cls, value: str | None) -> str | None:
        return None if value is None else _owner(value)

    @model_validator(mode="after")
    def _coherent(self) -> Contract:
        if self.kind is Kind.source_aligned and not self.sources:
            raise ValueError("a source-aligned product reads at least one operational feed: add 'sources'")
        if self.kind is not Kind.source_aligned and not (self.inputs or self.sources):
            raise ValueError(f"a {self.kind.value} product needs 'inputs' (products it is built from)")
        clash = set(self.inputs) & set(self.sources)
        if clash:
            raise ValueError(f"{sorted(clash)} named both as input and as source")
        if self.partitioning is None and any(i.window is Window.partition for i in self.inputs.values()):
            raise ValueError("window 'partition' needs a partitioned product: add 'partitioning'")
        reserved = {"window", "params"} & (set(self.inputs) | set(self.sources))
        if reserved:
            raise ValueError(f"{sorted(reserved)} are reserved parameter names")
        for name, relation in self.relations.items():
            field = "references" if relation.references else "reconciles"
            if relation.input not in self.inputs and relation.input not in self.sources:
                raise ValueError(f"relations.{name}.{field}: expected one of the contract's inputs or sources "
                                 f"{sorted({*self.inputs, *self.sources})}, found {relation.input!r}")
            feed = self.sources.get(relation.input)
            unknown = [c for c in relation.key.values() if feed is not None and c not in feed.columns]
            if unknown:
                raise ValueError(f"relations.{name}.key: expected columns of source {relation.input}, found {unknown}")
        repeated = sorted({c for c in self.planned if self.planned.count(c) > 1})
        if repeated:
            raise ValueError(f"planned: {repeated} named more than once")
        if self.partitioning is not None and self.partitioning.column in self.planned:
            raise ValueError(f"planned: {self.partitioning.column!r} is the partition column, the business day "
                             f"itself, which is never a plan")
        return self

    @property
    def relation_inputs(self) -> set[str]:
        """Inputs and sources that relation rules read (the function need not take them)."""
        return {relation.input for relation in self.relations.values()}

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def partitioned(self) -> bool:
        return self.partitioning is not None


def describe_duration(value: timedelta) -> str:
    return format_duration(value)


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"] if p not in ("function-before[_name(), str]",))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif "input" in item and item["type"] not in ("value_error",):
            message = f"{message}, found {item['input']!r}"
        problems.append((loc, message))
    return problems


def parse_model(model: type[_Model], data: object, display: str) -> Any:
    if not isinstance(data, dict):
        found = "an empty file" if data is None else type(data).__name__
        raise ContractError(display, [("", f"expected a mapping of fields, found {found}")])
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ContractError(display, _problems(err)) from None


def load_domain(path: Path, display: str) -> Domain:
    return parse_model(Domain, load_yaml(path, display), display)


def load_contract(path: Path, display: str) -> Contract:
    return parse_model(Contract, load_yaml(path, display), display)
