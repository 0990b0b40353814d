"""Quality rules of governance.slo_scorecard."""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series


class SloScorecard(pa.DataFrameModel):
    product: Series[str] = pa.Field(description="Product address <domain>.<product>")
    domain: Series[str] = pa.Field(description="Domain that owns the product")
    owner: Series[str] = pa.Field(description="Owner team or person")
    newest_partition: Series[str] = pa.Field(nullable=True, description="Newest published partition ('all': snapshot)")
    published_at: Series[pd.DatetimeTZDtype("us", "UTC")] = pa.Field(
        nullable=True, description="When the product was last published (UTC)")
    freshness_slo: Series[str] = pa.Field(nullable=True, description="The freshness SLO in words")
    freshness_state: Series[str] = pa.Field(description="PASS, WARN, FAIL, or UNKNOWN without an SLO")
    freshness_lag_hours: Series[float] = pa.Field(nullable=True, description="Hours between the newest data and now")
    check_pass_rate: Series[float] = pa.Field(nullable=True, description="Share of check results that passed "
                                                                         "over the last runs")
    checks_failing: Series[str] = pa.Field(nullable=True, description="Checks whose latest result failed")
    error_rate_latest: Series[float] = pa.Field(nullable=True, description="Worst partition error rate of the "
                                                                           "latest run")
    error_rate_trend: Series[str] = pa.Field(description="rising, falling, steady or unknown over the last runs")
    rows_quarantined: Series[int] = pa.Field(ge=0, description="Rows currently in the product's quarantine")
    slo_status: Series[str] = pa.Field(description="met, breached, or unknown before the first publication")
    breaches: Series[str] = pa.Field(nullable=True, description="Which SLOs are breached and why")

    @pa.check("check_pass_rate", name="pass_rate_is_a_fraction")
    def pass_rate_is_a_fraction(cls, rate: Series[float]) -> Series[bool]:
        return rate.between(0, 1)

    @pa.check("slo_status", name="known_slo_status")
    def known_slo_status(cls, status: Series[str]) -> Series[bool]:
        return status.isin(["met", "breached", "unknown"])

    @pa.dataframe_check(name="breach_has_a_reason")
    def breach_has_a_reason(cls, df: DataFrame) -> Series[bool]:
        return (df["slo_status"] != "breached") | df["breaches"].notna()
