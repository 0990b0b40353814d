"""The ``mesh`` command with a pause just before one S3 key is written, so that a test can stop the
S3 server at that moment: ``MESH_FAULT_BEFORE`` is the key (relative to the bucket prefix),
``MESH_FAULT_READY`` a file touched on arrival, ``MESH_FAULT_GO`` the file the test creates to go on;
``MESH_FAULT_QUICK_PG_RETRIES`` shortens dagster-postgres's waits between its (bounded) retries.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mesh.cli import main
from mesh.s3 import S3Blobs

_put = S3Blobs.put


def _paused_put(self: S3Blobs, key: str, data: bytes) -> None:
    if key == os.environ["MESH_FAULT_BEFORE"]:
        Path(os.environ["MESH_FAULT_READY"]).touch()
        deadline = time.time() + 300
        while not Path(os.environ["MESH_FAULT_GO"]).exists():
            if time.time() > deadline:
                raise SystemExit("the test never said go")
            time.sleep(0.05)
    _put(self, key, data)


S3Blobs.put = _paused_put  # type: ignore[method-assign]

if os.environ.get("MESH_FAULT_QUICK_PG_RETRIES"):
    # dagster-postgres retries a lost connection 5 times with exponential backoff from 0.2 s (about
    # 6 s per database call); keep the bound, drop the waiting, so a test need not sit through it.
    import dagster_postgres.utils

    dagster_postgres.utils.calculate_delay = lambda **kwargs: 0.01

if __name__ == "__main__":
    sys.exit(main())
