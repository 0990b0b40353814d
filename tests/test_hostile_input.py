"""Hostile input end to end (issue 13): what a feed, a contract or a dying run can do to published data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mesh.contracts.contract import Volume
from mesh.contracts.registry import load_mesh
from tests.conftest import MeshEnv

DAY, NEXT = "2026-11-02", "2026-11-03"


def feeds(erp_root: Path, target: Path, *pairs: tuple[str, str]) -> Path:
    """The feeds' files of those days; the orders' come with their lines, which sales.orders reconciles with."""
    pairs += tuple(("lineitems", day) for feed, day in pairs if feed == "orders")
    for feed, day in pairs:
        (target / "erp" / feed).mkdir(parents=True, exist_ok=True)
        shutil.copy(erp_root / "erp" / feed / f"{day}.csv", target / "erp" / feed / f"{day}.csv")
    return target


def with_slo(address: str, **changes):
    mesh = load_mesh()
    product = mesh.product(address)
    contract = product.contract.model_copy(update={"slo": product.contract.slo.model_copy(update=changes)})
    mesh.products[product.address] = type(product)(product.domain, contract, product.file)
    return mesh


# -- emptiness and shrinkage -----------------------------------------------------------------------------
def test_the_volume_band_is_a_ratio_and_never_negative():
    volume = Volume(trailing_partitions=7, tolerance=3.0)
    low, high, how = volume.bounds([100, 120, 80, 100])
    assert (low, high) == (25.0, 400.0) and "median 100" in how
    assert Volume(trailing_partitions=7, tolerance=10.0).bounds([5, 5])[0] > 0
    assert Volume(min_rows=50, trailing_partitions=3, tolerance=1.0).bounds([40, 40, 40])[0] == 50


def test_a_header_only_feed_does_not_empty_a_published_partition(tmp_path, erp_root, customer_history):
    root = feeds(erp_root, tmp_path / "feeds", ("orders", DAY))
    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    first = env.run("sales.orders", DAY)
    published = first.verdicts[DAY].rows_published
    assert published > 0
    feed = root / "erp" / "orders" / f"{DAY}.csv"
    feed.write_text(feed.read_text().splitlines()[0] + "\n")  # the header only: the system sent nothing

    again = env.run("sales.orders", DAY, run_id="empty-run")
    verdict = again.verdicts[DAY]
    assert not verdict.published
    assert verdict.reason.startswith("shrink refused") and DAY in verdict.reason
    assert f"from {published} published rows to 0" in verdict.reason
    state = env.lake().published(load_mesh().product("sales.orders").address, 1)
    assert state.partitions[DAY].rows == published and state.partitions[DAY].run_id == "test-run"

    from mesh.quality.slo import volume_finding

    mesh = load_mesh()
    finding = volume_finding(mesh.product("sales.orders"), again, env.lake())
    assert not finding.passed and finding.summary == verdict.reason  # what the volume check (and review) show

    allowed = env.run("sales.orders", DAY, run_id="allowed", mesh=with_slo("sales.orders", allow_shrink=True))
    assert allowed.verdicts[DAY].published and allowed.verdicts[DAY].rows_published == 0


def test_a_partition_shrinking_below_the_volume_band_is_refused(tmp_path, erp_root, customer_history):
    days = [f"2026-11-0{d}" for d in range(2, 7)]
    root = feeds(erp_root, tmp_path / "feeds", *(("orders", d) for d in days))
    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    mesh = with_slo("sales.orders", volume=Volume(trailing_partitions=7, tolerance=0.5))
    assert all(v.published for v in env.run("sales.orders", days[0], days[-1], mesh=mesh).verdicts.values())
    feed = root / "erp" / "orders" / f"{days[-1]}.csv"
    lines = feed.read_text().splitlines(keepends=True)
    feed.write_text("".join(lines[: 1 + (len(lines) - 1) // 4]))  # a quarter of the records

    verdict = env.run("sales.orders", days[-1], run_id="short", mesh=mesh).verdicts[days[-1]]
    assert not verdict.published and "below the volume SLO's lower bound" in verdict.reason
    feed.write_text("".join(lines[: 1 + (len(lines) - 1) * 9 // 10]))  # 90%: within the band, published
    assert env.run("sales.orders", days[-1], run_id="ok", mesh=mesh).verdicts[days[-1]].published


# -- keys across the published history -----------------------------------------------------------------
def test_a_key_published_in_another_partition_is_quarantined_naming_it(tmp_path, erp_root, customer_history):
    root = feeds(erp_root, tmp_path / "feeds", ("orders", DAY), ("orders", NEXT))
    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    env.run("sales.orders", DAY)
    first_record = (root / "erp" / "orders" / f"{DAY}.csv").read_text().splitlines()[1]
    later = root / "erp" / "orders" / f"{NEXT}.csv"
    header, *records = later.read_text().splitlines()
    fields = first_record.split(",")
    resent = ",".join([fields[0], *records[0].split(",")[1:]])  # the 11-02 order id, dated 11-03
    later.write_text("\n".join([header, *records, resent]) + "\n")

    report = env.run("sales.orders", NEXT, run_id="next")
    assert report.verdicts[NEXT].rows_quarantined == 1
    entry = env.port().read("sales.orders__quarantine", partition=NEXT)
    assert entry["rule"].tolist() == ["structure"] and entry["source_line"].tolist() == [len(records) + 2]
    assert f"already published in partition {DAY}" in entry["reason"].iat[0]
    orders = env.port().read("sales.orders")
    assert orders["order_id"].is_unique
    # re-running the first day is not a duplicate of itself
    assert env.run("sales.orders", DAY, run_id="again").verdicts[DAY].rows_quarantined == 0


def test_a_partition_scoped_key_may_repeat_across_partitions(tmp_path, erp_root, customer_history):
    root = feeds(erp_root, tmp_path / "feeds", ("orders", DAY), ("orders", NEXT))
    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    env.run("sales.orders", DAY)
    later = root / "erp" / "orders" / f"{NEXT}.csv"
    header, *records = later.read_text().splitlines()
    first = (root / "erp" / "orders" / f"{DAY}.csv").read_text().splitlines()[1].split(",")[0]
    later.write_text("\n".join([header, *records, ",".join([first, *records[0].split(",")[1:]])]) + "\n")
    mesh = load_mesh()
    product = mesh.product("sales.orders")
    contract = product.contract.model_copy(update={"key_scope": "partition"})
    mesh.products[product.address] = type(product)(product.domain, contract, product.file)
    assert env.run("sales.orders", NEXT, mesh=mesh).verdicts[NEXT].rows_quarantined == 0


@pytest.mark.parametrize("scope", ["history", "partition"])
def test_key_scope_is_validated(scope):
    from mesh.contracts.contract import Contract

    product = load_mesh().product("sales.orders")
    contract = Contract.model_validate({**product.contract.model_dump(by_alias=True), "key_scope": scope})
    assert contract.key_scope == scope
    with pytest.raises(ValueError, match="key_scope"):
        Contract.model_validate({**product.contract.model_dump(by_alias=True), "key_scope": "global"})


# -- personal data never leaves unmasked -------------------------------------------------------------------
def test_failing_row_samples_in_check_metadata_carry_no_pii(tmp_path, erp_root):
    import csv
    import io

    day = max(p.stem for p in (erp_root / "erp" / "customers").glob("*.csv") if len(p.read_text().splitlines()) > 2)
    root = feeds(erp_root, tmp_path / "feeds", ("customers", day))
    path = root / "erp" / "customers" / f"{day}.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    rows[0]["c_phone"] = "99" + rows[0]["c_phone"][2:]  # breaks phone_matches_nation (ERROR)
    rows[-1]["c_acctbal"] = "123456.78"  # breaks balance_within_credit_limit (WARN)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    env = MeshEnv(tmp_path / "products", root)
    report = env.run("customer.customers", day)

    from mesh.orchestration.keys import asset_key
    from mesh.orchestration.reporting import check_results
    from mesh.quality.slo import volume_finding

    product = load_mesh().product("customer.customers")
    results = {r.check_name: r for r in check_results(
        asset_key(product), product, report, volume_finding(product, report, env.lake()))}
    shown = "".join(str(results[name].metadata) for name in ("phone_matches_nation", "balance_within_credit_limit"))
    assert "failing_rows_sample" in str(results["phone_matches_nation"].metadata)
    for row in (rows[0], rows[-1]):
        for column in ("c_name", "c_address", "c_phone"):
            assert row[column] not in shown, f"{column} of a failing row reached the check metadata"
    assert "[redacted]" in shown
    # the quarantine shows the rejected phone only to readers with the PII right
    from mesh.contracts.access import Principal

    outsider = env.port(Principal("person:analyst", frozenset({"marketing"}))).read(
        "customer.customers__quarantine", partition=day)
    assert rows[0]["c_phone"] not in outsider.to_string() and rows[0]["c_name"] not in outsider.to_string()


def test_the_local_masking_key_is_random_per_installation_and_private(tmp_path):
    import os
    import stat

    from mesh.errors import MeshError
    from mesh.orchestration.environment import local_masking_key

    one, other = local_masking_key(tmp_path / "a"), local_masking_key(tmp_path / "b")
    assert one != other and len(one) == 64
    assert local_masking_key(tmp_path / "a") == one  # kept
    path = tmp_path / "a" / "masking.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    with pytest.raises(MeshError, match="readable by others: `chmod 600"):
        local_masking_key(tmp_path / "a")
    import mesh.orchestration.environment as environment

    assert "masking-key\"" not in Path(environment.__file__).read_text()  # no constant key in the code


def test_concurrent_first_use_agrees_on_one_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from mesh.orchestration.environment import local_masking_key

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: local_masking_key(tmp_path), range(16)))
    assert len(keys) == 1


# -- a broken contract stops only its own domain ------------------------------------------------------------
def test_mesh_sql_serves_every_product_whose_contract_loads(tmp_path, erp_root, customer_history):
    from mesh.contracts.access import Principal
    from mesh.storage.ports import Port
    from tests.mesh.test_contract import break_file, make_project

    env = MeshEnv(tmp_path / "products", feeds(erp_root, tmp_path / "feeds", ("orders", DAY))).seed(customer_history)
    published = env.run("sales.orders", DAY).verdicts[DAY].rows_published
    project = make_project(tmp_path, {})
    break_file(project, "domains/sales/pricing_summary.yaml")
    mesh = load_mesh(project)
    assert "sales" in mesh.failed
    port = Port(mesh, env.lake(), Principal.platform(), b"test-key")
    assert port.sql("SELECT count(*) AS n FROM sales.orders")["n"].to_pylist() == [published]


# -- rows that belong to no partition ------------------------------------------------------------------------
def test_rows_without_a_partition_are_quarantined_and_the_rest_publishes(tmp_path, erp_root, customer_history):
    import dataclasses

    import pandas as pd

    from mesh.quality.code import resolve

    root = feeds(erp_root, tmp_path / "feeds", ("orders", DAY), ("orders", NEXT))
    env = MeshEnv(tmp_path / "products", root).seed(customer_history)
    mesh = load_mesh()
    code = resolve(mesh.product("sales.orders"), mesh.root)

    def spoiled(orders):  # the feed the function reads (the lines and customers are the rules')
        frame = code.function(orders=orders).copy()
        frame["order_date"] = frame["order_date"].astype(object)
        frame.iloc[0, frame.columns.get_loc("order_date")] = None  # no date at all
        frame.iloc[1, frame.columns.get_loc("order_date")] = pd.Timestamp("2031-01-01").date()  # outside the run
        return frame

    report = env.run("sales.orders", DAY, NEXT, code=dataclasses.replace(code, function=spoiled))
    assert all(v.published for v in report.verdicts.values())
    first = report.verdicts[DAY]
    assert first.rows_quarantined >= 2
    assert sum(v.rows_in for v in report.verdicts.values()) == sum(
        v.rows_published + v.rows_quarantined for v in report.verdicts.values())
    rejected = env.port().read("sales.orders__quarantine", partition=DAY)
    reasons = set(rejected["reason"])
    assert reasons & {"order_date is null or not a date: the row belongs to no partition",
                      "null in a non-nullable column"}  # the null date: whichever reason comes first
    assert any(r.startswith("order_date falls outside the run's partitions 2026-11-02..2026-11-03") for r in reasons)
