"""Quality rules from pandera models, evaluated row by row so that failures can be quarantined.

A product's pandera ``DataFrameModel`` declares its columns (type, nullability, description) and
its named business rules. This module turns the model into ``Rule`` objects and evaluates them
lazily over a frame in one pass: every rule runs, a rule that raises is reported as that rule's
error, and each rule yields the mask of rows it rejects. What to do with the masks (quarantine,
publish, check results) is ``mesh.quality.wap``; how checks appear in Dagster is ``mesh.orchestration.compile``.

Domain code declares severity and blocking next to a rule with ``**rule(...)``::

    @pa.check("discount", name="discount_is_a_fraction", **rule(severity="warn"))
"""

from __future__ import annotations

import re
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

Severity = Literal["error", "warn"]
STRUCTURE = "structure"
_BLOCKING = "mesh_blocking"


def rule(severity: Severity = "error", blocking: bool | None = None) -> dict[str, Any]:
    """Keyword arguments for ``pa.check``/``pa.dataframe_check`` that declare severity and blocking.

    ERROR rules quarantine the rows they reject and, by default, block downstream products when the
    partition is rejected; WARN rules only report. Blocking defaults to True for ERROR rules.
    """
    if severity not in ("error", "warn"):
        raise ValueError(f"severity must be 'error' or 'warn', found {severity!r}")
    blocks = (severity == "error") if blocking is None else blocking
    return {"raise_warning": severity == "warn", "statistics": {_BLOCKING: blocks}}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: Any  # a pandera DataType
    nullable: bool
    description: str

    @cached_property
    def type_name(self) -> str:  # cached: str() of a pandera dtype is slow, and compiling asks per column
        return logical_type(self.dtype)


@dataclass(frozen=True)
class Rule:
    """One named business rule of a product: a Dagster asset check of its own."""

    name: str
    columns: tuple[str, ...]  # the column of a column rule; () for a rule over the whole frame
    severity: Severity
    blocking: bool
    description: str
    check: Any = field(compare=False, repr=False)

    @property
    def column(self) -> str | None:
        return self.columns[0] if self.columns else None


@dataclass(frozen=True)
class Schema:
    """What the compiler and the validator need from a pandera model."""

    model_name: str
    columns: tuple[ColumnSpec, ...]
    rules: tuple[Rule, ...]
    key: tuple[str, ...]
    filter_extra: bool = False  # Config.strict = "filter": columns the model does not declare are dropped
    ordered: bool = False  # Config.ordered: the columns must come in the model's order

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def _check_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def logical_type(dtype: Any) -> str:
    """A portable type name for a pandera dtype: what contracts, catalogs and exports show."""
    text = str(dtype).lower()
    if "date32" in text or text == "date":
        return "date"
    if "datetime" in text or "timestamp" in text:
        return "timestamp"
    if "bool" in text:
        return "boolean"
    if text.startswith(("int", "uint")):
        return "bigint" if "64" in text or text in ("int", "int64") else "integer"
    if "float" in text or "double" in text:
        return "double"
    if "decimal" in text:
        return text
    if "str" in text or "object" in text or "large_string" in text:
        return "string"
    return text


class UnsupportedFeature(ValueError):
    """A pandera feature the mesh cannot honor with pandera's own semantics: refused when definitions load."""


