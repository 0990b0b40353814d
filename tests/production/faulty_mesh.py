"""The ``mesh`` command with a pause inside one product's publish transaction, so that a test can stop
a server at that moment: ``MESH_FAULT_BEFORE`` is the product's address (``customer.customers``): the
pause comes after its old partitions are deleted and before its new rows are written, inside the
transaction; ``MESH_FAULT_READY`` a file touched on arrival, ``MESH_FAULT_GO`` the file the test
creates to go on; ``MESH_FAULT_QUICK_PG_RETRIES`` shortens dagster-postgres's waits between its
(bounded) retries.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mesh.cli import main
from mesh.storage.lake import Lake

_replace = Lake._replace


def _paused_replace(self: Lake, cur, address, major, keys, rows, keep_from) -> None:
    if str(address) == os.environ["MESH_FAULT_BEFORE"]:
        cur.execute(f"DELETE FROM {self.ref(address, major)} WHERE true")  # a half-done transaction
        Path(os.environ["MESH_FAULT_READY"]).touch()
        deadline = time.time() + 300
        while not Path(os.environ["MESH_FAULT_GO"]).exists():
            if time.time() > deadline:
                raise SystemExit("the test never said go")
            time.sleep(0.05)
    _replace(self, cur, address, major, keys, rows, keep_from)


Lake._replace = _paused_replace  # type: ignore[method-assign]

if os.environ.get("MESH_FAULT_QUICK_PG_RETRIES"):
    # dagster-postgres retries a lost connection 5 times with exponential backoff from 0.2 s (about
    # 6 s per database call); keep the bound, drop the waiting, so a test need not sit through it.
    import dagster_postgres.utils

    dagster_postgres.utils.calculate_delay = lambda **kwargs: 0.01

if __name__ == "__main__":
    sys.exit(main())
