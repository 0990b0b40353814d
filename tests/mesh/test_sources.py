"""Reading operational feeds: every record is typed, or quarantined with its file, line and reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mesh.contracts.contract import SourceFeed
from mesh.contracts.partitions import RunWindow
from mesh.contracts.registry import load_mesh
from mesh.errors import NotFound
from mesh.storage.sources import LINEAGE_BASE, read_sources

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
        '5,1.0,2026-11-01,"stray" quote',
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


# -- hostile feeds (issue 13): real CSV, exact numbers, no infinity ------------------------------------------
def _read(root: Path, feed: SourceFeed = FEED, day: str = "2026-11-01"):
    return read_sources(root, {"orders": feed}, window(day), lateness_days=0)


def test_csv_is_read_per_rfc_4180_with_bom_crlf_and_quoted_line_breaks(tmp_path):
    path = tmp_path / "erp" / "orders" / "2026-11-01.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes("\ufefforder_id,amount,day,note\r\n"
                     '1,1.5,2026-11-01,"first line\r\nsecond line"\r\n'
                     '2,2.5,2026-11-01,"said ""hi"", left"\r\n'
                     '3,3.5,2026-11-01,"a\nb\nc"\r\n'
                     "4,4.5,2026-11-01,plain\r\n".encode())
    batch = _read(tmp_path)
    frame = batch.frames["orders"]
    assert frame["order_id"].tolist() == [1, 2, 3, 4] and not batch.rejects
    assert frame["note"].tolist() == ["first line\r\nsecond line", 'said "hi", left', "a\nb\nc", "plain"]
    assert batch.rows_read == {"2026-11-01": 4}  # four records, not one per physical line
    assert batch.lineage.locate(frame.index)[1] == [2, 4, 5, 8]  # each record's first line


def test_a_last_record_without_its_newline_is_quarantined_as_truncated(tmp_path):
    write(tmp_path, "2026-11-01", "order_id,amount,day,note\n1,1.0,2026-11-01,a\n2,33,2026-11-01,3")
    batch = _read(tmp_path)
    assert batch.frames["orders"]["order_id"].tolist() == [1]
    [entry] = batch.rejects
    assert (entry.rule, entry.source_line) == ("malformed_record", 3)
    assert entry.reason.startswith("truncated CSV record") and entry.record == "2,33,2026-11-01,3"
    assert batch.rows_read == {"2026-11-01": 2}


def test_an_unterminated_quote_is_one_malformed_record_not_a_crash(tmp_path):
    write(tmp_path, "2026-11-01", 'order_id,amount,day,note\n1,1.0,2026-11-01,a\n2,1.0,2026-11-01,"open\n3,1,x,y\n')
    batch = _read(tmp_path)
    assert batch.frames["orders"]["order_id"].tolist() == [1]
    [entry] = batch.rejects
    assert entry.source_line == 3 and "malformed CSV record" in entry.reason and "3,1,x,y" in entry.record


BIG = ["99999999999999999999", "9223372036854775808", "-9223372036854775809", "1e19"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_integers_are_exact_or_quarantined_naming_column_value_file_and_line(tmp_path, fmt):
    rows = [("9007199254740993", "1.0"), ("9223372036854775807", "2"), ("12.0", "3")]
    rows += [(big, "4") for big in BIG] + [("5.5", "5")]
    folder = tmp_path / "erp" / "orders"
    folder.mkdir(parents=True)
    if fmt == "csv":
        path = folder / "2026-11-01.csv"
        path.write_text("order_id,amount,day,note\n" + "".join(f"{k},{a},2026-11-01,n\n" for k, a in rows))
        first = 2
    else:
        path = folder / "2026-11-01.jsonl"  # JSON numbers as written: no float on the way
        path.write_text("".join(f'{{"order_id": {k}, "amount": {a}, "day": "2026-11-01", "note": "n"}}\n'
                                for k, a in rows))
        first = 1
    batch = _read(tmp_path)
    assert [int(v) for v in batch.frames["orders"]["order_id"]] == [9007199254740993, 2**63 - 1, 12]
    assert len(batch.rejects) == 5 and batch.rows_read == {"2026-11-01": 8}
    for entry, line in zip(batch.rejects, range(first + 3, first + 8), strict=True):
        assert (entry.rule, entry.column, entry.source_file, entry.source_line) == (
            "type_mismatch", "order_id", str(path), line)
    assert "outside the bigint range" in batch.rejects[0].reason and str(batch.rejects[0].value) == BIG[0]
    assert "not a whole number" in batch.rejects[-1].reason


def test_integer_columns_hold_the_int32_range(tmp_path):
    feed = FEED.model_copy(update={"columns": {**FEED.columns, "order_id": "integer"}})
    write(tmp_path, "2026-11-01", "order_id,amount,day,note\n2147483647,1,2026-11-01,a\n2147483648,1,2026-11-01,b\n")
    batch = _read(tmp_path, feed)
    assert batch.frames["orders"]["order_id"].tolist() == [2147483647]
    assert "outside the integer range" in batch.rejects[0].reason


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_nan_and_infinity_are_quarantined_unless_the_contract_allows_them(tmp_path, fmt):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "erp" / "orders"
    folder.mkdir(parents=True)
    amounts = ["1.5", "1e309", "Infinity", "-Infinity", "NaN"]
    if fmt == "csv":
        (folder / "2026-11-01.csv").write_text(
            "order_id,amount,day,note\n" + "".join(f"{i},{a},2026-11-01,n\n" for i, a in enumerate(amounts)))
    elif fmt == "jsonl":
        (folder / "2026-11-01.jsonl").write_text("".join(
            f'{{"order_id": {i}, "amount": {a}, "day": "2026-11-01", "note": "n"}}\n' for i, a in enumerate(amounts)))
    else:
        pq.write_table(pa.table({"order_id": range(5), "amount": [float(a) for a in amounts],
                                 "day": [dt.date(2026, 11, 1)] * 5, "note": ["n"] * 5}), folder / "2026-11-01.parquet")
    batch = _read(tmp_path)
    assert batch.frames["orders"]["amount"].tolist() == [1.5]
    assert [e.rule for e in batch.rejects] == ["type_mismatch"] * 4
    assert all(e.column == "amount" and "non_finite" in e.reason for e in batch.rejects)
    allowed = _read(tmp_path, FEED.model_copy(update={"non_finite": ["amount"]}))
    assert not allowed.rejects and len(allowed.frames["orders"]) == 5
    assert sorted(allowed.frames["orders"]["amount"].dropna().tolist()) == [float("-inf"), 1.5, float("inf"),
                                                                            float("inf")]


def test_non_finite_may_name_double_columns_only():
    with pytest.raises(ValueError, match=r"non_finite names \['order_id'\], which are not double columns"):
        SourceFeed(system="erp", feed="orders", columns={"order_id": "bigint"}, non_finite=["order_id"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])  # DuckDB cannot partition a JSON COPY
def test_a_day_duckdb_writes_in_several_files_keeps_every_row(tmp_path, fmt):
    """More days than DuckDB keeps open at once (100): it writes some days in several files, and each
    day's feed file must hold all of them (keeping the first lost rows from scale factor 0.1 up)."""
    import duckdb

    from operational.feeds import write_partitioned

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(300)]
    query = "SELECT i, DATE '2024-01-01' + CAST(i % 300 AS INT) AS _day FROM range(600000) t(i)"
    con = duckdb.connect()
    write_partitioned(con, query, tmp_path / "feed", fmt, days)
    files = sorted((tmp_path / "feed").iterdir())
    assert len(files) == 300
    reader = {"csv": "read_csv", "parquet": "read_parquet"}[fmt]
    counts = con.sql(f"SELECT count(*), count(DISTINCT i) FROM {reader}('{tmp_path}/feed/*.{fmt}')").fetchone()
    assert counts == (600000, 600000)
    assert con.sql(f"SELECT count(*) FROM {reader}('{files[7]}')").fetchone() == (2000,)