def schema_from_model(model: type[pa.DataFrameModel], key: list[str]) -> Schema:
    """Read columns and rules out of a pandera model; field constraints become rules too.

    The pandera features a model may use, and what the mesh does with them (the same outcome as
    pandera's ``validate`` over a run's output, with failing rows quarantined by rule, not raised):

    - types, ``nullable`` and every check (built-in or custom, column or frame, ``element_wise``,
      ``ignore_na``): evaluated row by row; failing rows are quarantined under the check's name;
    - ``Field(unique=True)`` and ``Config.unique = [columns]``: a rule ``<column>_unique`` /
      ``unique_<a>_<b>``: every occurrence of a repeated value fails (pandera's default report);
    - ``Config.strict``: every model is strict (columns the model does not declare fail the chunk,
      the mesh publishes exactly its contract); ``strict = "filter"`` drops them instead;
    - ``Config.ordered``: columns out of the model's order fail the chunk;
    - ``coerce``: the mesh always coerces cell by cell and quarantines cells that do not convert;
    - ``drop_invalid_rows``: invalid rows are never published (and are quarantined, not dropped);
    - titles, descriptions and metadata: shown in the catalog.

    Anything else (index fields, ``regex`` column names, optional columns, defaults, parsers,
    ``add_missing_columns``, a model-wide ``dtype``, grouped checks) raises ``UnsupportedFeature``
    naming the model, the field and the feature.
    """
    schema = model.to_schema()
    _refuse_unsupported(model.__name__, schema)
    columns = []
    rules: list[Rule] = []
    for name, column in schema.columns.items():
        columns.append(ColumnSpec(name, column.dtype, bool(column.nullable), column.description or ""))
        for check in column.checks:
            custom = check.name not in _BUILTIN_NAMES
            rule_name = _check_name(check.name if custom else f"{name}_{_BUILTIN_NAMES[check.name]}")
            rules.append(_rule(rule_name, (name,), check, default_description=_describe(check, name)))
        if column.unique:
            rules.append(_unique_rule((name,)))
    for check in schema.checks:
        rules.append(_rule(_check_name(check.name), (), check, default_description=check.name))
    if schema.unique:
        together = (schema.unique,) if isinstance(schema.unique, str) else tuple(schema.unique)
        unknown = [c for c in together if c not in schema.columns]
        if unknown:
            raise ValueError(f"{model.__name__}: Config.unique names {unknown}, which are not columns of the model")
        rules.append(_unique_rule(together))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1} | ({STRUCTURE} & set(names)))
    if duplicates:
        raise ValueError(f"{model.__name__}: rule names must be unique and not 'structure': {duplicates}")
    return Schema(model.__name__, tuple(columns), tuple(rules), tuple(key),
                  filter_extra=schema.strict == "filter", ordered=bool(schema.ordered))


def _refuse_unsupported(model: str, schema: Any) -> None:
    found = []
    if schema.index is not None:
        found.append(("the index", "index fields (the mesh publishes columns only)"))
    for feature, unused in (("add_missing_columns", False), ("dtype", None)):
        if getattr(schema, feature) != unused:
            found.append(("Config", f"{feature} = {getattr(schema, feature)!r}"))
    if schema.parsers:
        found.append(("the model", "dataframe parsers"))
    for name, column in schema.columns.items():
        if column.regex:
            found.append((name, "regex=True (column names must be literal)"))
        if not column.required:
            found.append((name, "required=False (every column is published)"))
        if column.default is not None:
            found.append((name, f"default={column.default!r}"))
        if column.parsers:
            found.append((name, "parsers"))
        for check in column.checks:
            if check.groupby is not None:
                found.append((name, f"check {check.name} with groupby"))
    if found:
        listed = "; ".join(f"{where}: {what}" for where, what in found)
        raise UnsupportedFeature(f"{model} uses pandera features the mesh does not support: {listed}")


def _unique_rule(columns: tuple[str, ...]) -> Rule:
    """pandera's uniqueness as a rule: every occurrence of a repeated value fails; a null repeats nothing in
    one column, but a repeated combination of several columns fails with or without nulls (as in pandera)."""
    listed = list(columns)
    if len(columns) == 1:
        name = f"{columns[0]}_unique"
        check = pa.Check(lambda series: ~series.duplicated(keep=False) | series.isna(), name=name, ignore_na=False)
    else:
        name = "unique_" + "_".join(columns)
        check = pa.Check(lambda frame: ~frame[listed].duplicated(keep=False), name=name, ignore_na=False)
    description = (f"{', '.join(columns)} unique in a run's output (pandera unique: every occurrence of a "
                   f"repeated value fails)")
    return Rule(_check_name(name), columns if len(columns) == 1 else (), "error", True, description, check)


_BUILTIN_NAMES = {
    "greater_than": "above_min",
    "greater_than_or_equal_to": "at_least_min",
    "less_than": "below_max",
    "less_than_or_equal_to": "at_most_max",
    "in_range": "in_range",
    "isin": "in_allowed_set",
    "notin": "not_in_forbidden_set",
    "equal_to": "equals_value",
    "not_equal_to": "not_value",
    "str_matches": "matches_pattern",
    "str_contains": "contains_pattern",
    "str_startswith": "has_prefix",
    "str_endswith": "has_suffix",
    "str_length": "length_in_range",
    "unique_values_eq": "has_exact_values",
}


