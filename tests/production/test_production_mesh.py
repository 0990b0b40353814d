"""The production profile end to end: two domains materialized with products on S3 and the Dagster
instance on Postgres (``deploy/dagster.yaml`` as shipped), read back through both ports from S3;
then the deployment's own processes (the Dockerfile's gRPC code server command for each of the two
domains, and the compose file's read-only webserver) serve the same instance, and the read-only
webserver refuses to launch a run or wipe an asset.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.production.test_deploy_files import compose, dockerfile_command, workspace_locations
from tests.servers import BIN, dagster, free_port

pytestmark = pytest.mark.slow

# The first two days of the ERP: every customer who orders then is registered by then.
FIRST, DAY = "2023-01-01", "2023-01-02"
DOMAINS = ["customer", "sales"]
PRODUCTS = ["customer/customers", "sales/orders", "sales/order_lines", "sales/pricing_summary",
            "sales/customer_revenue"]


@pytest.fixture(scope="module")
def materialized(production_profile):
    done = production_profile.mesh("materialize", "--start", FIRST, "--end", DAY,
                                   *[arg for domain in DOMAINS for arg in ("--domain", domain)])
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout
    return production_profile


def test_products_are_published_in_the_lake_on_postgres_and_s3_and_nowhere_else(materialized):
    keys = [o["Key"] for page in materialized.client().get_paginator("list_objects_v2").paginate(
        Bucket=materialized.bucket) for o in page.get("Contents", [])]
    for product in ("sales/orders", "sales/order_lines"):  # small tables may be inlined in the catalog
        assert any(k.startswith(f"mesh/{product}__v1/") and k.endswith(".parquet") for k in keys), product
    tables = {name for (name,) in materialized.sql("SELECT table_name FROM mesh_lake.ducklake_table "
                                                    "WHERE end_snapshot IS NULL")}
    assert {p.split("/")[1] + "__v1" for p in PRODUCTS} <= tables  # the catalog: its own schema in Postgres
    port = materialized.port()
    assert port.lake.uri == f"s3://{materialized.bucket}/mesh/"
    for product in PRODUCTS:
        published = port.lake.published(port.mesh.product(product.replace("/", ".")).address, 1)
        assert published is not None and published.keys(), product
    assert not Path(materialized.env["MESH_STORAGE_URI"]).exists()


def test_products_read_back_through_both_ports_from_s3(materialized, erp_root):
    port = materialized.port()
    orders = port.read("sales.orders", partition=DAY)
    feed_lines = (erp_root / "erp" / "orders" / f"{DAY}.csv").read_text().strip().splitlines()
    assert len(orders) == len(feed_lines) - 1 > 0
    revenue = port.read("sales.customer_revenue")
    via_sql = port.sql("SELECT count(*) AS n, sum(revenue_usd) AS total FROM sales.customer_revenue").to_pylist()[0]
    assert via_sql["n"] == len(revenue) > 0
    assert via_sql["total"] == pytest.approx(revenue["revenue_usd"].sum())
    customers = port.read("customer.customers")
    assert len(customers) > 0 and revenue["customer_id"].isin(customers["customer_id"]).all()
    joined = port.sql("SELECT count(*) AS n, count(c.nation) AS with_nation FROM sales.customer_revenue r "
                      "JOIN customer.customers c USING (customer_id)").to_pylist()[0]
    assert joined == {"n": len(revenue), "with_nation": len(revenue)}
    # The command line ports resolve the same settings from the environment in a fresh process.
    done = materialized.mesh("sql", "SELECT count(*) AS n FROM sales.orders", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": len(port.read("sales.orders"))}]


def test_runs_check_results_and_compute_logs_are_in_postgres_and_s3(materialized):
    runs = materialized.sql("SELECT run_id, status FROM runs")
    assert runs and {status for _, status in runs} == {"SUCCESS"}
    materialized_keys = {json.loads(k)[0] + "/" + json.loads(k)[1] for (k,) in materialized.sql(
        "SELECT DISTINCT asset_key FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")}
    assert set(PRODUCTS) <= materialized_keys
    checks = {(tuple(json.loads(k)), name): status for k, name, status in materialized.sql(
        "SELECT asset_key, check_name, execution_status FROM asset_check_executions")}
    for product in PRODUCTS:
        for name in ("structure", "error_rate", "volume", "contract_conformance"):
            assert checks[(tuple(product.split("/")), name)] == "SUCCEEDED", (product, name)
    assert checks[(("sales", "order_lines"), "receipt_not_before_ship")] == "SUCCEEDED"
    logs = [o["Key"] for o in materialized.client().list_objects_v2(
        Bucket=materialized.env["DAGSTER_COMPUTE_LOG_BUCKET"]).get("Contents", [])]
    run_ids = {run_id for run_id, _ in runs}
    assert any(k.startswith("dagster/compute-logs/storage/") and k.split("/")[3] in run_ids for k in logs), logs


# -- the deployment's processes: code servers and the read-only webserver -----------------------------
@pytest.fixture(scope="module")
def code_servers(materialized, tmp_path_factory):
    """The materialized domains' locations served as their containers would: the Dockerfile's command
    and MESH_ENV=production (the other locations are checked statically, to keep this test short)."""
    root = tmp_path_factory.mktemp("code_servers")
    command = dockerfile_command()
    processes, entries = [], []
    try:
        for location in DOMAINS:
            assert location in workspace_locations()
            port = free_port()
            args = shlex.split(command.replace('"$MESH_DOMAIN"', location).replace("$MESH_DOMAIN", location))
            args = [str(BIN / args[0]), *args[1:]]
            args[args.index("--working-directory") + 1] = str(ROOT)
            args[args.index("--host") + 1] = "127.0.0.1"
            args[args.index("--port") + 1] = str(port)
            log = open(root / f"{location}.log", "w")  # noqa: SIM115 - closed with the process
            processes.append((subprocess.Popen(args, cwd=ROOT, env={**os.environ, **materialized.env,
                                                                     "DAGSTER_CURRENT_IMAGE": f"mesh-{location}"},
                                               stdout=log, stderr=subprocess.STDOUT), log))
            entries.append({"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": location}})
        for (process, _), entry in zip(processes, entries, strict=True):
            server = entry["grpc_server"]
            wait_until_serving(process, server["port"], root / f"{server['location_name']}.log")
        (root / "workspace.yaml").write_text(yaml.safe_dump({"load_from": entries}))
        yield root
    finally:
        for process, _ in processes:
            process.terminate()
        for process, log in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()


def wait_until_serving(process: subprocess.Popen, port: int, log: Path, timeout: float = 180) -> None:
    """What compose's healthcheck (``dagster api grpc-health-check``) waits for before the webserver starts."""
    from dagster._grpc.client import DagsterGrpcClient

    client, deadline = DagsterGrpcClient(port=port, host="127.0.0.1"), time.time() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"code server exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(Exception):
            if client.health_check_query() == "SERVING":
                return
        if time.time() > deadline:
            raise TimeoutError(f"code server on port {port} not serving after {timeout}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def readonly_ui(materialized, code_servers):
    """The compose file's read-only webserver command, on the test instance and code servers."""
    command = compose()["services"]["webserver-readonly"]["command"]
    assert command[0] == "dagster-webserver" and "--read-only" in command
    with dagster(code_servers, materialized.env, command="webserver", extra=["--read-only"],
                 expect_locations=len(DOMAINS)) as server:
        yield server


def test_code_servers_load_every_domain_in_production(readonly_ui):
    locations = readonly_ui.locations()
    assert locations["customer"] == "RepositoryLocation" and locations["sales"] == "RepositoryLocation"
    data = readonly_ui.graphql("""{ assetNodes(assetKeys: [{path: ["sales", "customer_revenue"]}]) {
        dependencyKeys { path } repository { location { name } }
        assetChecksOrError { ... on AssetChecks { checks { name
            executionForLatestMaterialization { status } } } } } }""")
    node = data["assetNodes"][0]
    assert ["customer", "customers"] in [k["path"] for k in node["dependencyKeys"]]
    checks = {c["name"]: c["executionForLatestMaterialization"] for c in node["assetChecksOrError"]["checks"]}
    assert checks["structure"]["status"] == "SUCCEEDED"  # read from Postgres


def test_readonly_webserver_refuses_to_launch_or_wipe(readonly_ui, materialized):
    launch = readonly_ui.graphql("""mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on UnauthorizedError { message } } }""", {"params": {
        "selector": {"repositoryLocationName": "customer", "repositoryName": "__repository__",
                     "jobName": "customer_snapshot"},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]}}})
    assert launch["launchRun"]["__typename"] == "UnauthorizedError"
    wipe = readonly_ui.graphql("""mutation { wipeAssets(assetPartitionRanges: [
        {assetKey: {path: ["sales", "customer_revenue"]}}]) { __typename ... on UnauthorizedError { message } } }""")
    assert wipe["wipeAssets"]["__typename"] == "UnauthorizedError"
    permissions = {p["permission"]: p["value"] for p in readonly_ui.graphql(
        "{ permissions { permission value } }")["permissions"]}
    assert permissions["launch_pipeline_execution"] is False and permissions["wipe_assets"] is False
    # Nothing happened: no new run, and the product still has its materialization.
    assert len(materialized.sql("SELECT run_id FROM runs")) == 1
    assert materialized.sql("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
                            "AND asset_key = %s", json.dumps(["sales", "customer_revenue"]))[0][0] == 1
