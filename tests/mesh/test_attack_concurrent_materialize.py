"""Two `mesh materialize` catch-ups started at the same moment on one fresh work dir.

Either both finish, or one says that another materialization is running; either way the lake holds
exactly what one run publishes (every partition once, no row twice, rows read = published +
quarantined), every lake snapshot is consistent with its own partition ledger, and the Dagster
instance keeps no run in progress.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import RunsFilter

from mesh.contracts.names import Address
from mesh.orchestration.resources import LocalStorage
from mesh.orchestration.runs import LOCK_FILE, exclusive
from mesh.storage.lake import PARTITION
from operational.feeds import count_records
from tests.conftest import ROOT

MESH = str(Path(sys.executable).parent / "mesh")
LAST = "2023-01-12"  # a catch-up of customer.customers from the domain's start, 2023-01-01: 12 partitions
KEYS = [f"2023-01-{d:02d}" for d in range(1, 13)]
BUSY = "another `mesh materialize` is running"
NOTHING = "every product is up to date: nothing to materialize"
IN_PROGRESS = (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.QUEUED,
               dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.CANCELING)


def environment(work: Path, operational: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "MESH_STORAGE_URI")}
    return {**env, "MESH_WORK_DIR": str(work), "MESH_PROJECT_DIR": str(ROOT), "MESH_OPERATIONAL_ROOT": str(operational)}


def assert_published_once(work: Path, operational: Path) -> None:
    lake = LocalStorage(root=str(work / "products")).lake()
    address = Address.parse("customer.customers")
    state = lake.published(address, 1)
    assert state.keys() == KEYS
    for key in KEYS:  # rows read = rows published + rows quarantined, per partition, as one run records them
        entry = state.partitions[key]
        assert entry.rows_in == count_records(operational / "erp" / "customers" / f"{key}.csv") > 0, key
        assert entry.rows_in == entry.rows + entry.rows_quarantined, key
    with lake.cursor() as cur:
        rows = dict(cur.execute(f"SELECT {PARTITION}, count(*) FROM {lake.ref(address, 1)} GROUP BY 1").fetchall())
        held = dict(cur.execute(f"SELECT {PARTITION}, count(*) FROM {lake.ref(address.quarantined, 1)} "
                                f"GROUP BY 1").fetchall())
        twice = cur.execute(f"SELECT customer_id FROM {lake.ref(address, 1)} GROUP BY 1 HAVING count(*) > 1"
                            ).fetchall()
    assert twice == []
    assert rows == {k: s.rows for k, s in state.partitions.items() if s.rows}
    assert held == {k: s.rows_quarantined for k, s in state.partitions.items() if s.rows_quarantined}
    # every snapshot that published the product holds, for each partition it lists, the rows it records
    snapshots = lake.snapshots(address)
    assert snapshots
    for snapshot in snapshots:
        then = lake.published(address, 1, as_of=snapshot.id)
        with lake.connect(snapshot=snapshot.id) as con:
            counted = dict(con.execute(f"SELECT {PARTITION}, count(*) FROM {lake.ref(address, 1)} "
                                       f"GROUP BY 1").fetchall())
        assert counted == {k: s.rows for k, s in then.partitions.items() if s.rows}, snapshot.id


@pytest.mark.timeout(300)
def test_two_catch_ups_at_once_publish_what_one_would_and_leave_no_run_in_progress(tmp_path, erp_root):
    work = tmp_path / "work"
    env = environment(work, erp_root)
    command = [MESH, "materialize", "--domain", "customer", "--end", LAST]
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # one catches up; the other, planned after it, finds nothing left to do
    done = sorted("(catch_up_0): succeeded" in output for output in outputs)
    idle = sorted(NOTHING in output for output in outputs)
    assert done == idle == [False, True], outputs

    assert_published_once(work, erp_root)
    instance = dg.DagsterInstance.from_config(str(work / "dagster"))
    try:
        [run] = instance.get_runs()  # every partition computed and recorded once
        assert run.status is dg.DagsterRunStatus.SUCCESS and run.job_name == "catch_up_0"
        assert sorted(instance.get_materialized_partitions(dg.AssetKey(["customer", "customers"]))) == KEYS
        assert not instance.get_runs(RunsFilter(statuses=list(IN_PROGRESS)))
    finally:
        instance.dispose()
    assert len({s.id for s in LocalStorage(root=str(work / "products")).lake().snapshots(
        Address.parse("customer.customers"))}) == 1  # one publish of the 12 partitions


def test_a_materialization_waits_for_the_one_running_on_the_instance_and_says_so(tmp_path):
    said, order = [], []
    holding, waiting = threading.Event(), threading.Event()

    def first() -> None:
        with exclusive(tmp_path, said.append):
            holding.set()
            waiting.wait(30)
            time.sleep(0.3)  # the second stays blocked meanwhile
            order.append("first done")

    def second() -> None:
        holding.wait(30)
        with exclusive(tmp_path, lambda text: (said.append(text), waiting.set())):
            order.append("second runs")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert order == ["first done", "second runs"]
    [message] = said
    assert message.startswith(f"{BUSY} on this instance (process {os.getpid()} on {socket.gethostname()}, since ")
    assert message.endswith("): waiting for it to finish, then materializing what it leaves to do (Ctrl-C stops "
                            "waiting; nothing is changed)")
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: the next one starts at once, silently
    with exclusive(tmp_path, said.append):
        assert "since" in (tmp_path / LOCK_FILE).read_text()
    assert len(said) == 1