def _describe(check: Any, column: str) -> str:
    if check.error:
        return f"{column}: {check.error}"
    stats = ", ".join(f"{k}={v}" for k, v in (check.statistics or {}).items() if k != _BLOCKING)
    return f"{column}: {check.name}({stats})"


def _rule(name: str, columns: tuple[str, ...], check: Any, default_description: str) -> Rule:
    severity: Severity = "warn" if check.raise_warning else "error"
    blocking = (check.statistics or {}).get(_BLOCKING, severity == "error")
    description = (check.description or check.title or default_description).strip()
    return Rule(name, columns, severity, bool(blocking), description, check)


@dataclass
class RuleOutcome:
    """What one rule found in a frame: the rows it rejects, or why it could not be evaluated."""

    rule: Rule
    failing: np.ndarray | None = None  # bool per row; None when the rule errored
    failed_whole_frame: bool = False  # a rule returning one boolean that was False
    error: str | None = None  # the exception the rule raised, if it did
    reasons: dict[int, str] | None = None  # why each failing row failed, when the rule can say (mesh.quality.relations)
    columns: dict[int, str] | None = None  # the column each failing row failed on, for a rule over several

    @property
    def failing_rows(self) -> int:
        return int(self.failing.sum()) if self.failing is not None else 0

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failed_whole_frame and self.failing_rows == 0


@dataclass
class StructureOutcome:
    """Column-set problems (the whole batch is unusable) and row-level type/null/key failures."""

    fatal: list[str]
    failing: np.ndarray
    reasons: list[tuple[str, np.ndarray, str]]  # (column, mask, reason)


def check_structure(frame: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, StructureOutcome]:
    """Coerce columns to their declared types and find rows with bad types, nulls or duplicate keys.

    Returns the frame with columns in schema order and declared dtypes (failing cells set to null).
    """
    expected = schema.column_names
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if extra and schema.filter_extra:
        frame, extra = frame.drop(columns=extra), []
    fatal = []
    if missing:
        fatal.append(f"missing columns {missing}")
    if extra:
        fatal.append(f"columns not in the schema {extra}")
    if schema.ordered and not fatal and list(frame.columns) != expected:
        fatal.append(f"columns out of the model's order: expected {expected}, found {list(frame.columns)}")
    n = len(frame)
    failing = np.zeros(n, dtype=bool)
    reasons: list[tuple[str, np.ndarray, str]] = []
    if fatal:
        return frame, StructureOutcome(fatal, failing, reasons)
    out = {}
    for spec in schema.columns:
        series = frame[spec.name]
        coerced, bad = _coerce(series, spec)
        if bad.any():
            reasons.append((spec.name, bad, f"value is not a valid {spec.type_name}"))
        if not spec.nullable:
            nulls = coerced.isna().to_numpy() & ~bad
            if nulls.any():
                reasons.append((spec.name, nulls, "null in a non-nullable column"))
        out[spec.name] = coerced
    result = pd.DataFrame(out, index=frame.index)
    if schema.key and n:
        key = list(schema.key)  # a row with a null key part is reported as a null, not as a duplicate
        dupes = (result.duplicated(subset=key, keep="first") & result[key].notna().all(axis=1)).to_numpy()
        if dupes.any():
            reasons.append((",".join(schema.key), dupes, f"duplicate key {list(schema.key)}"))
    for _, mask, _ in reasons:
        failing |= mask
    return result, StructureOutcome(fatal, failing, reasons)


