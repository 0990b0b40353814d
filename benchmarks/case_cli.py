"""Case cli: wall-clock time of the ``mesh`` command line as a person runs it, against Python starting DuckDB.

Each command runs as its own process (``.venv/bin/mesh ...``), as typed at a shell, on a lake and a
Dagster instance where the ERP domains' newest partitions were materialized by a ranged run, after
the whole history of what they read over history, as `mesh materialize --bootstrap` leaves it (the
commands' cost depends on the number of products and the instance, hardly on rows; without that
history the orders of the window are held, and `read` would read an empty partition). The baseline,
``python -c "import duckdb"``, runs in the same repeat, so a ratio holds on a busy machine too.
Targets (issue 14): ``sql``, ``read``, ``catalog`` and ``show`` under 1 s, ``review`` under 3 s.
Each command's CPU time (user + system, its threads included) is a figure of its own, against the
baseline's: on a machine other processes keep busy, the wall clock mostly measures them.

``show``, ``review`` and a catalog search read the models' columns and rules from their outlines
(``mesh.governance.outline``), built once before timing, as a person's earlier command would have; the first run
after a model changed rebuilds them, timed as its own figure in a work folder of its own.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, Options, erp_domains, erp_root, fresh, partition_window, resources, run_job
from benchmarks.report import CaseResult, Target

BASELINE = "python -c 'import duckdb'"
COLD = "mesh show, its model's outline rebuilt (the first run after the model changed)"
DAYS = 3  # partitions materialized for the commands to read (the newest ones)


def commands(day: str) -> list[tuple[str, list[str], float | None]]:
    """(figure, arguments of ``mesh``, target seconds or None)."""
    return [("mesh --help", ["--help"], None),
            ("mesh sql", ["sql", "SELECT count(*) AS orders FROM sales.orders"], 1.0),
            ("mesh read", ["read", "sales.orders", "--partition", day, "--format", "csv"], 1.0),
            ("mesh catalog", ["catalog"], 1.0),
            ("mesh catalog <text> (searches the models' columns)", ["catalog", "ship"], None),
            ("mesh show", ["show", "sales.orders"], 1.0),
            ("mesh review", ["review"], 3.0),
            (COLD, ["show", "sales.orders"], None)]


def _materialize(folder: Path, options: Options) -> tuple[dict[str, str], str, str]:
    """A lake and an on-disk instance (the project's local dagster.yaml) with the ERP domains' newest
    partitions; the environment a person's shell would have for them."""
    import dagster as dg

    from mesh.contracts.registry import load_mesh
    from mesh.orchestration.definitions import build_mesh
    from mesh.orchestration.keys import asset_key
    from mesh.orchestration.runs import history_closure

    mesh = load_mesh()
    domains = erp_domains(mesh, options)
    feeds = erp_root(options.scale_factor, options.log)
    products, home = fresh(folder / "products"), fresh(folder / "dagster")
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    first, last, count = partition_window(mesh, domains, min(options.days or DAYS, DAYS))
    definitions, failures = build_mesh(mesh=mesh, domains=domains, resource_overrides=resources(products, feeds))
    if failures:
        raise RuntimeError(f"definitions failed: {failures}")
    instance = dg.DagsterInstance.from_config(str(home))
    # As `mesh materialize --bootstrap` does: what is read over its history (the customer master, whose
    # customers the orders must name) from its domain's start, then the window: otherwise the orders
    # of the window are held and the commands read empty partitions.
    # A smoke run (``--days``) skips it.
    closure = set() if options.days else history_closure(mesh, [p for p in mesh.products.values()
                                                                if p.domain.name in domains])
    history = [asset_key(mesh.products[a]) for a in sorted(closure)]
    if history:
        start = min(mesh.products[a].domain.snapshots.start for a in closure)
        run = run_job(definitions, dg.AssetSelection.assets(*history).without_checks(), start.isoformat(), last,
                      instance, name="cli_history")
        if not run.success:
            raise RuntimeError(f"materializing the history {start}..{last} failed: {run.failures}")
    window = dg.AssetSelection.all().without_checks() - dg.AssetSelection.assets(*history)
    run = run_job(definitions, window, first, last, instance, name="cli_case")
    if not run.success:
        raise RuntimeError(f"materializing {first}..{last} failed: {run.failures}")
    after = f", after the whole history of {len(history)} products they read over history" if history else ""
    options.log(f"  materialized {', '.join(domains)} {first}..{last}{after} in {run.seconds:.0f} s")
    env = {**os.environ, "MESH_PROJECT_DIR": str(ROOT), "MESH_STORAGE_URI": str(products),
           "MESH_OPERATIONAL_ROOT": str(feeds), "DAGSTER_HOME": str(home), "MESH_WORK_DIR": str(folder / "work"),
           "MESH_MASKING_KEY": "benchmark-key"}
    return env, last, f"{', '.join(domains)}, {count} partitions ({first}..{last}){after}"


def _wall(args: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall-clock seconds of a command; its CPU seconds (user + system, threads included) appended to
    ``cpu``: on a busy machine the wall clock waits for other processes, the CPU time much less so."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    if cpu is not None:
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return seconds


def run(options: Options) -> CaseResult:
    case = CaseResult("cli", "wall-clock time of the `mesh` command line, each command a new process")
    env, day, window = _materialize(options.work / f"sf{options.sf}" / "cli", options)
    mesh = str(Path(sys.executable).parent / "mesh")
    chosen = commands(day)
    runs: dict[str, list[float]] = {name: [] for name, _, _ in chosen}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in chosen}
    baseline: list[float] = []
    baseline_cpu: list[float] = []
    _wall([mesh, "catalog", "ship"], env)  # builds every model's outline, untimed
    cold = Path(env["MESH_WORK_DIR"]).with_name("work-cold")
    for _ in range(options.repeat):
        baseline.append(_wall([sys.executable, "-c", "import duckdb"], env, baseline_cpu))
        for name, args, _ in chosen:
            if name == COLD:
                shutil.rmtree(cold, ignore_errors=True)
            runs[name].append(_wall([mesh, *args], {**env, "MESH_WORK_DIR": str(cold)} if name == COLD else env,
                                    cpu[name]))
        options.log("  " + ", ".join(f"{name.split(' (')[0]} {runs[name][-1]:.2f} s" for name, _, _ in chosen))
    case.parameters = {"scale factor": options.sf, "materialized": window, "instance": "SQLite on disk, the "
                       "project's deploy/local/dagster.yaml", "commands": "; ".join(f"mesh {' '.join(a)}"
                                                                                 for _, a, _ in chosen)}
    case.add(BASELINE, "s", baseline)
    for name, _, _ in chosen:
        case.add(name, "s", runs[name], baseline=BASELINE)
    case.add(f"{BASELINE}, CPU", "s", baseline_cpu)
    for name, _, _ in chosen:
        case.add(f"{name}, CPU", "s", cpu[name], baseline=f"{BASELINE}, CPU")
    base = statistics.median(baseline)
    for name, _, limit in chosen:
        if limit is None:
            continue
        seconds = statistics.median(runs[name])
        met = seconds < limit
        case.targets.append(Target(
            f"`{name}` under {limit:g} s wall", f"{seconds:.2f} s ({seconds / base:.1f}x the baseline)", met,
            "" if met else f"{seconds - limit:.2f} s over",
            "" if met else f"Python with DuckDB alone starts in {base:.2f} s on this machine in this run"))
    case.notes.append("no command imports Dagster or the products' functions: `show` and `review` read check "
                      "results from the local instance's SQLite index, and the models' columns and rules from "
                      "their outlines (pandera and pandas are imported when an outline is rebuilt); each command "
                      "that reads the lake loads two DuckDB extensions from their wheels without DuckDB's signature "
                      "check (0.35 s of CPU each), turned off again before the connection is used; `mesh sql` "
                      "creates views of the products its query names only and prints DuckDB's result without "
                      "pyarrow; what remains is mostly importing pydantic and the contracts' models (about 0.3 s of "
                      "CPU) and DuckLake reading its catalog (about 0.15 s)")
    return case
