"""What every case shares: settings, the machine, generated ERP data, in-process mesh runs, statistics.

Everything a benchmark writes lives under ``benchmarks/.work/`` (git-ignored): operational feeds per
scale factor, product stores, Dagster instances. Results go where ``--out`` says. Holds no case.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"
ERP_DOMAINS = ("customer", "sales", "supply_chain")  # the domains fed by the ERP, when present
OTHER_SYSTEMS_MAX_SF = 0.1  # scale factor of the non-ERP systems in the whole-mesh cases
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def prepare_environment() -> None:
    """Point the mesh at this checkout and keep its working files out of ``.mesh``."""
    os.environ["MESH_PROJECT_DIR"] = str(ROOT)
    os.environ.setdefault("MESH_WORK_DIR", str(WORK / "mesh"))
    os.environ.setdefault("DAGSTER_HOME", str(WORK / "dagster-home"))
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")  # as `make` and `mesh` set it
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


@dataclass
class Options:
    scale_factor: float = 0.01
    repeat: int = 2
    days: int | None = None  # None: every existing partition (the whole history)
    out: Path = WORK / "results"
    work: Path = WORK  # the cases' stores, instances and work folders (feeds stay cached under WORK)
    product_counts: tuple[int, ...] = (100, 1000, 5000)
    domain_counts: tuple[int, ...] = (10, 50)
    memory_scale_factors: tuple[float, ...] = ()  # defaults to (scale_factor,)
    only_domains: tuple[str, ...] = ()  # restrict every case to these domains (the smoke test)
    exclude_products: tuple[str, ...] = ()  # products left out of the backfill (and what needs them)
    memory_products: int = 3  # how many of the largest products the memory case runs
    case_repeat: dict[str, int] = field(default_factory=dict)  # per-case overrides of ``repeat``
    instance: str = "sqlite"  # the snapshot case's Dagster instance: "sqlite" (as deployed locally) or "memory"
    log: Callable[[str], None] = print

    @property
    def sf(self) -> str:
        return f"{self.scale_factor:g}"


# -- the machine -------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines() if Path("/proc/meminfo").exists() else []:
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    import dagster
    import duckdb
    import pandas
    import pyarrow

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "versions": {"dagster": dagster.__version__, "duckdb": duckdb.__version__, "pandas": pandas.__version__,
                     "pyarrow": pyarrow.__version__},
    }


def commit() -> str:
    """The checked-out commit, read from ``.git`` directly (no git process)."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()[:12]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except OSError:
        pass
    return "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- statistics ---------------------------------------------------------------------------------
def summary(values: list[float]) -> dict[str, Any]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "runs": list(values)}


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# -- data -----------------------------------------------------------------------------------------
def erp_root(scale_factor: float, log: Callable[[str], None] = print) -> Path:
    """ERP feeds as Parquet at a scale factor, generated once (a no-op when up to date)."""
    return _generated(scale_factor, ["erp"], log)


def _generated(scale_factor: float, systems: list[str], log: Callable[[str], None]) -> Path:
    from operational import Settings, generate_all

    root = WORK / "operational" / f"sf{scale_factor:g}-parquet"
    seconds, _ = timed(lambda: generate_all(root, Settings(scale_factor=scale_factor, format="parquet"),
                                            systems=systems))
    if seconds > 1:
        log(f"  generated {', '.join(systems)} at scale factor {scale_factor:g} (Parquet) in {seconds:.0f} s")
    return root


def operational_root(scale_factor: float, log: Callable[[str], None] = print) -> tuple[Path, float]:
    """Every operational system for the whole mesh: the ERP at the scale factor, the other systems at
    ``OTHER_SYSTEMS_MAX_SF`` at most (product events at scale factor 1 need more memory than the
    machine has), joined in one folder by symbolic links."""
    from operational import SYSTEMS

    erp = erp_root(scale_factor, log)
    others = [s for s in SYSTEMS if s != "erp"]
    small = min(scale_factor, OTHER_SYSTEMS_MAX_SF)
    if not others or small == scale_factor:
        return _generated(scale_factor, list(SYSTEMS), log), scale_factor
    rest = _generated(small, others, log)
    root = WORK / "operational" / f"sf{scale_factor:g}-mesh"
    root.mkdir(parents=True, exist_ok=True)
    for system, source in [("erp", erp), *((s, rest) for s in others)]:
        link = root / system
        if not link.is_symlink():
            shutil.rmtree(link, ignore_errors=True)
            link.symlink_to(source / system, target_is_directory=True)
    return root, small


