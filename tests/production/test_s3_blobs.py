"""``S3Blobs`` against the moto S3 server: the same publish protocol as a local folder, conditional
writes, bounded retries, and one clear error for an unreachable server, a missing bucket or
credentials the server refuses.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pytest
from botocore.awsrequest import AWSResponse
from dagster_aws.s3 import S3Resource

from mesh.blobs import LocalBlobs
from mesh.errors import StorageError
from mesh.names import Address
from mesh.s3 import ConcurrentWrite, S3Blobs
from mesh.storage import ProductStore, Publication
from tests.production.servers import MotoS3
from tests.servers import free_port

ORDERS = Address.parse("sales.orders")


def resource(endpoint: str, retries: int = 2, key: str = "test") -> S3Resource:
    return S3Resource(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=key,
                      aws_secret_access_key=key, max_attempts=retries)


@pytest.fixture
def bucket(s3, request) -> str:
    name = "blobs-" + request.node.name.replace("_", "-")[:40].strip("-").lower()
    resource(s3.endpoint).get_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def blobs(s3, bucket) -> S3Blobs:
    return S3Blobs(resource(s3.endpoint), bucket, "mesh")


def publication(*values: int) -> Publication:
    return Publication(pa.table({"order_id": list(values)}), len(values), 0)


def test_publish_and_read_back_with_the_local_layout(blobs, tmp_path):
    local = LocalBlobs(tmp_path)
    for store in (ProductStore(blobs), ProductStore(local)):
        store.publish(ORDERS, 1, {"2026-11-01": publication(1, 2), "2026-11-02": publication(3)}, "run-1")
        store.publish(ORDERS, 1, {"2026-11-01": publication(9)}, "run-2")  # re-running a day replaces it
        manifest = store.manifest(ORDERS, 1)
        assert manifest.generation == 2 and manifest.keys() == ["2026-11-01", "2026-11-02"]
        assert sorted(store.dataset(manifest).to_table().column("order_id").to_pylist()) == [3, 9]
        assert store.majors(ORDERS) == [1]
    def layout(found):  # keys without the write ids; the local folder also keeps its lock files
        return {i.key.rsplit(".", 2)[0] if i.key.endswith(".parquet") else i.key for i in found
                if not i.key.endswith(".lock")}

    assert layout(blobs.list("sales")) == layout(local.list("sales"))
    assert "sales/orders/v1/_manifest.json" in layout(blobs.list("sales"))
    filesystem, base = blobs.arrow_filesystem()
    assert base == f"{blobs.bucket}/mesh" and filesystem.type_name == "s3"


def test_a_failed_publish_leaves_the_previous_snapshot(blobs):
    store = ProductStore(blobs)
    store.publish(ORDERS, 1, {"2026-11-01": publication(1)}, "run-1")

    class ManifestFails(S3Blobs):
        def put(self, key, data):
            if key.endswith("_manifest.json"):
                raise StorageError("the server went away")
            super().put(key, data)

    broken = ProductStore(ManifestFails(blobs.s3, blobs.bucket, blobs.prefix))
    with pytest.raises(StorageError):
        broken.publish(ORDERS, 1, {"2026-11-01": publication(7, 8), "2026-11-02": publication(9)}, "run-2")
    manifest = store.manifest(ORDERS, 1)
    assert manifest.generation == 1
    assert store.dataset(manifest).to_table().column("order_id").to_pylist() == [1]
    assert len([i for i in blobs.list("sales") if i.key.endswith(".parquet")]) == 3  # orphans, never read


def test_data_files_are_never_overwritten(blobs):
    blobs.put_new("a/file.parquet", b"first")
    with pytest.raises(ConcurrentWrite, match="already exists"):
        blobs.put_new("a/file.parquet", b"second")
    assert blobs.get("a/file.parquet") == b"first"
    blobs.put_new("a/file.parquet", b"first")  # a retried write of the same bytes is not a conflict


def test_a_second_writer_of_a_manifest_is_detected_not_lost(blobs):
    with blobs.lock("m/_manifest.json"):
        assert blobs.get("m/_manifest.json") is None
        blobs.put("m/_manifest.json", b"one")
        blobs.put("m/_manifest.json", b"two")  # the same writer again: its own ETag
    with blobs.lock("m/_manifest.json"):
        assert blobs.get("m/_manifest.json") == b"two"
        blobs.client.put_object(Bucket=blobs.bucket, Key="mesh/m/_manifest.json", Body=b"someone else")
        with pytest.raises(ConcurrentWrite, match="another writer changed it first"):
            blobs.put("m/_manifest.json", b"three")
    assert blobs.get("m/_manifest.json") == b"someone else"


def test_keys_cannot_escape_the_prefix(blobs):
    for key in ("../other/x", "a/../../x", "/abs", "a//b"):
        with pytest.raises(StorageError, match="refusing key"):
            blobs.get(key)


def test_an_unreachable_server_is_one_error_after_bounded_retries():
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    blobs = S3Blobs(resource(endpoint, retries=2), "mesh-products")
    started = time.time()
    with pytest.raises(StorageError) as caught:
        blobs.get("sales/orders/v1/_manifest.json")
    assert str(caught.value).startswith(
        f"reading mesh/sales/orders/v1/_manifest.json: bucket 'mesh-products' at {endpoint} is unreachable "
        "after 3 attempt(s)")
    assert time.time() - started < 30


def test_a_missing_bucket_is_named(s3):
    blobs = S3Blobs(resource(s3.endpoint), "no-such-bucket")
    with pytest.raises(StorageError, match=f"bucket 'no-such-bucket' at {s3.endpoint} does not exist"):
        blobs.list("sales")


def test_refused_credentials_are_named():
    root = Path(tempfile.mkdtemp(prefix="mesh-s3-auth-"))
    server = MotoS3(root, env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}).start()  # moto checks keys from now on
    try:
        blobs = S3Blobs(resource(server.endpoint, key="wrong"), "mesh-products")
        with pytest.raises(StorageError, match=f"bucket 'mesh-products' at {server.endpoint} refused the "
                                               "credentials \\(InvalidAccessKeyId"):
            blobs.put("sales/x.json", b"{}")
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


class EmptyBody:
    def stream(self, **kwargs):
        yield b""


def test_transient_server_errors_are_retried_within_the_bound(blobs):
    failures = {"left": 2}

    def slow_down(request, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            return AWSResponse(request.url, 503, {}, EmptyBody())  # botocore retries a 503
        return None

    blobs.client.meta.events.register_first("before-send.s3.PutObject", slow_down)
    blobs.put("t/ok.json", b"1")  # two 503s, then success on the third and last attempt
    assert failures["left"] == 0 and blobs.get("t/ok.json") == b"1"
    failures["left"] = 3
    with pytest.raises(StorageError, match="answered 503"):
        blobs.put("t/ok.json", b"2")
    assert blobs.get("t/ok.json") == b"1"
