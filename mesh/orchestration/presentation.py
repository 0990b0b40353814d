"""Presentation of a product in the UI: a Markdown preview of its rows and a chart, from the contract.

    presentation:
      preview_rows: 30
      chart: {kind: barh, x: product, y: check_pass_rate, title: Check pass rate}

The preview is a table entry, which the asset's page shows in place: a Markdown entry over 1,000
characters (any preview of a few rows) hides behind a "[Show Markdown]" button there. The chart is
drawn with matplotlib and embedded in the materialization's metadata as an image. Only the contract
decides what is shown; nothing here knows a domain.
"""

from __future__ import annotations

import base64
import io
import math

import dagster as dg
import numpy as np
import pandas as pd

from mesh.contracts.contract import Presentation
from mesh.orchestration.reporting import MAX_CELL

MAX_CHART_ROWS = 5000


def render_chart(frame: pd.DataFrame, presentation: Presentation) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chart = presentation.chart
    data = frame[[chart.x, chart.y]].dropna().head(MAX_CHART_ROWS)
    height = max(3.0, 0.28 * len(data)) if chart.kind == "barh" else 4.0
    figure, axis = plt.subplots(figsize=(8, min(height, 24)))
    try:
        if chart.kind == "barh":
            axis.barh(data[chart.x].astype(str), data[chart.y])
            axis.invert_yaxis()
            axis.set_xlabel(chart.y)
        elif chart.kind == "bar":
            axis.bar(data[chart.x].astype(str), data[chart.y])
            axis.set_ylabel(chart.y)
            axis.tick_params(axis="x", labelrotation=60)
        else:
            axis.plot(pd.to_datetime(data[chart.x].astype(str)), data[chart.y], marker=".")
            axis.set_ylabel(chart.y)
        axis.set_title(chart.title or f"{chart.y} by {chart.x}")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        return buffer.getvalue()
    finally:
        plt.close(figure)


def metadata(frame: pd.DataFrame, presentation: Presentation | None, chart_png: bytes | None) -> dict[str, object]:
    if presentation is None:
        return {}
    out: dict[str, object] = {"preview": preview_table(frame, presentation.preview_rows)}
    if chart_png is not None:
        encoded = base64.b64encode(chart_png).decode()
        title = presentation.chart.title or "chart"
        out["chart"] = dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")
    return out


def preview_table(frame: pd.DataFrame, limit: int) -> dg.TableMetadataValue:
    """The first ``limit`` rows as a table entry, with the frame's column types."""
    shown = frame.head(limit)
    columns = [dg.TableColumn(str(name), _column_type(dtype)) for name, dtype in shown.dtypes.items()]
    records = [dg.TableRecord({str(k): _cell(v) for k, v in row.items()}) for row in shown.to_dict("records")]
    return dg.MetadataValue.table(records, dg.TableSchema(columns))


def _column_type(dtype) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "date" if pd.api.types.is_datetime64_any_dtype(dtype) else "string"


def _cell(value: object) -> str | int | float | bool | None:
    """A value a table record holds: numbers and booleans as they are, the rest as shortened text."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value  # an infinity stays text: the page parses records as JSON, which has none
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
