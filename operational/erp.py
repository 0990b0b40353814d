"""The simulated ERP: TPC-H data replayed as one feed file per business day.

``tpchgen-cli`` generates the TPC-H tables once per scale factor (cached under
``<root>/erp/_tpch/sf<sf>/``, also the raw tables correctness tests compare against). The replay
rebases TPC-H's calendar onto ours: TPC-H's first day, 1992-01-01, becomes the *epoch*
(``MESH_ERP_EPOCH``, default 2023-01-01) and every date moves by the same number of days, so each
calendar day has the next business day of orders waiting. Feeds:

- ``erp/customers/<day>``: customers registered that day (TPC-H has no registration date: it is
  simulated as a few weeks before the customer's first order, or spread over history for
  customers who never order), with nation and region names;
- ``erp/orders/<day>``: orders placed that day;
- ``erp/lineitems/<day>``: the lines of those orders, with the order date;
- ``erp/suppliers/<day>``, ``erp/parts/<day>``: master records that entered the ERP that day;
- ``erp/partsupp/<day>``: supplier offers (and stock on hand) for those parts;
- ``erp/replenishments/<day>``: stock received from suppliers that day.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from operational import Settings
from operational.feeds import DefectLog, FeedSpec, day_range, inject, injected_kinds, write_partitioned

TPCH_FIRST_DAY = date(1992, 1, 1)
TPCH_LAST_DAY = date(1998, 8, 2)
FORMAT_VERSION = 7  # bump when the feed layout changes, so caches regenerate

FEEDS = {
    "customers": FeedSpec("customers", ("c_custkey",), "c_registered", ("c_acctbal",), ("c_custkey", "c_acctbal"),
                          integers=("c_custkey", "c_nationkey"), doubles=("c_acctbal",), texts=("c_comment",)),
    "orders": FeedSpec("orders", ("o_orderkey",), "o_orderdate", ("o_totalprice",), ("o_orderkey", "o_totalprice"),
                       integers=("o_orderkey", "o_custkey"), doubles=("o_totalprice",), texts=("o_comment",)),
    "lineitems": FeedSpec("lineitems", ("l_orderkey", "l_linenumber"), "o_orderdate",
                          ("l_quantity", "l_extendedprice"), ("l_quantity", "l_extendedprice", "l_discount"),
                          integers=("l_orderkey", "l_partkey", "l_suppkey"),
                          doubles=("l_quantity", "l_extendedprice", "l_discount", "l_tax"), texts=("l_comment",)),
    "suppliers": FeedSpec("suppliers", ("s_suppkey",), "s_registered", ("s_acctbal",), ("s_suppkey", "s_acctbal"),
                          integers=("s_suppkey", "s_nationkey"), doubles=("s_acctbal",), texts=("s_comment",)),
    "parts": FeedSpec("parts", ("p_partkey",), "p_registered", ("p_retailprice",), ("p_partkey", "p_size"),
                      integers=("p_partkey", "p_size"), doubles=("p_retailprice",), texts=("p_comment",)),
    "partsupp": FeedSpec("partsupp", ("ps_partkey", "ps_suppkey"), "ps_registered", ("ps_availqty",),
                         ("ps_availqty", "ps_supplycost"), integers=("ps_partkey", "ps_availqty"),
                         doubles=("ps_supplycost",)),
    "replenishments": FeedSpec("replenishments", ("r_partkey", "r_suppkey", "r_received"), "r_received",
                               ("r_quantity",), ("r_quantity",), integers=("r_partkey", "r_quantity")),
}


@dataclass(frozen=True)
class ErpSettings(Settings):
    """The common settings, with the ERP's view of the calendar."""

    @property
    def shift_days(self) -> int:
        return (self.epoch - TPCH_FIRST_DAY).days

    @property
    def last_day(self) -> date:
        return date.fromordinal(TPCH_LAST_DAY.toordinal() + self.shift_days)

    def to_business(self, day: date) -> date:
        """The TPC-H date that a calendar day replays."""
        return date.fromordinal(day.toordinal() - self.shift_days)

    def describe(self) -> dict:
        return {"scale_factor": self.scale_factor, "epoch": self.epoch.isoformat(), "format": self.format,
                "defects": self.defects.describe(), "seed": self.seed, "version": FORMAT_VERSION}


