"""The preview a contract asks for is a table the asset's page shows in place, not behind a button."""

from __future__ import annotations

import math
from datetime import date

import dagster as dg
import numpy as np
import pandas as pd

from mesh.contracts.contract import Presentation
from mesh.orchestration.presentation import metadata


def test_preview_is_a_table_entry_with_plain_values():
    frame = pd.DataFrame({"product": ["sales.orders", "sales.order_lines" + "x" * 80, None],
                          "check_pass_rate": [1.0, np.nan, math.inf],
                          "quarantined_rows": pd.array([0, 12, None], dtype="Int64"),
                          "is_breached": [False, True, False],
                          "newest_partition": [date(2026, 11, 2), None, date(2026, 11, 1)]})
    preview = metadata(frame, Presentation(preview_rows=2), None)["preview"]
    assert isinstance(preview, dg.TableMetadataValue)  # Markdown over 1,000 characters needs a click in the UI
    assert [(c.name, c.type) for c in preview.schema.columns] == [
        ("product", "string"), ("check_pass_rate", "float"), ("quarantined_rows", "int"), ("is_breached", "bool"),
        ("newest_partition", "string")]
    first, second = (r.data for r in preview.records)
    assert len(preview.records) == 2  # the contract's preview_rows
    assert first == {"product": "sales.orders", "check_pass_rate": 1.0, "quarantined_rows": 0, "is_breached": False,
                     "newest_partition": "2026-11-02"}
    assert second["check_pass_rate"] is None and second["quarantined_rows"] == 12 and second["is_breached"] is True
    assert second["product"].endswith("…") and len(second["product"]) == 60
    assert type(second["quarantined_rows"]) is int  # numpy scalars would not serialize


def test_an_infinity_stays_text():
    frame = pd.DataFrame({"ratio": [math.inf]})
    record = metadata(frame, Presentation(preview_rows=5), None)["preview"].records[0]
    assert record.data == {"ratio": "inf"}
