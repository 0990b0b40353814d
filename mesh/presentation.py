"""Presentation of a product in the UI: a Markdown preview of its rows and a chart, from the contract.

    presentation:
      preview_rows: 30
      chart: {kind: barh, x: product, y: check_pass_rate, title: Check pass rate}

The chart is drawn with matplotlib, stored beside the product (``_chart.png``) and embedded in the
materialization's metadata. Only the contract decides what is shown; nothing here knows a domain.
"""

from __future__ import annotations

import base64
import io

import dagster as dg
import pandas as pd

from mesh.contract import Presentation
from mesh.reporting import markdown_table

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
    out: dict[str, object] = {"preview": dg.MetadataValue.md(markdown_table(frame, presentation.preview_rows))}
    if chart_png is not None:
        encoded = base64.b64encode(chart_png).decode()
        title = presentation.chart.title or "chart"
        out["chart"] = dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")
    return out
