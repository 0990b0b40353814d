"""Case makeup: what `make up` costs after pip, as a user runs it, against plain DuckDB SQL in the same run.

`make up` generates the operational data (`mesh operational generate` with the Makefile's defect rate)
and publishes every product's whole history (`mesh materialize`, catching up from each domain's
start to the newest complete day) into the project's local Dagster instance; a second `make up`
publishes only what is new before serving the UI. Both commands run here as a user's shell runs
them (`.venv/bin/mesh`, a process each, a fresh work directory), with the scale factor of the
options. The baseline is the same run's plain DuckDB SQL of the products ``benchmarks.baseline``
covers (no validation, quarantine or Dagster) over the same window, reading the ERP as Parquet.

Targets (issue 14): the materialization at most 5 minutes on this 2-core machine at the default
scale (0.01); again, nothing published and done within a minute. ``--days N`` (the smoke test)
materializes the newest N days of ``--only-domains`` instead of the whole history, once (a window
is computed again by design, so "again, nothing new" is not measured).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks import baseline
from benchmarks.common import ERP_DOMAINS, ROOT, Options, erp_root, fresh, timed
from benchmarks.report import CaseResult, Target

MATERIALIZE_TARGET = 300.0  # seconds, at scale factor 0.01
AGAIN_TARGET = 60.0
DEFECTS = re.search(r"^DEFECTS \?= (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
_DONE = re.compile(r"^materialize: (\S+) done in (?:(\d+):)?(\d+):(\d+)", flags=re.M)


def _mesh(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "mesh"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=4 * 3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"mesh {' '.join(args)} failed: {done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def per_product(log: str) -> dict[str, float]:
    """Seconds per product, from the progress lines `mesh materialize` prints as each product ends."""
    return {address: int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
            for address, hours, minutes, seconds in _DONE.findall(log)}


def run(options: Options) -> CaseResult:
    case = CaseResult("makeup", "`make up` after pip: generate the operational data, publish the whole history")
    window = []
    if options.days:  # the newest days of the chosen domains: a smoke run, not the target's figure
        newest = date.today() - timedelta(days=1)
        window = ["--start", (newest - timedelta(days=options.days - 1)).isoformat(), "--end", newest.isoformat()]
    domains = [arg for d in options.only_domains for arg in ("--domain", d)]
    # the ERP alone feeds the ERP domains: a smoke run over them need not simulate the other systems
    systems = ["--system", "erp"] if options.only_domains and set(options.only_domains) <= set(ERP_DOMAINS) else []
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    span = (window[1], window[3]) if window else ("2023-01-01", yesterday)  # what the baseline computes
    feeds = erp_root(options.scale_factor, options.log)  # the baseline's: the ERP as Parquet, without defects
    generate, materialize, again, base, logs = [], [], [], [], []
    for repeat in range(options.repeat):
        work = fresh(options.work / f"sf{options.sf}" / "makeup")
        (work / "dagster").mkdir()
        shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", work / "dagster" / "dagster.yaml")
        env = {**os.environ, "MESH_WORK_DIR": str(work), "DAGSTER_HOME": str(work / "dagster"),
               "MESH_PROJECT_DIR": str(ROOT), "MESH_TPCH_SF": options.sf}
        for variable in ("MESH_STORAGE_URI", "MESH_OPERATIONAL_ROOT", "MESH_ENV"):
            env.pop(variable, None)
        seconds, _ = _mesh(["operational", "generate", *systems, "--defect-rate", DEFECTS], env)
        generate.append(seconds)
        seconds, log = _mesh(["materialize", *domains, *window], env)
        materialize.append(seconds)
        logs.append(log)
        if not window:  # a window is computed again by design: "nothing new" is the catch-up's
            seconds, log_again = _mesh(["materialize", *domains], env)
            again.append(seconds)
            if "nothing to materialize" not in log_again:
                raise RuntimeError(f"a second `mesh materialize` published again:\n{log_again[-2000:]}")
        published = re.findall(r"^materializing (.*)$", log, flags=re.M)
        options.log(f"  repeat {repeat + 1}: generate {generate[-1]:.0f} s, materialize {materialize[-1]:.0f} s "
                    f"({'; '.join(published)})" + (f", again {again[-1]:.1f} s" if again else ""))
        products = list(per_product(log))  # in the order they ended: dependencies first
        seconds, _ = timed(lambda p=products, w=work: baseline.run(p, feeds, fresh(w / "baseline"), *span))
        base.append(seconds)
    case.parameters = {"scale factor": options.sf, "defect rate": DEFECTS,
                       "window": f"the newest {options.days} days" if window else "the whole history",
                       "domains": ", ".join(options.only_domains) or "all",
                       "instance": "SQLite on disk, the project's deploy/local/dagster.yaml"}
    case.add("baseline: DuckDB SQL of the covered products", "s", base)
    case.add("mesh operational generate", "s", generate)
    case.add("mesh materialize (the whole history)" if not window else "mesh materialize", "s", materialize,
             baseline="baseline: DuckDB SQL of the covered products")
    if again:
        case.add("mesh materialize again (nothing new)", "s", again)
    steps = per_product(logs[-1])
    total = sum(steps.values()) or 1
    case.details["per product (last repeat), slowest first"] = [
        {"product": address, "seconds": seconds, "share": f"{seconds / total:.0%}"}
        for address, seconds in sorted(steps.items(), key=lambda item: -item[1])]
    with_query, without = baseline.covered(sorted(steps))
    case.notes.append(f"the baseline computes {len(with_query)} of the {len(steps)} products "
                      f"({', '.join(without) or 'none'} have no baseline query)")
    if window:
        case.notes.append("a smoke run: the targets are judged on the whole history at scale factor 0.01")
        return case
    seconds = case.figure("mesh materialize (the whole history)").median
    slowest = sorted(steps.items(), key=lambda item: -item[1])[:3]
    case.targets.append(Target(
        f"the whole history published in at most {MATERIALIZE_TARGET / 60:g} minutes", f"{seconds:.0f} s",
        seconds <= MATERIALIZE_TARGET,
        "" if seconds <= MATERIALIZE_TARGET else f"{seconds - MATERIALIZE_TARGET:.0f} s over",
        "slowest products: " + "; ".join(f"{a} {s:.0f} s" for a, s in slowest)))
    seconds = case.figure("mesh materialize again (nothing new)").median
    case.targets.append(Target(f"again, nothing new, in under {AGAIN_TARGET:g} s", f"{seconds:.1f} s",
                               seconds < AGAIN_TARGET))
    return case
