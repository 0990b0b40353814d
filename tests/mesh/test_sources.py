"""Reading operational feeds: every record is typed, or quarantined with its file, line and reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mesh.contract import SourceFeed
from mesh.errors import NotFound
from mesh.partitions import RunWindow
from mesh.registry import load_mesh
from mesh.sources import LINEAGE_BASE, read_sources

FEED = SourceFeed(system="erp", feed="orders", event_date="day",
                  columns={"order_id": "bigint", "amount": "double", "day": "date", "note": "varchar"})


def window(first: str, last: str | None = None) -> RunWindow:
    return RunWindow.of_keys(load_mesh().domains["sales"], first, last or first)


def write(root: Path, day: str, text: str) -> Path:
    path = root / "erp" / "orders" / f"{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_good_bad_and_ugly_lines(tmp_path):
    path = write(tmp_path, "2026-11-01", "\n".join([
        "order_id,amount,day,note",
        "1,10.5,2026-11-01,fine",
        '2,"3.0",2026-11-01,"quoted, with comma"',
        "3,abc,2026-11-01,wrong type",
        "4,1.0,2026-11-01",  # a field missing
        '5,1.0,2026-11-01,"unterminated',
        "6,1.0,2026-10-01,too late",
        "7,1.0,2026-11-09,from the future",
        ",2.0,2026-11-01,null key is kept for the product's structure check",
        "8,1.0,,no date",
        "9,1.0,2026-11-01,ünïcödé ✓ " + "x" * 5000,
    ]) + "\n")
    batch = read_sources(tmp_path, {"orders": FEED}, window("2026-11-01"), lateness_days=0)
    frame = batch.frames["orders"]
    assert list(frame["order_id"].astype("object").where(frame["order_id"].notna(), None)) == [1, 2, None, 9]
    assert frame.loc[frame["order_id"] == 2, "note"].iloc[0] == "quoted, with comma"
    assert str(frame["day"].dtype) == "date32[day][pyarrow]"
    rejects = {e.source_line: e for e in batch.rejects}
    assert set(rejects) == {4, 5, 6, 7, 8, 10}
    assert rejects[4].rule == "type_mismatch" and rejects[4].column == "amount" and rejects[4].value == "abc"
    assert rejects[5].rule == "malformed_record" and "expected 4 fields, found 3" in rejects[5].reason
    assert rejects[6].rule == "malformed_record"
    assert rejects[7].rule == "late_record" and "2026-10-01" in rejects[7].reason
    assert rejects[8].rule == "future_record"
    assert rejects[10].rule == "missing_event_date"
    assert all(e.source_file == str(path) and e.partition == "2026-11-01" for e in batch.rejects)
    # nothing lost: every data line is either a row or a quarantine entry
    assert len(frame) + len(batch.rejects) == 10 == batch.rows_read["2026-11-01"]
    # provenance travels in the index
    files, lines = batch.lineage.locate(frame.index)
    assert lines == [2, 3, 9, 11] and set(files) == {str(path)}
    assert frame.index[0] == LINEAGE_BASE


def test_late_records_within_lateness_land_in_their_own_partition(tmp_path):
    write(tmp_path, "2026-11-01", "order_id,amount,day,note\n1,1.0,2026-11-01,on time\n")
    write(tmp_path, "2026-11-02", "order_id,amount,day,note\n2,1.0,2026-11-01,a day late\n3,1.0,2026-11-02,x\n")
    batch = read_sources(tmp_path, {"orders": FEED}, window("2026-11-01"), lateness_days=1)
    assert sorted(batch.frames["orders"]["order_id"].tolist()) == [1, 2]
    assert batch.rows_read == {"2026-11-01": 2}
    # and the day it arrived does not count it again
    later = read_sources(tmp_path, {"orders": FEED}, window("2026-11-02"), lateness_days=1)
    assert later.frames["orders"]["order_id"].tolist() == [3]


def test_missing_file_is_a_clear_error(tmp_path):
    write(tmp_path, "2026-11-01", "order_id,amount,day,note\n")
    with pytest.raises(NotFound, match=r"operational file .*2026-11-02\.\* is missing: feed erp/orders has no data"):
        read_sources(tmp_path, {"orders": FEED}, window("2026-11-01", "2026-11-02"), lateness_days=0)


def test_empty_partition_reads_as_no_rows(tmp_path):
    write(tmp_path, "2026-11-01", "order_id,amount,day,note\n")
    batch = read_sources(tmp_path, {"orders": FEED}, window("2026-11-01"), lateness_days=0)
    assert len(batch.frames["orders"]) == 0 and not batch.rejects
    assert list(batch.frames["orders"].columns) == ["order_id", "amount", "day", "note"]


def test_parquet_and_jsonl_feeds(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "erp" / "orders"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"order_id": [1, 2], "amount": [1.5, 2.5], "day": [dt.date(2026, 11, 1)] * 2,
                             "note": ["a", "b"]}), folder / "2026-11-01.parquet")
    (folder / "2026-11-02.jsonl").write_text(
        '{"order_id": 3, "amount": 1, "day": "2026-11-02", "note": "n"}\n{"order_id": \n[1]\n')
    batch = read_sources(tmp_path, {"orders": FEED}, window("2026-11-01", "2026-11-02"), lateness_days=0)
    assert sorted(batch.frames["orders"]["order_id"].tolist()) == [1, 2, 3]
    assert [e.rule for e in batch.rejects] == ["malformed_record", "malformed_record"]
    assert [e.source_line for e in batch.rejects] == [2, 3]
