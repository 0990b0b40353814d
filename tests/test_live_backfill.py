"""A whole-history backfill of the sales domain through the backfill daemon runs in a bounded number of runs.

The project is a copy whose sales domain starts (``snapshots.start``) 40 days before yesterday, not
in 2023, and whose runs start with chunks of 16 partitions (``MESH_CHUNK_PARTITIONS``) instead of 366:
each product's whole history is still several chunks in one run, for a tenth of the partitions. The
UI (`dagster dev`) serves the sales location alone; what the products read from other domains is
published beforehand, over its whole history, as `make up` leaves it.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import RunsFilter

from mesh.contracts.registry import load_mesh
from tests.conftest import ROOT, MeshEnv
from tests.servers import dagster, write_workspace

pytestmark = pytest.mark.slow

HISTORY_DAYS = 40
CHUNK_PARTITIONS = 16  # the first chunk's partitions: the history takes several chunks per run
PRODUCTS = [["sales", "orders"], ["sales", "order_lines"], ["sales", "pricing_summary"]]
LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status numPartitions } } }"""
DONE = ("COMPLETED", "COMPLETED_SUCCESS", "FAILED", "CANCELED", "COMPLETED_FAILED")


def project_starting(tmp_path: Path, domain: str, start: str) -> Path:
    """A copy of the project's domains, code and checks in which ``domain`` starts on ``start``."""
    project = tmp_path / "project"
    for folder in ("domains", "assets", "checks"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "workspace.yaml", project / "workspace.yaml")
    path = project / "domains" / domain / "domain.yaml"
    contract = yaml.safe_load(path.read_text())
    contract["snapshots"]["start"] = start
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    return project


def publish_other_inputs(project: Path, env: MeshEnv, customer_history: Path) -> None:
    """Publish, over their domain's whole history, the products of other domains these products read:
    the customer master alone, as the session's ``customer_history`` holds it (copied)."""
    mesh = load_mesh(project)
    read = {spec.address for p in PRODUCTS for spec in mesh.product(".".join(p)).contract.inputs.values()}
    assert sorted(str(a) for a in read if a.domain != "sales") == ["customer.customers"]
    env.seed(customer_history)
    start = mesh.domains["customer"].snapshots.start.isoformat()
    published = env.port(mesh=mesh).lake.published(mesh.product("customer.customers").address, 1)
    assert published.keys() == dg.DailyPartitionsDefinition(start_date=start).get_partition_keys()  # to yesterday


def test_whole_history_backfill_of_the_sales_domain(tmp_path, erp_root, customer_history):
    start = (datetime.now(UTC).date() - timedelta(days=HISTORY_DAYS)).isoformat()
    project = project_starting(tmp_path, "sales", start)
    serve = tmp_path / "serve"
    write_workspace(serve, project, ["sales"])
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home), "MESH_PROJECT_DIR": str(project), "MESH_STORAGE_URI": str(tmp_path / "products"),
           "MESH_OPERATIONAL_ROOT": str(erp_root), "MESH_ALERT_OUTBOX": str(tmp_path / "outbox.jsonl"),
           "MESH_CHUNK_PARTITIONS": str(CHUNK_PARTITIONS)}
    publish_other_inputs(project, MeshEnv(tmp_path / "products", erp_root), customer_history)
    with dagster(serve, env, command="dev", expect_locations=1) as server:
        params = {"assetSelection": [{"path": p} for p in PRODUCTS], "allPartitions": True}
        launched = server.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill = launched["backfillId"]
        deadline = time.time() + 600
        while time.time() < deadline:
            status = server.graphql(STATUS, {"id": backfill})["partitionBackfillOrError"]["status"]
            if status in DONE:
                break
            time.sleep(1)
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill}))
    assert 1 <= len(runs) <= len(PRODUCTS), [r.run_id for r in runs]  # one run per product at most, not per day
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    # every partition from the domain's first day to yesterday is published, several chunks in one run
    partitions = dg.DailyPartitionsDefinition(start_date=start).get_partition_keys()
    assert partitions[0] == start and len(partitions) == HISTORY_DAYS > CHUNK_PARTITIONS
    messages = [e.user_message for r in runs for e in instance.all_logs(r.run_id)]
    chunks = {(a, n) for m in messages for a, n in re.findall(r"^(sales\.\w+): chunk (\d+), partitions ", m)}
    assert {(".".join(p), "2") for p in PRODUCTS} <= chunks, sorted(chunks)
    first = f"{start}..{partitions[CHUNK_PARTITIONS - 1]} ({CHUNK_PARTITIONS})"
    assert any(first in m for m in messages), first
    mesh = load_mesh(project)
    port = MeshEnv(tmp_path / "products", erp_root).port(mesh=mesh)
    for product in PRODUCTS:
        manifest = port.lake.published(mesh.product(".".join(product)).address, 1)
        assert manifest.keys() == list(partitions), product
