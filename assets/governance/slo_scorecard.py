"""governance.slo_scorecard: each product's SLO status, from the mesh's own observations."""

import pandas as pd

SLO_CHECKS = ("error_rate", "contract_conformance", "structure")


def _trend(rates: pd.Series) -> str:
    """Rising, falling or steady, comparing the newest error rate with the oldest in the window."""
    rates = rates.dropna()
    if len(rates) < 2:
        return "unknown"
    newest, oldest = rates.iloc[0], rates.iloc[-1]
    if abs(newest - oldest) < 1e-9:
        return "steady"
    return "rising" if newest > oldest else "falling"


def slo_scorecard(status: pd.DataFrame, checks: pd.DataFrame, params: dict) -> pd.DataFrame:
    runs = int(params.get("runs", 10))
    checks = checks.sort_values("evaluated_at", ascending=False)
    recent_runs = checks.drop_duplicates(["product", "run_id"]).groupby("product").head(runs)
    recent = checks.merge(recent_runs[["product", "run_id"]], on=["product", "run_id"])
    latest = checks.drop_duplicates(["product", "check_name"])
    failing = latest[~latest["passed"]]
    rows = []
    for record in status.itertuples(index=False):
        mine = recent[recent["product"] == record.product]
        now_failing = failing[failing["product"] == record.product]
        errors = now_failing[now_failing["severity"] == "ERROR"]["check_name"].tolist()
        error_rates = mine[mine["check_name"] == "error_rate"]["failure_rate"]
        breaches = []
        if record.freshness_state == "FAIL":
            breaches.append(f"freshness: {record.freshness_detail}")
        breaches += [f"{name} failing" for name in errors if name in SLO_CHECKS]
        never = pd.isna(record.published_at)
        rows.append({
            "product": record.product,
            "domain": record.domain,
            "owner": record.owner,
            "newest_partition": record.newest_partition,
            "published_at": record.published_at,
            "freshness_slo": record.freshness_slo,
            "freshness_state": record.freshness_state,
            "freshness_lag_hours": record.freshness_lag_hours,
            "check_pass_rate": float(mine["passed"].mean()) if len(mine) else None,
            "checks_failing": ", ".join(sorted(now_failing["check_name"])) or None,
            "error_rate_latest": float(error_rates.iloc[0]) if len(error_rates.dropna()) else None,
            "error_rate_trend": _trend(error_rates),
            "rows_quarantined": int(record.rows_quarantined),
            "slo_status": "unknown" if never else ("breached" if breaches else "met"),
            "breaches": "; ".join(breaches) or None,
        })
    return pd.DataFrame(rows)