def mesh_domains(mesh: Any, options: Options) -> list[str]:
    """The domains the cases cover: every loaded domain, or those ``--only-domains`` names."""
    return [d for d in sorted(mesh.domains) if not options.only_domains or d in options.only_domains]


def erp_domains(mesh: Any, options: Options) -> list[str]:
    return [d for d in ERP_DOMAINS if d in mesh_domains(mesh, options)]


def partition_window(mesh: Any, domains: list[str], days: int | None) -> tuple[str, str, int]:
    """First and last key of the run: the newest ``days`` partitions, or every existing one."""
    from mesh.contracts.partitions import partitions_def

    keys = partitions_def(mesh.domains[domains[0]]).get_partition_keys()
    chosen = keys[-days:] if days else keys
    return chosen[0], chosen[-1], len(chosen)


# -- in-process mesh runs -------------------------------------------------------------------------
def resources(products: Path, operational: Path) -> dict[str, Any]:
    from mesh.orchestration.alerts import AlertsResource
    from mesh.orchestration.resources import AccessResource, LocalStorage, OperationalResource

    return {
        "storage": LocalStorage(root=str(products)),
        "operational": OperationalResource(root=str(operational)),
        "access": AccessResource(masking_key="benchmark-key"),
        "alerts": AlertsResource(outbox=str(products.parent / "outbox.jsonl")),
    }


def instance(folder: Path, kind: str = "sqlite") -> Any:
    """A fresh on-disk SQLite instance, as ``mesh materialize`` uses, or an in-memory one."""
    import dagster as dg

    if kind == "memory":
        return dg.DagsterInstance.ephemeral()
    from mesh.instance.eventlog import enable_batches

    fresh(folder)
    enable_batches()
    # The event log of the project's local instance (deploy/local/dagster.yaml), in this folder.
    (folder / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nevent_log_storage:\n  module: mesh.instance.eventlog\n"
        f"  class: BatchedSqliteEventLogStorage\n  config:\n    base_dir: {folder / 'history' / 'runs'}\n")
    return dg.DagsterInstance.local_temp(tempdir=str(folder))


@dataclass
class JobRun:
    seconds: float
    success: bool
    run_id: str
    failures: list[str] = field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> materialization metadata
    steps: dict[str, float] = field(default_factory=dict)  # asset -> step wall seconds
    events: int = 0


def run_job(definitions: Any, selection: Any, first: str | None, last: str | None, dagster_instance: Any,
            name: str = "bench") -> JobRun:
    """Execute a selection in process as one ranged run, the way ``mesh materialize`` does."""
    import dagster as dg

    job = dg.Definitions.merge(definitions, dg.Definitions(jobs=[dg.define_asset_job(name, selection=selection)]))
    job_def = job.resolve_job_def(name)
    tags = {"mesh/trigger": "benchmark"}
    if first and job_def.partitions_def is not None:
        tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last or first}
    started = time.perf_counter()
    result = job_def.execute_in_process(instance=dagster_instance, tags=tags, raise_on_error=False, run_config=QUIET)
    seconds = time.perf_counter() - started
    run = JobRun(seconds, result.success, result.run_id)
    for event in result.all_events:
        if event.is_step_failure:
            run.failures.append(f"{event.step_key}: {event.event_specific_data.error.message.strip()[:300]}")
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            key = event.asset_key.to_user_string()
            if key not in run.metadata:
                run.metadata[key] = {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
    run.events = len(result.all_events)
    run.steps = step_seconds(dagster_instance, result.run_id)
    return run


def step_seconds(dagster_instance: Any, run_id: str) -> dict[str, float]:
    """Wall seconds of each step (from its start event to its end event) in the instance's event log."""
    starts: dict[str, float] = {}
    spans: dict[str, float] = {}
    for entry in dagster_instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            spans[event.step_key] = entry.timestamp - starts[event.step_key]
    return spans


def step_to_asset(step_key: str) -> str:
    """``sales__order_lines`` -> ``sales/order_lines`` (the compiler names steps ``<domain>__<product>``)."""
    return step_key.replace("__", "/", 1)
