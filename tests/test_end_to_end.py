"""The whole mesh in process: one partition materialized into real Parquet, read back through both ports."""

from __future__ import annotations

import dagster as dg
import pytest

from mesh.contracts.access import Principal
from mesh.contracts.contract import Access
from mesh.errors import AccessDenied, MeshError, NotFound
from tests.conftest import DAY, ERP_DOMAINS, MeshEnv


@pytest.fixture(scope="module")
def materialized(tmp_path_factory, erp_root, customer_history):
    """One day of the ERP domains, materialized once for the module on a SQLite instance of its own
    (over the customer master's history, which sales.orders reads)."""
    root = tmp_path_factory.mktemp("end_to_end")
    (root / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(root / "home"), overrides={"telemetry": {"enabled": False}})
    mesh_env = MeshEnv(root / "products", erp_root).seed(customer_history)
    result = mesh_env.materialize(DAY, instance=instance, domains=ERP_DOMAINS)
    assert result.success
    return mesh_env, result, instance


def test_every_product_materializes_with_its_checks(materialized):
    _, result, _ = materialized
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
            for e in [e.event_specific_data.materialization]}
    assert keys == {"customer/customers", "sales/orders", "sales/order_lines", "sales/pricing_summary",
                    "sales/customer_revenue"}
    checks = {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations()}
    for product in keys:
        for name in ("structure", "error_rate", "volume", "contract_conformance"):
            assert (product, name) in checks
    assert ("sales/order_lines", "receipt_not_before_ship") in checks


def test_lake_read_back_through_both_ports(materialized, erp_root):
    mesh_env, _, _ = materialized
    # The lake's data are Parquet files beside its catalog (DuckLake keeps inserts of a few rows in the
    # catalog itself until maintenance flushes them: a day of orders is that small at this scale).
    assert list((mesh_env.products / "data" / "sales" / "order_lines__v1").rglob("*.parquet"))
    port = mesh_env.port()
    frame = port.read("sales.orders", partition=DAY)
    feed_lines = (erp_root / "erp" / "orders" / f"{DAY}.csv").read_text().strip().splitlines()
    assert len(frame) == len(feed_lines) - 1 > 0
    assert str(frame["order_date"].dtype) == "date32[day][pyarrow]"
    assert set(frame["order_date"].astype(str)) == {DAY}
    via_sql = port.sql(f"SELECT count(*) AS n, sum(total_price_usd) AS total FROM sales.orders "
                       f"WHERE order_date = DATE '{DAY}'").to_pylist()[0]
    assert via_sql["n"] == len(frame)
    assert via_sql["total"] == pytest.approx(frame["total_price_usd"].sum())


def test_rematerializing_does_not_duplicate_rows(materialized):
    mesh_env, _, _ = materialized
    port = mesh_env.port()
    before = {a: port.sql(f"SELECT count(*) FROM {a}").to_pylist()[0] for a in ("sales.orders", "sales.order_lines")}
    assert mesh_env.materialize(DAY, domains=ERP_DOMAINS).success
    after = {a: port.sql(f"SELECT count(*) FROM {a}").to_pylist()[0] for a in ("sales.orders", "sales.order_lines")}
    assert before == after
    assert mesh_env.port().read("sales.orders").order_id.is_unique


def test_partition_range_reads(sales_env):
    assert sales_env.materialize("2026-11-01", "2026-11-03", domains=ERP_DOMAINS).success
    port = sales_env.port()
    everything = port.read("sales.orders")
    middle = port.read("sales.orders", start="2026-11-02", end="2026-11-03")
    assert set(middle["order_date"].astype(str)) == {"2026-11-02"}
    assert 0 < len(middle) < len(everything)
    with pytest.raises(NotFound, match="no published partition '2026-10-01'"):
        port.read("sales.orders", partition="2026-10-01")


