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


SHELF = {
    "domains/shelf/domain.yaml": """\
        name: shelf
        description: A shelf's counts, day by day.
        owner: team:shelf
        snapshots: {cadence: daily, at: "01:00", timezone: UTC, start: "2026-11-01"}
        """,
    "domains/shelf/counts.yaml": """\
        name: counts
        description: Every count, in the partition of its day.
        kind: source-aligned
        version: 1.0.0
        access: public
        function: shelf_code:counts
        schema: shelf_code:Counts
        sources:
          raw: {system: shelf, feed: counts, format: csv, event_date: counted_on,
                columns: {count_id: bigint, counted_on: date, items: bigint}}
        partitioning: {column: counted_on}
        primary_key: [count_id]
        slo:
          error_rate: {max: 0.1, min_rows: 1}
        presentation:
          preview_rows: 5
        """,
    "shelf_code.py": '''\
        import pandas as pd
        import pandera.pandas as pa
        from pandera.typing import Series

        from mesh.types import Date


        def counts(raw: pd.DataFrame) -> pd.DataFrame:
            return raw


        class Counts(pa.DataFrameModel):
            count_id: Series[int] = pa.Field(gt=0, description="count")
            counted_on: Series[Date] = pa.Field(description="day of the count; the partition")
            items: Series[int] = pa.Field(ge=0, description="items on the shelf")
        ''',
}


def _shelf(root, days: dict[str, list[str]]):
    from tests.conftest import small_mesh

    return small_mesh(root, SHELF, {f"shelf/counts/{day}.csv": "count_id,counted_on,items\n" + "\n".join(rows) + "\n"
                                    for day, rows in days.items()})


def _previews(instance: dg.DagsterInstance) -> dict[str, bool]:
    records = instance.fetch_materializations(dg.AssetKey(["shelf", "counts"]), limit=100).records
    return {r.partition_key: "preview" in r.asset_materialization.metadata for r in records}


def test_a_ranged_run_puts_the_preview_on_its_newest_partition_only(tmp_path):
    """The preview (up to 30 kB with a chart) describes the newest partition: on each of a history's
    1,400 partition events it made most of the local instance's size and write time."""
    days = {f"2026-11-0{d}": [f"{d}{i},2026-11-0{d},{i}" for i in range(1, 4)] for d in (1, 2, 3)}
    mesh, env = _shelf(tmp_path, days)
    instance = dg.DagsterInstance.ephemeral()
    assert env.materialize("2026-11-01", "2026-11-03", mesh=mesh, instance=instance).success
    assert _previews(instance) == {"2026-11-01": False, "2026-11-02": False, "2026-11-03": True}
    [newest] = instance.fetch_materializations(dg.AssetKey(["shelf", "counts"]), limit=1).records
    assert newest.partition_key == "2026-11-03"  # the latest event, the one the asset's page shows
    preview = newest.asset_materialization.metadata["preview"]
    assert sorted(r.data["count_id"] for r in preview.records) == [31, 32, 33]


def test_a_run_with_a_rejected_partition_puts_the_preview_on_its_last_published_one(tmp_path):
    days = {"2026-11-01": ["11,2026-11-01,1", "12,2026-11-01,2"],
            "2026-11-02": ["21,2026-11-02,1", "22,2026-11-02,2"],
            "2026-11-03": ["31,2026-11-03,-1", "32,2026-11-03,-2"]}  # every row fails items >= 0: rejected
    mesh, env = _shelf(tmp_path, days)
    instance = dg.DagsterInstance.ephemeral()
    result = env.materialize("2026-11-01", "2026-11-03", mesh=mesh, instance=instance, raise_on_error=False)
    assert not result.success
    assert _previews(instance) == {"2026-11-01": False, "2026-11-02": True}