def tpch_dir(root: Path, scale_factor: float) -> Path:
    return root / "erp" / "_tpch" / f"sf{scale_factor:g}"


def generate_tpch(root: Path, scale_factor: float) -> Path:
    """TPC-H tables as Parquet, generated once per scale factor."""
    target = tpch_dir(root, scale_factor)
    done = target / "_complete"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    tool = Path(sys.executable).with_name("tpchgen-cli")
    command = [str(tool) if tool.exists() else "tpchgen-cli", "parquet", "-s", f"{scale_factor:g}",
               "-o", str(target), "--no-progress", "--overwrite"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"tpchgen-cli failed ({' '.join(command)}):\n{result.stderr[-2000:]}")
    done.write_text("ok\n")
    return target


def day_files(settings: Settings) -> int:
    """How many files ``generate`` writes: one per feed and day."""
    return len(FEEDS) * len(history_days(settings))


def history_days(settings: Settings) -> list[date]:
    """The calendar days the ERP replays (the other systems share them)."""
    erp = ErpSettings(**{f: getattr(settings, f) for f in Settings.__dataclass_fields__})
    return day_range(erp.epoch, erp.last_day)


def generate(root: Path, settings: Settings, force: bool = False, on_file: Callable[[], None] | None = None) -> Path:
    """Write every daily feed of the ERP for its whole history; a no-op when already up to date.
    ``on_file`` is called as each day's file of a feed is complete."""
    if not isinstance(settings, ErpSettings):
        settings = ErpSettings(**{f: getattr(settings, f) for f in settings.__dataclass_fields__})
    base = root / "erp"
    marker = base / "_feeds.json"
    if not force and marker.exists() and json.loads(marker.read_text()) == settings.describe():
        return base
    tpch = generate_tpch(root, settings.scale_factor)
    base.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    days = day_range(settings.epoch, settings.last_day)
    log = DefectLog()
    con = duckdb.connect()
    _register(con, tpch, settings)
    corrupted = bool(injected_kinds(settings.format, settings.defects))  # a file is complete once corrupted
    for name, query in _feed_queries().items():
        folder = base / name
        write_partitioned(con, query, folder, settings.format, days, on_file=None if corrupted else on_file)
        inject(folder, FEEDS[name], settings.format, settings.defects, log, on_file=on_file)
    log.write(base / "_defects.jsonl")
    marker.write_text(json.dumps(settings.describe(), indent=1))
    return base