def test_sql_port_errors_are_clear(materialized):
    mesh_env, _, _ = materialized
    port = mesh_env.port()
    with pytest.raises(MeshError, match=r"names 'sales\.nope', which is no published product"):
        port.sql("SELECT * FROM sales.nope")
    with pytest.raises(MeshError, match="reads products only"):
        port.sql("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(MeshError, match=r"reading statements only .*found COPY"):
        port.sql("COPY (SELECT 1) TO '/tmp/escape.csv'")
    with pytest.raises(MeshError, match=r"invalid product in address 'sales.orders; DROP TABLE x'"):
        port.read("sales.orders; DROP TABLE x")
    with pytest.raises(MeshError, match=r"expected an address '<domain>.<product>', found '../etc.passwd'"):
        port.read("../etc.passwd")


def test_pii_is_masked_for_readers_without_the_right(materialized):
    mesh_env, _, _ = materialized
    analyst = Principal("person:analyst", frozenset({"sales"}), pii=False)
    steward = Principal("person:steward", frozenset({"customer"}), pii=True)
    masked = mesh_env.port(analyst).read("customer.customers")
    clear = mesh_env.port(steward).read("customer.customers")
    assert (masked["address"] == "[redacted]").all()
    assert not set(masked["name"]) & set(clear["name"])
    assert masked["name"].str.fullmatch(r"[0-9a-f]{32}").all()
    # the keyed hash keeps joins working: equal names hash equally
    assert masked["name"].nunique() == clear["name"].nunique()
    sql_names = mesh_env.port(analyst).sql("SELECT name, phone FROM customer.customers").to_pandas()
    assert not set(sql_names["name"]) & set(clear["name"])
    # The lake's files stay out of reach: the session reads products only through the views.
    files = sorted((mesh_env.products / "data").rglob("*.parquet"))
    assert files
    file = files[0]
    with pytest.raises(MeshError, match="reads products only"):
        mesh_env.port(analyst).sql(f"SELECT name FROM read_parquet('{file}')")
    assert mesh_env.port(analyst).sql("SELECT count(*) AS n FROM sales.orders").to_pylist()[0]["n"] > 0


def test_instance_records_runs_and_checks(materialized):
    _, _, instance = materialized
    record = instance.get_latest_materialization_event(dg.AssetKey(["sales", "orders"]))
    assert record is not None and record.asset_materialization.partition == DAY
    evaluation = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey(["sales", "order_lines"]), "structure"))
    assert evaluation is not None and evaluation.evaluation.passed


def test_access_denied_is_reported(materialized):
    mesh_env, _, _ = materialized
    from mesh.contracts.registry import load_mesh

    mesh = load_mesh()
    product = mesh.product("sales.orders")
    private = product.contract.model_copy(update={"access": Access.private})
    mesh.products[product.address] = type(product)(product.domain, private, product.file)
    outsider = Principal("person:outsider", frozenset({"customer"}))
    with pytest.raises(AccessDenied, match="private"):
        mesh_env.port(outsider, mesh=mesh).read("sales.orders")


def test_a_dead_command_line_run_releases_its_slots(tmp_path):
    import socket

    from mesh.orchestration.runs import release_dead_runs

    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"), overrides={
        "telemetry": {"enabled": False}, "concurrency": {"pools": {"default_limit": 1}}})
    @dg.op
    def noop() -> None:
        pass

    @dg.job
    def job():
        noop()

    tags = {"mesh/trigger": "cli", "mesh/host": socket.gethostname(), "mesh/pid": "999999"}
    run = instance.create_run_for_job(job, tags=tags, status=dg.DagsterRunStatus.STARTED)
    instance.event_log_storage.set_concurrency_slots("mesh_sales_orders", 1)
    instance.event_log_storage.claim_concurrency_slot("mesh_sales_orders", run.run_id, "step")
    assert instance.event_log_storage.get_concurrency_info("mesh_sales_orders").active_slot_count == 1
    assert release_dead_runs(instance, echo=lambda message: None) == [run.run_id]
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("mesh_sales_orders").active_slot_count == 0