def coerce_datetimes(values: pd.Series) -> pd.Series:
    """Each value as a moment, NaT where it is none: values with no common format are parsed one by
    one, as intended here, without pandas' warning that it falls back to doing so."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        return pd.to_datetime(values, errors="coerce")


def _coerce(series: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, np.ndarray]:
    """Vectorised coercion to the declared type; cells that cannot be converted become null and bad.

    Integer columns that hold nulls stay in pandas' nullable Int64 until ``finalize`` runs on the
    rows that survive, since numpy integers cannot hold a null.
    """
    nothing = np.zeros(len(series), dtype=bool)
    if spec.dtype.check(_engine_dtype(series)):
        return series, nothing
    kind = spec.type_name
    present = series.notna().to_numpy()
    if kind in ("bigint", "integer", "double"):
        numbers = pd.to_numeric(series, errors="coerce")
        bad = present & numbers.isna().to_numpy()
        if kind != "double":
            fractional = (numbers.notna() & (numbers % 1 != 0)).to_numpy()
            bad |= fractional
            numbers = numbers.where(~fractional)
            return (numbers.astype("Int64") if numbers.isna().any() else numbers.astype(str(spec.dtype))), bad
        return numbers.astype("float64"), bad
    if kind in ("date", "timestamp"):
        moments = coerce_datetimes(series)
        if not pd.api.types.is_datetime64_any_dtype(series.dtype):  # pandas reads "now" and "today" as the
            words = series.astype("string").str.strip().str.lower()  # wall clock: a fabricated date
            clock = words.isin(["now", "today"]).fillna(False).to_numpy(bool)
            moments = moments.mask(clock) if clock.any() else moments
        bad = present & moments.isna().to_numpy()
        if bad.any() and not isinstance(moments.dtype, pd.DatetimeTZDtype):
            # pandas reads every text in the first one's format: other ISO 8601 forms are dates too (a text
            # with a zone, in a column without one, stays bad)
            texts = series[bad].astype(str)
            again = texts.map({t: _iso_moment(t) for t in texts.unique()})
            moments = moments.copy()
            moments[bad] = pd.to_datetime(again, errors="coerce").astype(moments.dtype)
            bad = present & moments.isna().to_numpy()
        if kind == "date":
            return moments.dt.date.astype(spec.dtype.type), bad
        return spec.dtype.coerce(moments), bad
    try:
        return spec.dtype.coerce(series), nothing
    except Exception:
        bad = present.copy()
        return pd.Series(pd.NA, index=series.index, dtype="object"), bad


def _iso_moment(text: str) -> datetime | None:
    """An ISO 8601 date or time without a zone, or None."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is None else None


def finalize(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Cast the rows that passed to exactly the declared dtypes (nullable intermediates removed)."""
    return pd.DataFrame({c.name: c.dtype.coerce(frame[c.name]) for c in schema.columns}, index=frame.index)


def _engine_dtype(series: pd.Series) -> Any:
    from pandera.engines import pandas_engine

    try:
        return pandas_engine.Engine.dtype(series.dtype)
    except TypeError:
        return series.dtype


def _user_frame(err: BaseException) -> str:
    """The innermost traceback frame outside installed libraries: where the rule's own code failed."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "site-packages" not in f.filename]
    chosen = frames[-1] if frames else traceback.extract_tb(err.__traceback__)[-1]
    return f"{chosen.filename.rsplit('/', 1)[-1]}:{chosen.lineno}"


def evaluate_rules(frame: pd.DataFrame, schema: Schema, skip: np.ndarray | None = None,
                   severity: Severity | None = None) -> list[RuleOutcome]:
    """Run every rule (of one severity) over the frame; rows flagged in ``skip`` count as passing."""
    n = len(frame)
    outcomes = []
    for r in schema.rules:
        if severity is not None and r.severity != severity:
            continue
        try:
            result = r.check(frame[r.column]) if r.column else r.check(frame)
            output = result.check_output
            if isinstance(output, pd.Series | pd.DataFrame):
                if isinstance(output, pd.DataFrame):
                    output = output.all(axis="columns")
                passing = output.reindex(frame.index, fill_value=True).fillna(True).to_numpy(dtype=bool)
                failing = ~passing
                if skip is not None:
                    failing &= ~skip
                outcomes.append(RuleOutcome(r, failing=failing))
            else:
                outcomes.append(RuleOutcome(r, failing=np.zeros(n, dtype=bool), failed_whole_frame=not bool(output)))
        except Exception as err:
            where = _user_frame(err)
            outcomes.append(RuleOutcome(r, error=f"{type(err).__name__}: {err} (at {where})"))
    return outcomes
