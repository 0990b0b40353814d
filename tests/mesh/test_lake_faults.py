"""Faults of the lake: writers killed with SIGKILL mid-publish, concurrent writers, writers that keep losing.

Writers and readers are separate processes (``python -c`` with a small script), as in production where
every Dagster run is a process of its own. The scripts import ``mesh.storage.lake`` without running
``mesh/__init__.py`` (which imports Dagster, seconds per process), so a writer publishes within a second
of its start. The invariant checked at every snapshot is the one ``mesh.storage.lake`` promises: for every
partition recorded in ``_mesh.partitions``, the product holds ``rows`` rows of it, the quarantine holds
``rows_quarantined`` rows of it, their sum is ``rows_in``, and the ledger holds the publish that wrote it.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import mesh.storage.lake
from mesh.contracts.names import Address
from mesh.orchestration.resources import LocalStorage
from mesh.storage.lake import ConcurrentWrite, Lake, Publication, RunInfo

# Reads through the local SQLite catalog may fail with 'database is locked' while writers commit (seen once in a
# time-travel read: "Failed to query snapshot at version N for DuckLake: ... database is locked");
# mesh.storage.lake retries conflicts of writers, not reads. The reader tolerates it (and checks again) and the
# test warns.
LOCKED = "the reader hit 'database is locked' {} time(s) while writers committed, first: {}"
PACKAGE = str(Path(mesh.storage.lake.__file__).resolve().parents[1])  # the mesh package folder
MAJOR = 1
KEYS = [f"2026-01-{day:02d}" for day in range(1, 9)]

PRELUDE = '''
import json, random, sys, time, types
from pathlib import Path

cfg = json.loads(sys.argv[1])
package = types.ModuleType("mesh")  # mesh/__init__.py imports Dagster; the lake needs none of it
package.__path__ = [cfg["package"]]
sys.modules["mesh"] = package

import duckdb
import pyarrow as pa
from mesh.storage.lake import Lake, LakeConfig, Publication, RunInfo
from mesh.contracts.names import Address

lake = Lake(LakeConfig(**cfg["lake"]))
lake.ensure()
print(json.dumps({"ready": True}), flush=True)
if cfg.get("go"):
    while not Path(cfg["go"]).exists():
        time.sleep(0.005)
'''

# Publishes ``chunks`` chunks of ``per_chunk`` partitions, each with a random number of published and
# quarantined rows; rows_in = published + quarantined by construction. Prints each publish once committed.
WRITER = PRELUDE + '''
attempts = []
retrying = Lake._retrying


def counted(self, action, attempt):  # counts the transactions tried, retries of conflicts included
    def once():
        attempts.append(action)
        return attempt()
    return retrying(self, action, once)


Lake._retrying = counted
address = Address(cfg["domain"], cfg["product"])
rng = random.Random(cfg["seed"])
for chunk in range(cfg["chunks"]):
    keys = sorted(rng.sample(cfg["keys"], min(cfg["per_chunk"], len(cfg["keys"]))))
    run = f"{cfg['name']}-{chunk}"
    partitions, quarantine, counts = {}, {}, {}
    for key in keys:
        good, bad = rng.randint(0, cfg["max_rows"]), rng.randint(0, cfg["max_bad"])
        rows = pa.table({"order_id": pa.array(range(good), pa.int64()), "run": pa.array([run] * good, pa.string())})
        partitions[key] = Publication(rows, rows_in=good + bad, rows_quarantined=bad)
        quarantine[key] = pa.table({"partition": pa.array([key] * bad, pa.string()),
                                    "order_id": pa.array(range(bad), pa.int64())})
        counts[key] = [good, bad]
    attempts.clear()
    started = time.monotonic()
    snapshot = lake.publish(address, cfg["major"], partitions, quarantine, RunInfo(run))
    print(json.dumps({"run": run, "snapshot": snapshot, "counts": counts, "attempts": len(attempts),
                      "seconds": round(time.monotonic() - started, 3)}), flush=True)
'''

# Checks the invariant of every product at the current snapshot, and reads each through the lake's API at that
# snapshot, in a loop, until told to stop. A 'database is locked' of the local SQLite catalog is counted and the
# round checked again (see LOCKED); any other error ends the process with a traceback.
READER = PRELUDE + '''
addresses = [Address(domain, product) for domain, product in cfg["products"]]
checks, problems, locked, ledger_rows = 0, [], [], 0
while not Path(cfg["stop"]).exists() and not problems:
    try:
        with lake.cursor() as cur:
            version = int(cur.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0])
            for address in addresses:
                problems += invariant_problems(cur, address, cfg["major"], version)
            ledger_rows = max(ledger_rows, cur.execute(
                f"SELECT count(*) FROM lake._mesh.ledger AT (VERSION => {version})").fetchone()[0])
        for address in addresses:
            # published(as_of) takes the columns from the current catalog: a table made after `version` is
            # reported (without partitions) though it cannot be read at `version`; read where partitions are.
            published = lake.published(address, cfg["major"], as_of=version)
            if published is not None and published.partitions:
                read = lake.read(address, cfg["major"], as_of=version).num_rows
                if read != published.rows:
                    problems.append(f"{address} at snapshot {version}: read {read} rows, published {published.rows}")
        checks += 1
    except Exception as err:
        if "database is locked" not in str(err):
            raise
        locked.append(str(err).splitlines()[0][:300])
    time.sleep(0.5)  # checks often, without holding the catalog's lock all the time (writers would wait)
print(json.dumps({"checks": checks, "problems": problems[:20], "locked": locked, "ledger_rows": ledger_rows}),
      flush=True)
sys.exit(1 if problems else 0)
'''


def invariant_problems(cur: duckdb.DuckDBPyConnection, address: Address, major: int, version: int) -> list[str]:
    """What breaks the lake's invariant for ``address`` v``major`` at snapshot ``version``; [] when nothing.

    Runs in the test and, by its source, in the reader process: it uses only ``duckdb`` and ``Lake``."""
    at = f" AT (VERSION => {int(version)})"
    where = f"WHERE product = '{address}' AND major = {int(major)}"
    try:
        state = cur.execute(f"SELECT partition, rows, rows_in, rows_quarantined, run_id "
                            f"FROM lake._mesh.partitions{at} {where}").fetchall()
        ledger = cur.execute(f"SELECT partition, run_id, rows_published, rows_in, rows_quarantined "
                             f"FROM lake._mesh.ledger{at} {where}").fetchall()
    except duckdb.CatalogException:  # before the mesh's own tables were made
        return []
    counts = {}
    for target in (address, address.quarantined):
        try:
            counts[target] = dict(cur.execute(f'SELECT "_partition", count(*) FROM {Lake.ref(target, major)}{at} '
                                              f"GROUP BY ALL").fetchall())
        except duckdb.CatalogException:  # before the table was made
            counts[target] = {}
    where_ = f"{address} v{major} at snapshot {version}"
    problems = []
    keys = [row[0] for row in state]
    if len(keys) != len(set(keys)):
        problems.append(f"{where_}: a partition is recorded more than once: {sorted(keys)}")
    published = {key: rows for key, rows, _, _, _ in state if rows}
    quarantined = {key: rows for key, _, _, rows, _ in state if rows}
    if counts[address] != published:
        problems.append(f"{where_}: product rows per partition {counts[address]} != recorded {published}")
    if counts[address.quarantined] != quarantined:
        problems.append(f"{where_}: quarantine rows per partition {counts[address.quarantined]} != "
                        f"recorded {quarantined}")
    written = {(key, run): (rows, rows_in, bad) for key, run, rows, rows_in, bad in ledger}
    for key, rows, rows_in, bad, run in state:
        if rows + bad != rows_in:
            problems.append(f"{where_}: partition {key}: {rows} published + {bad} quarantined != {rows_in} in")
        if written.get((key, run)) != (rows, rows_in, bad):
            problems.append(f"{where_}: partition {key} by {run} is not in the ledger as recorded: "
                            f"{written.get((key, run))} != {(rows, rows_in, bad)}")
    return problems


def lake_of(tmp_path: Path) -> Lake:
    return LocalStorage(root=str(tmp_path / "products")).lake()


@pytest.fixture
def started():
    """The processes a test starts; those still running when it ends (it failed) are killed."""
    processes: list[subprocess.Popen] = []
    yield processes
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def spawn(started: list[subprocess.Popen], tmp_path: Path, name: str, script: str, **cfg: object
          ) -> tuple[subprocess.Popen, Path, Path]:
    """Start a script in a process of its own; its output goes to files (a pipe could fill and block it)."""
    config = LocalStorage(root=str(tmp_path / "products")).lake_config()
    cfg = {"package": PACKAGE, "lake": {"catalog": config.catalog, "data_path": config.data_path},
           "major": MAJOR, **cfg, "name": name}
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", script, json.dumps(cfg)], stdout=stdout, stderr=stderr,
                                cwd=tmp_path)
    started.append(proc)
    return proc, out, err


def writer(started: list[subprocess.Popen], tmp_path: Path, name: str, address: Address, seed: int, chunks: int,
           keys: list[str] = KEYS, per_chunk: int = 3, max_rows: int = 200, max_bad: int = 30, go: Path | None = None
           ) -> tuple[subprocess.Popen, Path, Path]:
    return spawn(started, tmp_path, name, WRITER, domain=address.domain, product=address.product, seed=seed,
                 chunks=chunks, keys=keys, per_chunk=per_chunk, max_rows=max_rows, max_bad=max_bad,
                 go=str(go) if go else None)


def lines(out: Path) -> list[dict]:
    """What a process printed; a last line cut by SIGKILL is dropped."""
    found = []
    for line in out.read_text().splitlines():
        with contextlib.suppress(ValueError):
            found.append(json.loads(line))
    return found


def wait_for(proc: subprocess.Popen, out: Path, err: Path, what: str = "ready", timeout: float = 60) -> None:
    """Wait until the process printed it is ready, or (``what="run"``) that it committed a publish."""
    deadline = time.monotonic() + timeout
    while not any(what in line for line in lines(out)):
        assert proc.poll() is None, f"the process ended before {what}: {err.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the process did not get to {what} in {timeout} s"
        time.sleep(0.01)


def finish(proc: subprocess.Popen, out: Path, err: Path, timeout: float = 300) -> list[dict]:
    code = proc.wait(timeout=timeout)
    assert code == 0, f"exit {code}: {err.read_text()[-3000:]}"
    return lines(out)


def publishes(printed: list[dict]) -> list[dict]:
    return [line for line in printed if "run" in line]


def snapshot_ids(lake: Lake) -> list[int]:
    with lake.cursor() as cur:
        return [i for (i,) in cur.execute("SELECT snapshot_id FROM lake.snapshots() ORDER BY 1").fetchall()]


def every_snapshot_problems(lake: Lake, addresses: list[Address]) -> tuple[int, list[str]]:
    versions = snapshot_ids(lake)
    problems: list[str] = []
    with lake.cursor() as cur:
        for version in versions:
            for address in addresses:
                problems += invariant_problems(cur, address, MAJOR, version)
    return len(versions), problems


def last_published(printed: list[dict]) -> dict[str, tuple[str, int, int]]:
    """Per partition: the run, rows published and rows quarantined of the last publish a writer printed."""
    last: dict[str, tuple[str, int, int]] = {}
    for line in publishes(printed):
        for key, (good, bad) in line["counts"].items():
            last[key] = (line["run"], good, bad)
    return last


def state_of(lake: Lake, address: Address) -> dict[str, tuple[str, int, int]]:
    published = lake.published(address, MAJOR)
    assert published is not None
    return {key: (s.run_id, s.rows, s.rows_quarantined) for key, s in published.partitions.items()}


def rows_per_partition(lake: Lake, address: Address) -> dict[str, int]:
    table = lake.read(address, MAJOR, select='"_partition" AS p')
    counts: dict[str, int] = {}
    for key in table.column("p").to_pylist():
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.slow
def test_kill_minus_9_at_random_points_keeps_every_snapshot_consistent(tmp_path, started):
    address = Address("sales", "orders")
    rng = random.Random(20261124)
    kills, printed_runs, runs_per_writer = 7, set(), {}
    for kill in range(kills):
        name = f"killed{kill}"
        proc, out, err = writer(started, tmp_path, name, address, seed=kill, chunks=100_000, per_chunk=3)
        # Half the writers die in their first publish (the first one may die creating the tables), half in
        # the publishes after: the delay starts once one committed, whatever the machine's load.
        wait_for(proc, out, err, "run" if kill % 2 else "ready")
        time.sleep(rng.uniform(0.2, 2.5))
        assert proc.poll() is None, f"{name} ended before it was killed: {err.read_text()[-3000:]}"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        runs = {line["run"] for line in publishes(lines(out))}
        printed_runs |= runs
        runs_per_writer[name] = runs

    lake = lake_of(tmp_path)
    versions, problems = every_snapshot_problems(lake, [address])
    assert not problems, "\n".join(problems[:20])
    assert len(printed_runs) >= kills // 2

    # Every publish a writer saw committed is in the ledger; at most one more per writer (committed, then killed
    # before it printed); each publish is in the ledger with all its partitions, in the snapshot that holds it.
    ledger = lake.ledger(address).to_pylist()
    in_ledger = {row["run_id"] for row in ledger}
    assert printed_runs <= in_ledger
    for name, runs in runs_per_writer.items():
        mine = {run for run in in_ledger if run.startswith(name + "-")}
        assert len(mine - runs) <= 1, (name, sorted(mine - runs))
    assert all(row["snapshot_id"] is not None for row in ledger)
    per_publish: dict[str, int] = {}
    for row in ledger:
        per_publish[row["publish_id"]] = per_publish.get(row["publish_id"], 0) + 1
    assert set(per_publish.values()) == {3}
    assert versions >= len(per_publish)

    # The product reads after the kills, and what it holds is what the state says.
    state = state_of(lake, address)
    assert rows_per_partition(lake, address) == {k: rows for k, (_, rows, _) in state.items() if rows}
    assert lake.read(address, MAJOR).num_rows == sum(rows for _, rows, _ in state.values())

    # A fresh writer publishes on the lake the killed ones left.
    proc, out, err = writer(started, tmp_path, "survivor", address, seed=99, chunks=2, per_chunk=len(KEYS))
    printed = publishes(finish(proc, out, err))
    assert len(printed) == 2
    state = state_of(lake, address)
    assert state == last_published(printed)
    assert rows_per_partition(lake, address) == {k: rows for k, (_, rows, _) in state.items() if rows}
    _, problems = every_snapshot_problems(lake, [address])
    assert not problems, "\n".join(problems[:20])


@pytest.mark.slow
def test_concurrent_writers_of_different_products_and_domains_lose_nothing(tmp_path, started):
    addresses = [Address("sales", "orders"), Address("sales", "returns"), Address("finance", "invoices"),
                 Address("logistics", "shipments")]
    chunks = 5  # 20 publishes from 4 processes at once: enough to interleave on SQLite
    go, stop = tmp_path / "go", tmp_path / "stop"
    lake_of(tmp_path).ensure()  # the lake exists: the writers race on their publishes, not on making it
    writers = [writer(started, tmp_path, f"{a.domain}_{a.product}", a, seed=i, chunks=chunks, per_chunk=2, go=go)
               for i, a in enumerate(addresses)]
    reader = spawn(started, tmp_path, "reader", PRELUDE + inspect.getsource(invariant_problems) + READER,
                   products=[[a.domain, a.product] for a in addresses], stop=str(stop), go=str(go))
    for proc, out, err in [*writers, reader]:
        wait_for(proc, out, err)
    go.touch()
    try:
        printed = [finish(*w) for w in writers]
    finally:
        stop.touch()
    report = finish(*reader)[-1]
    assert report["problems"] == [] and report["checks"] > 0, report
    if report["locked"]:
        warnings.warn(LOCKED.format(len(report["locked"]), report["locked"][0]), stacklevel=1)

    lake = lake_of(tmp_path)
    ledger = lake.ledger().to_pylist()
    assert len({row["publish_id"] for row in ledger}) == len(addresses) * chunks
    assert len(ledger) == len(addresses) * chunks * 2
    assert all(row["snapshot_id"] is not None for row in ledger)
    for address, lines_of_writer in zip(addresses, printed, strict=True):
        runs = [line["run"] for line in publishes(lines_of_writer)]
        assert len(runs) == chunks
        assert sorted({row["run_id"] for row in ledger if row["product"] == str(address)}) == sorted(runs)
        state = state_of(lake, address)
        assert state == last_published(lines_of_writer)
        assert rows_per_partition(lake, address) == {k: rows for k, (_, rows, _) in state.items() if rows}
    _, problems = every_snapshot_problems(lake, addresses)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.slow
def test_two_writers_of_the_same_partition_serialize(tmp_path, started):
    address = Address("sales", "orders")
    keys, chunks = KEYS[:3], 4
    go = tmp_path / "go"
    lake_of(tmp_path).ensure()
    writers = [writer(started, tmp_path, name, address, seed=seed, chunks=chunks, keys=keys, per_chunk=len(keys),
                      max_rows=300, go=go) for seed, name in enumerate(("left", "right"))]
    for w in writers:
        wait_for(*w)
    go.touch()
    printed = {name: publishes(finish(*w)) for name, w in zip(("left", "right"), writers, strict=True)}

    lake = lake_of(tmp_path)
    state = state_of(lake, address)
    assert sorted(state) == keys
    (run,) = {run for run, _, _ in state.values()}  # the last commit replaced every partition
    winner = run.rsplit("-", 1)[0]
    assert run == f"{winner}-{chunks - 1}"
    assert state == last_published(printed[winner])

    table = lake.read(address, MAJOR, select='"_partition" AS p, order_id, run').to_pydict()
    for key, (_, rows, _) in state.items():
        mine = [(order_id, r) for p, order_id, r in zip(table["p"], table["order_id"], table["run"], strict=True)
                if p == key]
        assert sorted(mine) == [(i, run) for i in range(rows)]  # exactly that publish: no duplicate, no other run
    ledger = lake.ledger(address).to_pylist()
    assert len({row["publish_id"] for row in ledger}) == 2 * chunks
    _, problems = every_snapshot_problems(lake, [address])
    assert not problems, "\n".join(problems[:20])


def test_a_writer_that_keeps_losing_gives_up_with_a_clear_error(tmp_path, monkeypatch):
    lake = lake_of(tmp_path)
    address = Address("sales", "orders")

    def chunk(rows: int, bad: int) -> tuple[dict[str, Publication], dict[str, pa.Table]]:
        keys = KEYS[:2]
        data = pa.table({"order_id": pa.array(range(rows), pa.int64())})
        return ({k: Publication(data, rows + bad, bad) for k in keys},
                {k: pa.table({"partition": pa.array([k] * bad, pa.string())}) for k in keys})

    before = lake.publish(address, MAJOR, *chunk(5, 2), RunInfo("first"))
    state, ledger = state_of(lake, address), lake.ledger().to_pylist()
    attempts = []

    def conflict(self, *args, **kwargs):
        attempts.append(args[1])
        raise duckdb.TransactionException("Transaction conflict - simulated")

    monkeypatch.setattr(mesh.storage.lake, "COMMIT_ATTEMPTS", 2)
    monkeypatch.setattr(Lake, "_replace", conflict)
    with pytest.raises(ConcurrentWrite, match="other writers committed first") as raised:
        lake.publish(address, MAJOR, *chunk(9, 1), RunInfo("second"))
    assert "2 times" in str(raised.value) and "simulated" in str(raised.value)
    assert attempts == [address, address]  # tried twice, each time stopped at its first statement
    monkeypatch.undo()

    assert snapshot_ids(lake)[-1] == before
    assert state_of(lake, address) == state == {k: ("first", 5, 2) for k in KEYS[:2]}
    assert lake.ledger().to_pylist() == ledger
    assert lake.read(address, MAJOR).num_rows == 10
    _, problems = every_snapshot_problems(lake, [address])
    assert not problems
