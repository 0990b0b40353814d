"""How a run's audit appears in Dagster: materialization metadata and one result per asset check.

Each check result carries rows checked, rows failing, failure rate, the columns involved and a
Markdown sample of at most 20 failing rows. Severity follows what happened: a failing ERROR rule
whose rows were quarantined while the partition was still published is a WARN (visible, not
blocking); when a partition was rejected it is an ERROR. Holds presentation only.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from mesh.contracts.registry import Product
from mesh.quality.rules import STRUCTURE
from mesh.quality.slo import VolumeFinding
from mesh.quality.wap import Finding, Report

MAX_CELL = 60


def markdown_table(frame: pd.DataFrame, limit: int = 20) -> str:
    """A small Markdown table with escaped, shortened cells (no extra dependency)."""
    if frame.empty:
        return "_no rows_"
    shown = frame.head(limit)

    def cell(value: object) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"

    header = "| " + " | ".join(cell(c) for c in shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def materialization_metadata(report: Report) -> dict[str, object]:
    extra = {k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v
             for k, v in report.function_metadata.items()}
    return {
        **extra,
        "partitions_published": len(report.published),
        "partitions_rejected": len(report.rejected),
        "rows_in": report.rows_in,
        "rows_published": report.rows_published,
        "rows_quarantined": report.rows_quarantined,
        "seconds_read": round(report.read_seconds, 3),
        "seconds_transform": round(report.transform_seconds, 3),
        "seconds_validate": round(report.validate_seconds, 3),
        "seconds_publish": round(report.publish_seconds, 3),
        "dagster/row_count": report.rows_published,
        # The lake snapshot holding what this run published: `mesh sql --as-of <it>` reads exactly that.
        **({"mesh/lake_snapshot": report.snapshots[-1]} if report.snapshots else {}),
        **({"mesh/lake_snapshots": dg.MetadataValue.json(report.snapshots)} if len(report.snapshots) > 1 else {}),
    }


def _finding_result(key: dg.AssetKey, finding: Finding, report: Report) -> dg.AssetCheckResult:
    """A check judges what consumers see. An ERROR rule whose failing rows were quarantined, with the
    partition still published, passes (the published data obeys it) and reports the quarantined rows;
    it fails when the run could not publish. A WARN rule fails whenever published rows break it."""
    rate = finding.rows_failing / finding.rows_checked if finding.rows_checked else 0.0
    if finding.severity == "warn":
        passed = finding.passed
        severity = dg.AssetCheckSeverity.WARN
        summary = None if passed else f"{finding.rows_failing} published row(s) break {finding.name}"
    else:
        broke = bool(finding.errors or finding.whole_frame_failures or finding.rows_failing)
        passed = not (broke and report.rejected) and not finding.errors and not finding.whole_frame_failures
        severity = dg.AssetCheckSeverity.ERROR
        summary = (f"{finding.rows_failing} row(s) quarantined; published rows all pass" if passed and broke
                   else None if passed else f"{finding.name} failed: partitions not published")
    metadata: dict[str, object] = {
        "rows_checked": finding.rows_checked,
        "rows_failing": finding.rows_failing,
        "failure_rate": dg.MetadataValue.float(round(rate, 6)),
        "columns": ", ".join(finding.columns) or "(whole frame)",
        "severity_declared": finding.severity.upper(),
        "action": "rows quarantined" if finding.severity == "error" else "rows published with a warning",
        "partitions": f"{report.window.keys[0]}..{report.window.keys[-1]}" if report.window.keys else "",
    }
    if finding.errors:
        metadata["error"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in finding.errors[:10]))
    if finding.whole_frame_failures:
        metadata["whole_frame_failures"] = finding.whole_frame_failures
    if finding.rows_failing:
        metadata["failing_rows_sample"] = dg.MetadataValue.md(markdown_table(finding.sample))
    return dg.AssetCheckResult(asset_key=key, check_name=finding.name, passed=passed, severity=severity,
                               metadata=metadata, description=summary)


def check_results(key: dg.AssetKey, product: Product, report: Report,
                  volume: VolumeFinding) -> Iterator[dg.AssetCheckResult]:
    yield _finding_result(key, report.findings[STRUCTURE], report)
    for name, finding in report.findings.items():
        if name != STRUCTURE:
            yield _finding_result(key, finding, report)
    rates = {k: v.error_rate for k, v in report.verdicts.items()}
    worst = max(rates.items(), key=lambda kv: kv[1]) if rates else ("", 0.0)
    breached = sorted(k for k, v in report.verdicts.items() if v.reason and v.reason.startswith("error rate"))
    yield dg.AssetCheckResult(
        asset_key=key, check_name="error_rate", passed=not breached, severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "slo_max_error_rate": dg.MetadataValue.float(report.error_rate_max),
            "worst_error_rate": dg.MetadataValue.float(round(worst[1], 6)),
            "worst_partition": worst[0],
            "rows_in": report.rows_in,
            "rows_quarantined": sum(v.rows_quarantined for v in report.verdicts.values()),
            "partitions_breaching": dg.MetadataValue.json(breached[:50]),
        },
        description=f"{len(breached)} partition(s) above the error-rate SLO" if breached else None,
    )
    yield dg.AssetCheckResult(
        asset_key=key, check_name="volume", passed=volume.passed, severity=dg.AssetCheckSeverity.WARN,
        metadata=volume.metadata, description=volume.summary,
    )
    problems = report.conformance + [f for f in report.fatal if "columns" in f]
    yield dg.AssetCheckResult(
        asset_key=key, check_name="contract_conformance", passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"columns": ", ".join(report.findings[STRUCTURE].columns),
                  "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")},
        description=problems[0][:500] if problems else None,
    )
