"""The sales contracts' relation rules on ERP feeds with defects: an order's total reconciles with its lines,
its customer is registered by its day, and a line's order is published; what fails is held, nothing is lost."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mesh.contracts.registry import load_mesh
from operational.erp import FEEDS
from operational.feeds import DefectLog, Defects, count_records, inject
from tests.conftest import MeshEnv
from tests.test_quality import copy_feeds

DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]


def logged_records(root: Path, feed: str, log: DefectLog) -> list[tuple[dict, list[str]]]:
    """Each logged defect with the first fields of the record it spoiled (as the file holds it now)."""
    found = []
    for entry in log.entries:
        if entry["line"] is not None:
            text = (root / "erp" / feed / f"{entry['day']}.csv").read_text().splitlines()[entry["line"] - 1]
            found.append((entry, next(csv.reader([text]))))
    return found


def run(env: MeshEnv, *addresses: str) -> dict:
    return {a: env.run(a, DAYS[0], DAYS[-1]) for a in addresses}


def assert_every_row_accounted_for(reports: dict, root: Path) -> None:
    """Rows read = published + quarantined, per day; the lines sales.orders reads for its rule are not its rows."""
    for address, feed in (("sales.orders", "orders"), ("sales.order_lines", "lineitems")):
        for day in DAYS:
            verdict = reports[address].verdicts[day]
            assert verdict.published, (address, day, verdict.reason)
            assert verdict.rows_in == count_records(root / "erp" / feed / f"{day}.csv")
            assert verdict.rows_in == verdict.rows_published + verdict.rows_quarantined


def held_by(quarantine: pd.DataFrame, rule: str) -> dict[int, str]:
    """Order id -> reason of the quarantined rows a rule failed."""
    rows = quarantine[quarantine["rule"] == rule]
    return {json.loads(r)["order_id"]: reason for r, reason in zip(rows["record"], rows["reason"], strict=True)}


def test_an_outlier_order_is_held_with_its_lines_and_customer_revenue_stays_plausible(
        tmp_path, erp_root, customer_history):
    root = copy_feeds(erp_root, tmp_path / "feeds", DAYS)
    log = DefectLog()
    inject(root / "erp" / "orders", FEEDS["orders"], "csv", Defects(0.2, ("out_of_range",), seed=5), log)
    spoiled = {int(fields[0]): entry["detail"] for entry, fields in logged_records(root, "orders", log)}
    outliers = {k for k, detail in spoiled.items() if "larger" in detail}
    assert outliers and len(outliers) < len(spoiled)  # both kinds: made larger (a WARN only) and negative
    clean = pd.concat(pd.read_csv(erp_root / "erp" / "orders" / f"{day}.csv") for day in DAYS)
    clean_total = dict(zip(clean["o_orderkey"], clean["o_totalprice"], strict=True))

    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    reports = run(env, "sales.orders", "sales.order_lines")
    assert_every_row_accounted_for(reports, root)
    port = env.port()
    published = port.read("sales.orders")
    assert not set(spoiled) & set(published["order_id"]) and published["total_price_usd"].max() < 1_000_000
    held = port.read("sales.orders__quarantine")
    reasons = held_by(held, "total_matches_lines")
    assert set(reasons) == outliers  # the negative totals fail total_price_positive first
    for order, reason in reasons.items():  # the value found, and the ERP's own total as the lines give it
        found, expected = reason.split(": total_price_usd is ")[1].split(" = ")[0].split(", expected ")
        assert reason.startswith(f"order_id={order}: ") and float(found) > 1_000_000
        assert float(expected) == pytest.approx(clean_total[order], abs=0.01)
    assert reports["sales.orders"].findings["total_matches_lines"].rows_failing == len(spoiled)
    assert reports["sales.orders"].findings["total_price_plausible"].rows_failing == 0  # never sees a held row

    feed_lines = pd.concat(pd.read_csv(root / "erp" / "lineitems" / f"{day}.csv") for day in DAYS)
    orphans = feed_lines[feed_lines["l_orderkey"].isin(list(spoiled))]
    assert not set(spoiled) & set(port.read("sales.order_lines")["order_id"])
    held_lines = port.read("sales.order_lines__quarantine")
    assert len(held_lines) == len(orphans) and set(held_lines["rule"]) == {"order_exists"}
    assert all(r == f"order_id={v}: no row of input orders has this order_id"
               for v, r in zip(held_lines["value"], held_lines["reason"], strict=True))

    assert env.run("sales.customer_revenue").published
    revenue = port.read("sales.customer_revenue").set_index("customer_id")["revenue_usd"]
    assert revenue.max() < 1_000_000  # an outlier made 82% of all revenue before the rule held it
    assert revenue.sum() == pytest.approx(published["total_price_usd"].sum())


def test_an_order_with_a_lost_or_repeated_line_is_held_with_every_line(tmp_path, erp_root, customer_history):
    root = copy_feeds(erp_root, tmp_path / "feeds", DAYS)
    log = DefectLog()
    inject(root / "erp" / "lineitems", FEEDS["lineitems"], "csv", Defects(0.1, ("malformed", "duplicate_key"),
                                                                          seed=3), log)
    spoiled = logged_records(root, "lineitems", log)
    clean = pd.concat(pd.read_csv(erp_root / "erp" / "lineitems" / f"{day}.csv") for day in DAYS)
    lines = clean.groupby("l_orderkey").size()
    lost = pd.Series([int(f[0]) for e, f in spoiled if e["kind"] == "malformed"], dtype="int64").value_counts()
    # a spoiled order is judged while the feed still holds a readable line of it
    expected = {int(f[0]) for e, f in spoiled if e["kind"] == "duplicate_key" or lines[int(f[0])] > lost[int(f[0])]}
    assert {e["kind"] for e, _ in spoiled} == {"malformed", "duplicate_key"} and expected

    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    reports = run(env, "sales.orders", "sales.order_lines")
    assert_every_row_accounted_for(reports, root)
    port = env.port()
    reasons = held_by(port.read("sales.orders__quarantine"), "total_matches_lines")
    assert set(reasons) == expected
    published = port.read("sales.orders")
    assert set(published["order_id"]) == set(clean["l_orderkey"]) - expected  # every other order is published
    published_lines = port.read("sales.order_lines")
    assert not expected & set(published_lines["order_id"])
    assert len(published_lines) == int(lines.drop(list(expected)).sum()) - int(
        lost.drop(list(expected), errors="ignore").sum())
    held_lines = port.read("sales.order_lines__quarantine")
    exists = held_lines[held_lines["rule"] == "order_exists"]
    assert set(exists["value"].astype(int)) == expected  # the good lines of a held order are held with it


def move_registration(root: Path, customer: int, day: str) -> str:
    """Register a customer on ``day`` instead of its day in the customers feed; returns the day it was."""
    folder = root / "erp" / "customers"
    for path in sorted(folder.glob("*.csv")):
        records = path.read_text().splitlines()
        kept = [r for r in records if not r.startswith(f"{customer},")]
        if len(kept) < len(records):
            moved = next(r for r in records if r.startswith(f"{customer},"))
            path.write_text("\n".join(kept) + "\n")
            target = folder / f"{day}.csv"
            target.write_text(target.read_text() + moved.rsplit(",", 1)[0] + f",{day}\n")
            return path.stem
    raise AssertionError(f"customer {customer} is in no file")


def test_an_order_placed_before_its_customer_registered_is_held_in_a_backfill_too(
        tmp_path, erp_root, customer_history):
    root = copy_feeds(erp_root, tmp_path / "feeds", DAYS)
    shutil.copytree(erp_root / "erp" / "customers", root / "erp" / "customers", dirs_exist_ok=True)
    first_day = pd.read_csv(root / "erp" / "orders" / f"{DAYS[0]}.csv")
    order, customer = (int(v) for v in first_day[["o_orderkey", "o_custkey"]].iloc[0])
    was = move_registration(root, customer, DAYS[1])  # registered the day after its order
    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    mesh = load_mesh()  # the master as the ERP would have sent it: the customer's first day may empty
    customers = mesh.product("customer.customers")
    slo = customers.contract.slo.model_copy(update={"allow_shrink": True})
    mesh.products[customers.address] = dataclasses.replace(
        customers, contract=customers.contract.model_copy(update={"slo": slo}))
    for day in (was, DAYS[1]):
        assert env.run("customer.customers", day, mesh=mesh).published
    assert customer in set(env.port().read("customer.customers", partition=DAYS[1])["customer_id"])

    reports = run(env, "sales.orders", "sales.order_lines")  # one run of three days: the master up to the third
    assert_every_row_accounted_for(reports, root)
    port = env.port()
    reasons = held_by(port.read("sales.orders__quarantine"), "customer_exists")
    assert reasons == {order: f"customer_id={customer}: no row of input customers has this customer_id"}
    assert not (port.read("sales.order_lines")["order_id"] == order).any()
    assert reports["sales.orders"].findings["customer_exists"].rows_failing == 1
    alone = env.run("sales.orders", DAYS[0], run_id="one-day")  # the day on its own finds the same
    assert alone.findings["customer_exists"].rows_failing == 1
