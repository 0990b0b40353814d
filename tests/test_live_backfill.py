"""A whole-history backfill of the sales domain through the backfill daemon runs in a bounded number of runs."""

from __future__ import annotations

import shutil
import time

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import RunsFilter

from operational.erp import ErpSettings
from tests.conftest import ROOT, MeshEnv
from tests.servers import dagster

pytestmark = pytest.mark.slow

LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status numPartitions } } }"""


def test_whole_history_backfill_of_the_sales_domain(tmp_path, erp_root):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home), "MESH_STORAGE_URI": str(tmp_path / "products"),
           "MESH_OPERATIONAL_ROOT": str(erp_root), "MESH_ALERT_OUTBOX": str(tmp_path / "outbox.jsonl")}
    products = [["sales", "orders"], ["sales", "order_lines"], ["sales", "pricing_summary"]]
    with dagster(ROOT, env, command="dev", expect_locations=3) as server:
        params = {"assetSelection": [{"path": p} for p in products], "allPartitions": True}
        launched = server.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill = launched["backfillId"]
        deadline = time.time() + 600
        while time.time() < deadline:
            status = server.graphql(STATUS, {"id": backfill})["partitionBackfillOrError"]["status"]
            if status in ("COMPLETED", "COMPLETED_SUCCESS", "FAILED", "CANCELED", "COMPLETED_FAILED"):
                break
            time.sleep(5)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill}))
    assert 1 <= len(runs) <= len(products), [r.run_id for r in runs]  # one run per product at most, not per day
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    # every partition from the first business day to yesterday is published
    partitions = dg.DailyPartitionsDefinition(start_date=ErpSettings().epoch.isoformat()).get_partition_keys()
    port = MeshEnv(tmp_path / "products", erp_root).port()
    for product in products:
        manifest = port.lake.published(port.mesh.product(".".join(product)).address, 1)
        assert manifest.keys() == list(partitions), product
