"""``python -m benchmarks [--scale-factor SF] [--cases a,b] [--repeat N] [--out DIR]``: run and write results."""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import WORK, Options, commit, machine, now, prepare_environment

CASES = ("backfill", "snapshot", "validation", "definitions", "memory", "cli", "makeup")


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def parse(argv: list[str]) -> tuple[Options, list[str], bool]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scale-factor", type=float, default=0.01,
                        help="TPC-H scale factor of the ERP data (default 0.01; reference runs use 1)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--repeat", type=int, default=2, help="repeats of every timed figure (default 2)")
    parser.add_argument("--case-repeat", default="",
                        help="repeats of some cases, overriding --repeat: e.g. backfill=2,memory=2")
    parser.add_argument("--days", type=int, default=None,
                        help="backfill only the newest DAYS partitions (default: the whole history)")
    parser.add_argument("--out", type=Path, default=WORK / "results",
                        help="where results go (default benchmarks/.work/results; reference runs: "
                             "benchmarks/results)")
    parser.add_argument("--work", type=Path, default=WORK,
                        help="where the cases keep their stores, instances and work folders (default "
                             "benchmarks/.work; the generated feeds stay cached there)")
    parser.add_argument("--products", type=_ints, default=(100, 1000, 5000),
                        help="product counts of the generated meshes (definitions case)")
    parser.add_argument("--domains", type=_ints, default=(10, 50),
                        help="domain counts of the generated meshes (definitions case)")
    parser.add_argument("--memory-scale-factors", type=_floats, default=(),
                        help="scale factors of the memory case (default: --scale-factor; e.g. 1,10)")
    parser.add_argument("--only-domains", default="",
                        help="restrict every case to these comma-separated domains (default: all)")
    parser.add_argument("--exclude-products", default="",
                        help="products (comma-separated addresses) the backfill and the snapshot leave out")
    parser.add_argument("--memory-products", type=int, default=3,
                        help="how many of the largest products the memory case runs (default 3)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other cases of an existing results file of this scale factor, each "
                             "with the date and commit that measured it (default: replace the file)")
    parser.add_argument("--instance", choices=("sqlite", "memory"), default="sqlite",
                        help="the snapshot case's Dagster instance (default sqlite, as `mesh materialize`)")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown cases {unknown}; expected some of {', '.join(CASES)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        case_repeat = {k.strip(): int(v) for k, v in (p.split("=") for p in args.case_repeat.split(",") if p.strip())}
    except ValueError:
        parser.error(f"--case-repeat expects case=N[,case=N], found {args.case_repeat!r}")
    if set(case_repeat) - set(CASES) or any(v < 1 for v in case_repeat.values()):
        parser.error(f"--case-repeat: unknown case or repeat below 1 in {args.case_repeat!r}")
    options = Options(scale_factor=args.scale_factor, repeat=args.repeat, days=args.days, out=args.out, work=args.work,
                      product_counts=args.products, domain_counts=args.domains,
                      memory_scale_factors=args.memory_scale_factors or (args.scale_factor,),
                      instance=args.instance, memory_products=args.memory_products,
                      only_domains=tuple(d.strip() for d in args.only_domains.split(",") if d.strip()),
                      case_repeat=case_repeat,
                      exclude_products=tuple(a.strip() for a in args.exclude_products.split(",") if a.strip()))
    return options, cases, args.merge


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options, cases, merge = parse(argv)
    prepare_environment()
    started = time.perf_counter()
    host = machine()
    results = []
    for name in cases:
        options.log(f"== {name} (scale factor {options.sf})")
        case_started = time.perf_counter()
        repeat = options.case_repeat.get(name, options.repeat)
        result = importlib.import_module(f"benchmarks.case_{name}").run(replace(options, repeat=repeat))
        result.seconds = time.perf_counter() - case_started
        # the CPU too: a merged results file keeps each case's own, and the hosts differ
        result.measured = {"date": now(), "commit": commit(), "cpu": host["cpu"]}
        results.append(result)
        for target in result.targets:
            options.log(f"   {'met' if target.met else 'MISSED'}: {target.goal}: {target.value} {target.gap}")
    from benchmarks.report import load_cases, write

    repeat = {c: options.case_repeat.get(c, options.repeat) for c in cases}
    earlier = options.out / f"sf{options.sf}.json"
    if merge and earlier.exists():
        kept = [c for c in load_cases(earlier) if c.name not in cases]
        previous = json.loads(earlier.read_text())
        repeat = {**{c.name: previous["repeat"].get(c.name) for c in kept}, **repeat}
        results = sorted(kept + results, key=lambda c: CASES.index(c.name))
        cases = [c.name for c in results]
    header = {"date": now(), "commit": commit(), "machine": host, "scale_factor": options.sf,
              "repeat": repeat, "cases": cases,
              "seconds": time.perf_counter() - started,
              "command": "python -m benchmarks " + shlex.join(argv)}
    if merge and earlier.exists():
        header["command"] = f"{previous['command']}`, then `{header['command']}"
    json_path, md_path = write(options.out, f"sf{options.sf}", header, results)
    options.log(f"results: {json_path} and {md_path} ({header['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
