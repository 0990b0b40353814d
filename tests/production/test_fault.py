"""S3 or Postgres stops in the middle of a run: readers keep the previous snapshot, the command says
which endpoint failed, and the retried run completes once the server is back.

The S3 server is moto, which keeps objects in memory; here it records every request to a file and
replays it when restarted, so that it comes back with what it held, like a server with a disk.
The run is paused by ``faulty_mesh.py`` inside the product's publish transaction (its old partitions
deleted, its new rows not yet written), the server is killed (SIGKILL) at that moment, and the run
goes on into the outage: the transaction never commits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest

from mesh.errors import MeshError
from mesh.instance.state import ensure_instance
from tests.conftest import ROOT
from tests.production.conftest import make_profile
from tests.production.servers import MotoS3, Postgres

pytestmark = pytest.mark.slow

# Days with new customers (registrations cluster at the start of the ERP's history).
DAY, LAST = "2023-01-03", "2023-01-05"
PRODUCT = "customer.customers"


def published(profile) -> dict:
    """What the lake publishes of the product: partition -> (rows, run id), and the snapshot."""
    state = profile.port().lake.published(profile.port().mesh.product(PRODUCT).address, 1)
    return {"snapshot": state.snapshot, "partitions": {k: (s.rows, s.run_id) for k, s in state.partitions.items()}}


@pytest.fixture
def recorded_s3(tmp_path):
    server = MotoS3(tmp_path / "s3", recording=True).start()
    yield server
    server.kill()


def test_s3_outage_mid_publish_keeps_the_previous_snapshot_and_the_retried_run_completes(
        postgres, recorded_s3, erp_root, tmp_path):
    profile = make_profile(postgres, recorded_s3, erp_root, tmp_path / "profile")
    done = profile.mesh("materialize", "--start", DAY, "--end", DAY, "--domain", "customer")
    assert done.returncode == 0, done.stderr[-3000:]
    previous = profile.port().read("customer.customers").sort_values("customer_id", ignore_index=True)
    previous_state = published(profile)
    assert set(previous_state["partitions"]) == {DAY} and len(previous) > 0

    # A run over three days, paused inside its publish transaction.
    ready, go = tmp_path / "ready", tmp_path / "go"
    fault = {"MESH_FAULT_BEFORE": PRODUCT, "MESH_FAULT_READY": str(ready), "MESH_FAULT_GO": str(go)}
    run = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("faulty_mesh.py")), "materialize", "--start", DAY,
         "--end", LAST, "--domain", "customer"],
        cwd=ROOT, env={**os.environ, **profile.env, **fault}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.time() + 300
        while not ready.exists():
            assert run.poll() is None, run.communicate()[0][-3000:]
            assert time.time() < deadline, "the run never reached its publish"
            time.sleep(0.1)
        recorded_s3.kill()  # S3 goes away in the middle of the publish
        go.touch()
        output, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0, output
    summary = output[output.index("error: run "):]  # the command's last words: one line per failed step
    assert (f"failed customer__customers: mesh.errors.StorageError: publishing {PRODUCT} v1 (3 partitions "
            f"{DAY}..{LAST}) in s3://{profile.bucket}/mesh/ failed: IO Error") in summary, summary
    assert f"127.0.0.1:{recorded_s3.port}" in summary, summary  # names the endpoint that failed

    # S3 is back with what it held: readers see exactly the previous snapshot, not the half-done one.
    recorded_s3.restart()
    assert published(profile) == previous_state
    seen = profile.port().read("customer.customers").sort_values("customer_id", ignore_index=True)
    assert seen.equals(previous)

    # The retried run completes and publishes the three days; the first day is replaced, not duplicated.
    done = profile.mesh("materialize", "--start", DAY, "--end", LAST, "--domain", "customer")
    assert done.returncode == 0, done.stderr[-3000:]
    port = profile.port()
    assert sorted(published(profile)["partitions"]) == [DAY, "2023-01-04", LAST]
    first_day = port.read("customer.customers", partition=DAY).sort_values("customer_id", ignore_index=True)
    assert first_day.equals(previous)
    assert port.read("customer.customers")["customer_id"].is_unique
    statuses = [status for (status,) in profile.sql("SELECT status FROM runs ORDER BY create_timestamp")]
    assert statuses == ["SUCCESS", "FAILURE", "SUCCESS"]


def quick_pg_retries():
    """dagster-postgres's bounded retries without their waits (5 retries, backoff from 0.2 s)."""
    return mock.patch("dagster_postgres.utils.calculate_delay", lambda **kwargs: 0.01)


@pytest.fixture
def own_postgres():
    root = Path(tempfile.mkdtemp(prefix="mesh-postgres-"))
    server = Postgres(root).init()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_postgres_down_at_start_or_mid_run_is_one_clear_error_and_the_rerun_completes(
        own_postgres, s3, erp_root, tmp_path):
    profile = make_profile(own_postgres, s3, erp_root, tmp_path / "profile")
    where = f'connection to server at "127.0.0.1", port {own_postgres.port} failed'
    own_postgres.stop()
    with profile.environment(), quick_pg_retries(), pytest.raises(MeshError) as caught:
        ensure_instance()  # what every command that records runs opens first
    assert str(caught.value) == (f"the Dagster instance configured in {profile.home / 'dagster.yaml'} cannot be "
                                 f"opened: {where}: Connection refused")

    own_postgres.start()
    ready, go = tmp_path / "ready", tmp_path / "go"
    fault = {"MESH_FAULT_BEFORE": PRODUCT, "MESH_FAULT_READY": str(ready), "MESH_FAULT_GO": str(go),
             "MESH_FAULT_QUICK_PG_RETRIES": "1"}
    run = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("faulty_mesh.py")), "materialize", "--start", DAY,
         "--end", DAY, "--domain", "customer"],
        cwd=ROOT, env={**os.environ, **profile.env, **fault}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.time() + 300
        while not ready.exists():
            assert run.poll() is None and time.time() < deadline, run.communicate()[1][-3000:]
            time.sleep(0.1)
        own_postgres.stop()  # Postgres goes away while the run publishes
        go.touch()
        _, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1
    assert stderr.strip().splitlines()[-1] == (
        f"error: materialize_mesh stopped: the Dagster instance failed under it: {where}: Connection refused")

    own_postgres.start()
    # The dead run is still STARTED and holds the product's pool slot (one writer per product), so a
    # rerun would wait for it. The daemon's run monitoring marks such a run failed and frees its slots
    # (run_monitoring.free_slots_after_run_end_seconds); without a daemon, do what it does.
    orphans = profile.sql("SELECT DISTINCT run_id FROM concurrency_slots WHERE run_id IS NOT NULL")
    assert orphans and profile.sql("SELECT status FROM runs WHERE run_id = %s", orphans[0][0]) == [("STARTED",)]
    with profile.environment():
        instance = dg.DagsterInstance.from_config(str(profile.home))
        try:
            for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                instance.report_run_failed(record.dagster_run)
                instance.event_log_storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
        finally:
            instance.dispose()
    done = profile.mesh("materialize", "--start", DAY, "--end", DAY, "--domain", "customer", timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    statuses = [status for (status,) in profile.sql("SELECT status FROM runs ORDER BY create_timestamp")]
    assert statuses == ["FAILURE", "SUCCESS"]  # the run that died, then the rerun
    assert len(profile.port().read("customer.customers", partition=DAY)) > 0
