"""Publishing protocol: atomic, idempotent, and a run that dies leaves the previous snapshot readable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pytest

from mesh.blobs import LocalBlobs
from mesh.errors import InvalidName, StorageError
from mesh.names import Address
from mesh.storage import ProductStore, Publication

ADDRESS = Address("sales", "orders")


def table(values: list[int]) -> pa.Table:
    return pa.table({"order_id": pa.array(values, pa.int64())})


def publish(store: ProductStore, partitions: dict[str, list[int]], run_id: str = "run-0001"):
    return store.publish(ADDRESS, 1, {k: Publication(table(v), len(v), 0) for k, v in partitions.items()}, run_id)


def read_all(store: ProductStore) -> list[int]:
    manifest = store.manifest(ADDRESS, 1)
    return sorted(store.dataset(manifest).to_table().column("order_id").to_pylist())


def test_publish_and_read_back(tmp_path):
    store = ProductStore(LocalBlobs(tmp_path))
    publish(store, {"2026-11-01": [1, 2], "2026-11-02": [3]})
    assert read_all(store) == [1, 2, 3]
    manifest = store.manifest(ADDRESS, 1)
    assert manifest.keys() == ["2026-11-01", "2026-11-02"]
    assert manifest.partitions["2026-11-01"].rows == 2
    assert (tmp_path / "sales" / "orders" / "v1" / "_manifest.json").exists()


def test_republishing_a_partition_replaces_it(tmp_path):
    store = ProductStore(LocalBlobs(tmp_path))
    publish(store, {"2026-11-01": [1, 2]}, "run-a")
    publish(store, {"2026-11-01": [1, 2]}, "run-b")
    publish(store, {"2026-11-01": [1, 2]}, "run-c")
    assert read_all(store) == [1, 2]
    parquet = list((tmp_path / "sales" / "orders" / "v1").glob("*.parquet"))
    # the current file, and the one superseded by the last publish (kept for readers in flight)
    assert len(parquet) == 2


def test_partition_keys_cannot_escape(tmp_path):
    store = ProductStore(LocalBlobs(tmp_path))
    with pytest.raises(InvalidName):
        publish(store, {"../../etc": [1]})
    with pytest.raises(StorageError):
        LocalBlobs(tmp_path).put("../outside.txt", b"x")
    assert not (tmp_path.parent / "outside.txt").exists()


def test_retention_drops_old_partitions(tmp_path):
    store = ProductStore(LocalBlobs(tmp_path))
    publish(store, {"2026-01-01": [1], "2026-06-01": [2]})
    store.publish(ADDRESS, 1, {"2026-11-01": Publication(table([3]), 1, 0)}, "run-x", retention_keep_from="2026-03-01")
    assert store.manifest(ADDRESS, 1).keys() == ["2026-06-01", "2026-11-01"]


def test_vacuum_removes_only_old_orphans(tmp_path):
    store = ProductStore(LocalBlobs(tmp_path))
    publish(store, {"2026-11-01": [1]})
    orphan = tmp_path / "sales" / "orders" / "v1" / "2026-11-02.dead-run.parquet"
    orphan.write_bytes(b"half written")
    assert store.vacuum(ADDRESS, 1) == []  # too young: a run may still be writing it
    old = time.time() - 7 * 3600
    os.utime(orphan, (old, old))
    assert store.vacuum(ADDRESS, 1) == ["sales/orders/v1/2026-11-02.dead-run.parquet"]
    assert read_all(store) == [1]


def test_killed_write_leaves_previous_snapshot_intact(tmp_path):
    """A process killed while publishing (data written, manifest not yet) changes nothing readers see."""
    store = ProductStore(LocalBlobs(tmp_path))
    publish(store, {"2026-11-01": [1, 2, 3]})
    before = (tmp_path / "sales" / "orders" / "v1" / "_manifest.json").read_bytes()
    script = textwrap.dedent(f"""
        import sys, time
        import pyarrow as pa
        from mesh import blobs, storage
        from mesh.names import Address
        real_put = blobs.LocalBlobs.put
        def put(self, key, data):
            if key.endswith("_manifest.json"):
                print("writing-manifest", flush=True)
                time.sleep(60)  # killed here, between the data files and the manifest
            real_put(self, key, data)
        blobs.LocalBlobs.put = put
        store = storage.ProductStore(blobs.LocalBlobs({str(tmp_path)!r}))
        big = pa.table({{"order_id": pa.array(range(200000), pa.int64())}})
        store.publish(Address("sales", "orders"), 1,
                      {{"2026-11-01": storage.Publication(big, 200000, 0),
                        "2026-11-02": storage.Publication(big, 200000, 0)}}, "run-killed")
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing-manifest"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert (tmp_path / "sales" / "orders" / "v1" / "_manifest.json").read_bytes() == before
    assert read_all(store) == [1, 2, 3]
    assert json.loads(before)["partitions"].keys() == {"2026-11-01"}
    # the dead run's files are invisible, and a later run publishes normally
    publish(store, {"2026-11-02": [4]}, "run-after")
    assert read_all(store) == [1, 2, 3, 4]