def _register(con: duckdb.DuckDBPyConnection, tpch: Path, settings: ErpSettings) -> None:
    for table in ("customer", "orders", "lineitem", "nation", "region", "supplier", "part", "partsupp"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{tpch / (table + '.parquet')}')")
    last = (TPCH_LAST_DAY - TPCH_FIRST_DAY).days
    con.execute(f"CREATE MACRO shift(d) AS CAST(d + INTERVAL {settings.shift_days} DAY AS DATE)")
    # Deterministic pseudo-random spread: a multiplicative hash of the key and the seed.
    con.execute(f"CREATE MACRO spread(k, n) AS CAST(((k * 2654435761 + {settings.seed} * 97) % 4294967296) % n AS INT)")
    con.execute(f"""
        CREATE TABLE first_order AS SELECT o_custkey, min(o_orderdate) AS first_day FROM orders GROUP BY 1;
        CREATE TABLE part_first_use AS
            SELECT l_partkey, min(o_orderdate) AS first_day FROM lineitem JOIN orders ON l_orderkey = o_orderkey
            GROUP BY 1;
        CREATE TABLE supplier_first_use AS
            SELECT l_suppkey, min(o_orderdate) AS first_day FROM lineitem JOIN orders ON l_orderkey = o_orderkey
            GROUP BY 1;
        CREATE MACRO registered(first_day, k) AS
            CASE WHEN first_day IS NULL THEN DATE '{TPCH_FIRST_DAY}' + spread(k, {last})
                 ELSE greatest(DATE '{TPCH_FIRST_DAY}', first_day - spread(k, 60)) END;
    """)


def _feed_queries() -> dict[str, str]:
    money = "CAST({} AS DOUBLE)"
    return {
        "customers": f"""
            SELECT c_custkey, c_name, c_address, c_nationkey, n_name AS c_nation, r_name AS c_region, c_phone,
                   {money.format('c_acctbal')} AS c_acctbal, c_mktsegment, c_comment,
                   shift(registered(f.first_day, c_custkey)) AS c_registered,
                   shift(registered(f.first_day, c_custkey)) AS _day
            FROM customer JOIN nation ON c_nationkey = n_nationkey JOIN region ON n_regionkey = r_regionkey
            LEFT JOIN first_order f ON f.o_custkey = c_custkey ORDER BY c_custkey""",
        "orders": f"""
            SELECT o_orderkey, o_custkey, o_orderstatus, {money.format('o_totalprice')} AS o_totalprice,
                   shift(o_orderdate) AS o_orderdate, o_orderpriority, o_clerk, o_shippriority, o_comment,
                   shift(o_orderdate) AS _day
            FROM orders ORDER BY o_orderkey""",
        "lineitems": f"""
            SELECT l_orderkey, l_partkey, l_suppkey, l_linenumber, {money.format('l_quantity')} AS l_quantity,
                   {money.format('l_extendedprice')} AS l_extendedprice, {money.format('l_discount')} AS l_discount,
                   {money.format('l_tax')} AS l_tax, l_returnflag, l_linestatus, shift(l_shipdate) AS l_shipdate,
                   shift(l_commitdate) AS l_commitdate, shift(l_receiptdate) AS l_receiptdate, l_shipinstruct,
                   l_shipmode, l_comment, shift(o_orderdate) AS o_orderdate, shift(o_orderdate) AS _day
            FROM lineitem JOIN orders ON l_orderkey = o_orderkey ORDER BY l_orderkey, l_linenumber""",
        "suppliers": f"""
            SELECT s_suppkey, s_name, s_address, s_nationkey, n_name AS s_nation, r_name AS s_region, s_phone,
                   {money.format('s_acctbal')} AS s_acctbal, s_comment,
                   shift(registered(u.first_day, s_suppkey)) AS s_registered,
                   shift(registered(u.first_day, s_suppkey)) AS _day
            FROM supplier JOIN nation ON s_nationkey = n_nationkey JOIN region ON n_regionkey = r_regionkey
            LEFT JOIN supplier_first_use u ON u.l_suppkey = s_suppkey ORDER BY s_suppkey""",
        "parts": f"""
            SELECT p_partkey, p_name, p_mfgr, p_brand, p_type, p_size, p_container,
                   {money.format('p_retailprice')} AS p_retailprice, p_comment,
                   shift(registered(u.first_day, p_partkey)) AS p_registered,
                   shift(registered(u.first_day, p_partkey)) AS _day
            FROM part LEFT JOIN part_first_use u ON u.l_partkey = p_partkey ORDER BY p_partkey""",
        "partsupp": f"""
            SELECT ps_partkey, ps_suppkey, ps_availqty, {money.format('ps_supplycost')} AS ps_supplycost,
                   shift(least(registered(u.first_day, ps_partkey), registered(s.first_day, ps_suppkey)))
                       AS ps_registered,
                   shift(least(registered(u.first_day, ps_partkey), registered(s.first_day, ps_suppkey))) AS _day
            FROM partsupp LEFT JOIN part_first_use u ON u.l_partkey = ps_partkey
            LEFT JOIN supplier_first_use s ON s.l_suppkey = ps_suppkey ORDER BY ps_partkey, ps_suppkey""",
        "replenishments": """
            -- Each supplier restocks a part every 30 days with what was shipped of it since the last delivery.
            WITH shipped AS (
                SELECT l_partkey AS r_partkey, l_suppkey AS r_suppkey,
                       l_shipdate + INTERVAL (30 - (datediff('day', DATE '1992-01-01', l_shipdate) % 30)) DAY
                           AS received, l_quantity
                FROM lineitem)
            SELECT r_partkey, r_suppkey, shift(CAST(received AS DATE)) AS r_received,
                   CAST(sum(l_quantity) AS BIGINT) AS r_quantity, shift(CAST(received AS DATE)) AS _day
            FROM shipped WHERE received <= DATE '1998-08-02' GROUP BY ALL ORDER BY ALL""",
    }


def remove(root: Path) -> None:
    shutil.rmtree(root / "erp", ignore_errors=True)
