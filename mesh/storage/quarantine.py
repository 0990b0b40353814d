"""The quarantine record: one row per rejected input record, saying what, where and why.

Rows rejected when a feed is read (malformed, wrong type, late) and rows rejected by a product's
ERROR rules share this shape, so ``<domain>.<product>__quarantine`` reads the same for both.
Holds the schema and builders; deciding what to reject is ``mesh.storage.sources`` and ``mesh.quality.wap``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

SCHEMA = pa.schema(
    [
        pa.field("partition", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),  # 'read' or 'validate'
        pa.field("rule", pa.string(), nullable=False),
        pa.field("column", pa.string()),
        pa.field("value", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("rules_failed", pa.string()),  # every rule the record broke, comma separated
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int64()),
        pa.field("record", pa.string()),  # the record as JSON, or the raw line when unreadable
        pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

MAX_TEXT = 4000  # a hostile 10 MB line must not bloat the quarantine


@dataclass
class Entry:
    partition: str
    stage: str
    rule: str
    reason: str
    column: str | None = None
    value: Any = None
    rules_failed: str | None = None
    source_file: str | None = None
    source_line: int | None = None
    record: str | None = None


def clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"... [{len(text) - MAX_TEXT} more characters]"


def _scalar(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def record_json(row: dict[str, Any]) -> str:
    return clip(json.dumps({k: _scalar(v) for k, v in row.items()}, default=str, ensure_ascii=False)) or ""


def value_text(value: Any) -> str | None:
    scalar = _scalar(value)
    return None if scalar is None else clip(str(scalar))


def to_table(entries: list[Entry], run_id: str) -> pa.Table:
    now = datetime.now(UTC)
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for e in entries:
        columns["partition"].append(e.partition)
        columns["run_id"].append(run_id)
        columns["stage"].append(e.stage)
        columns["rule"].append(e.rule)
        columns["column"].append(e.column)
        columns["value"].append(value_text(e.value))
        columns["reason"].append(clip(e.reason))
        columns["rules_failed"].append(e.rules_failed or e.rule)
        columns["source_file"].append(e.source_file)
        columns["source_line"].append(e.source_line)
        columns["record"].append(clip(e.record))
        columns["quarantined_at"].append(now)
    return pa.table(columns, schema=SCHEMA)


def empty() -> pa.Table:
    return SCHEMA.empty_table()
