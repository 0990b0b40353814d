"""Results: what each case measured, its targets, and how they are written (JSON and Markdown).

A ``Figure`` is one measured quantity over the repeats (min/median/max); a figure with a
``baseline`` is also shown as the ratio of medians against that figure of the same run. A
``Target`` says what the issue asks, the value found, whether it is met and, when it is not, by
how much and why. Holds no measurement.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    name: str
    unit: str
    runs: list[float]
    baseline: str | None = None  # the name of the figure this one is compared with
    lower_is_better: bool = True

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass
class Target:
    goal: str
    value: str
    met: bool
    gap: str = ""  # by how much it is missed
    why: str = ""  # where the cost goes, from the measurements


@dataclass
class CaseResult:
    name: str
    title: str
    parameters: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # breakdowns, shown as extra tables
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # how long the case took to run, everything included
    measured: dict[str, str] = field(default_factory=dict)  # date, commit and CPU of the run that measured it

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    def add(self, name: str, unit: str, runs: list[float], baseline: str | None = None) -> Figure:
        figure = Figure(name, unit, [float(r) for r in runs], baseline)
        self.figures.append(figure)
        return figure

    def ratio(self, name: str) -> float | None:
        figure = self.figure(name)
        if figure.baseline is None:
            return None
        base = self.figure(figure.baseline).median
        return figure.median / base if base else None

    def ratio_runs(self, name: str) -> list[float]:
        """Ratio per repeat: each run against the baseline measured in the same repeat."""
        figure = self.figure(name)
        if figure.baseline is None:
            return []
        base = self.figure(figure.baseline).runs
        return [a / b for a, b in zip(figure.runs, base, strict=False) if b]


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def to_json(header: dict[str, Any], cases: list[CaseResult]) -> str:
    body = {**header, "cases": []}
    for case in cases:
        entry = asdict(case)
        for figure in entry["figures"]:
            runs = figure["runs"]
            figure.update(min=min(runs), median=statistics.median(runs), max=max(runs))
            ratio = case.ratio(figure["name"])
            if ratio is not None:
                figure["ratio_to_baseline"] = ratio
                figure["ratio_runs"] = case.ratio_runs(figure["name"])
        body["cases"].append(entry)
    return json.dumps(body, indent=1, default=str)


def to_markdown(header: dict[str, Any], cases: list[CaseResult]) -> str:
    machine = header["machine"]
    lines = [
        f"# Benchmark results: scale factor {header['scale_factor']}",
        "",
        f"- date: {header['date']}",
        f"- commit: `{header['commit']}`{' (with uncommitted changes)' if header.get('dirty') else ''}",
        f"- machine: {machine['cores']} cores, {machine['memory_gib']} GiB memory, {machine['cpu']}, "
        f"Python {machine['python']}, " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + " (the latest run's; each case names the CPU it was measured on)",
        "- repeats: " + ", ".join(f"{k} {v}" for k, v in header["repeat"].items()) + f"; command: "
        f"`{header['command']}`",
        f"- total time: {header['seconds']:.0f} s",
        "",
        "Each figure is min / median / max over the repeats; a ratio is the figure's median over its "
        "baseline's median, both measured in the same run (per-repeat ratios in brackets).",
        "",
        "## Targets",
        "",
        "| case | target | value | met | by how much | why |",
        "|---|---|---|---|---|---|",
    ]
    for case in cases:
        for target in case.targets:
            lines.append(f"| {case.name} | {target.goal} | {target.value} | {'yes' if target.met else '**no**'} | "
                         f"{target.gap or ''} | {target.why.replace('|', '/') or ''} |")
    for case in cases:
        lines += ["", f"## {case.name}: {case.title}", ""]
        if case.parameters:
            lines.append("Parameters: " + ", ".join(f"{k} = {v}" for k, v in case.parameters.items()) + ".")
            lines.append("")
        lines += ["| figure | unit | min | median | max | ratio to baseline |", "|---|---|---|---|---|---|"]
        for figure in case.figures:
            ratio = case.ratio(figure.name)
            shown = ""
            if ratio is not None:
                shown = f"{ratio:.2f}x vs {figure.baseline} [" + ", ".join(
                    f"{r:.2f}" for r in case.ratio_runs(figure.name)) + "]"
            runs = figure.runs
            lines.append(f"| {figure.name} | {figure.unit} | {_number(min(runs))} | "
                         f"{_number(statistics.median(runs))} | {_number(max(runs))} | {shown} |")
        for title, rows in case.details.items():
            if not rows:
                continue
            columns = list(rows[0])
            lines += ["", f"{title}:", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            for row in rows:
                lines.append("| " + " | ".join(_number(v) if isinstance(v, float) else str(v)
                                               for v in row.values()) + " |")
        if case.notes:
            lines += ["", *[f"- {note}" for note in case.notes]]
        lines.append("")
        when = f"; measured {case.measured['date']} at commit `{case.measured['commit']}`" if case.measured else ""
        when += f" on {case.measured['cpu']}" if case.measured.get("cpu") else ""
        lines.append(f"_case ran in {case.seconds:.0f} s{when}_")
    return "\n".join(lines) + "\n"


def load_cases(path: Path) -> list[CaseResult]:
    """The cases of an earlier results file, to keep beside cases measured again (``--merge``)."""
    cases = []
    for entry in json.loads(path.read_text())["cases"]:
        figures = [Figure(f["name"], f["unit"], f["runs"], f.get("baseline"), f.get("lower_is_better", True))
                   for f in entry["figures"]]
        targets = [Target(**t) for t in entry["targets"]]
        cases.append(CaseResult(entry["name"], entry["title"], entry["parameters"], figures, targets,
                                entry["details"], entry["notes"], entry["seconds"], entry.get("measured") or {}))
    return cases


def write(out: Path, stem: str, header: dict[str, Any], cases: list[CaseResult]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    json_path.write_text(to_json(header, cases))
    md_path.write_text(to_markdown(header, cases))
    return json_path, md_path
