"""Quality rules of product_usage.events: what a well-formed product event is."""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date

EVENT_TYPES = ["signed_up", "trial_started", "feature_used", "subscription_upgraded", "trial_expired",
               "subscription_cancelled"]
FEATURES = ["dashboards", "reports", "alerts", "exports", "sharing", "api"]
PLANS = ["trial", "team", "business"]
LONGEST_SESSION_SECONDS = 8 * 3600


class Events(pa.DataFrameModel):
    # An event without id fails the structure check ("null in a non-nullable column"), a repeated id
    # fails it as a duplicate key: both are quarantined with that reason.
    event_id: Series[str] = pa.Field(description="CloudEvents id, unique per event; the key")
    event_type: Series[str] = pa.Field(
        nullable=True, description="What happened: " + ", ".join(EVENT_TYPES) + " (CloudEvents type without "
                                   "the com.mesh.product. namespace)")
    event_source: Series[str] = pa.Field(nullable=True, description="Part of the product that emitted the event "
                                                                    "(/product/web, /product/api, /billing)")
    spec_version: Series[str] = pa.Field(nullable=True, description="CloudEvents specification version, 1.0")
    event_time: Series[pd.DatetimeTZDtype("us", "UTC")] = pa.Field(description="When it happened (UTC)")
    event_date: Series[Date] = pa.Field(description="UTC day it happened; the partition")
    customer_id: Series[int] = pa.Field(gt=0, description="Customer account (customer.customers), the "
                                                          "CloudEvents subject")
    user_email: Series[str] = pa.Field(nullable=True, description="Person who acted, within the customer's "
                                                                  "account (personal data)")
    feature: Series[str] = pa.Field(nullable=True, description="Feature used; only on feature_used")
    duration_seconds: Series[float] = pa.Field(nullable=True, description="Seconds spent in the feature; only "
                                                                          "on feature_used")
    plan: Series[str] = pa.Field(nullable=True, description="Plan the customer is on (trial, team, business)")
    monthly_price_usd: Series[float] = pa.Field(nullable=True, description="Monthly price of the plan in US "
                                                                           "dollars; on upgrades and cancellations")
    cancel_reason: Series[str] = pa.Field(nullable=True, description="Why the customer cancelled; on "
                                                                     "subscription_cancelled")

    @pa.check("event_type", name="known_event_type",
              description="the type is one the product emits (com.mesh.product.<name>): " + ", ".join(EVENT_TYPES),
              ignore_na=False)
    def known_event_type(cls, event_type: Series[str]) -> Series[bool]:
        return event_type.isin(EVENT_TYPES)

    @pa.check("spec_version", name="cloudevents_1_0",
              description="specversion must be CloudEvents 1.0", ignore_na=False)
    def cloudevents_1_0(cls, version: Series[str]) -> Series[bool]:
        return version == "1.0"

    @pa.dataframe_check(name="event_date_is_utc_day_of_time",
                        description="eventday must be the UTC day of the event time")
    def event_date_is_utc_day_of_time(cls, df: DataFrame) -> Series[bool]:
        return df["event_time"].dt.date == df["event_date"].astype(object)

    @pa.dataframe_check(name="feature_use_names_feature",
                        description="a feature_used event must name the feature")
    def feature_use_names_feature(cls, df: DataFrame) -> Series[bool]:
        return (df["event_type"] != "feature_used") | df["feature"].notna()

    @pa.dataframe_check(name="duration_only_on_feature_use",
                        description="only feature_used events carry a duration")
    def duration_only_on_feature_use(cls, df: DataFrame) -> Series[bool]:
        return (df["event_type"] == "feature_used") | df["duration_seconds"].isna()

    @pa.check("duration_seconds", name="duration_not_negative",
              description="a duration cannot be negative")
    def duration_not_negative(cls, seconds: Series[float]) -> Series[bool]:
        return seconds >= 0

    @pa.check("plan", name="known_plan",
              description="plan must be trial, team or business")
    def known_plan(cls, plan: Series[str]) -> Series[bool]:
        return plan.isin(PLANS)

    @pa.check("duration_seconds", name="session_length_plausible",
              description="one use lasts at most 8 hours (longer: a session never closed)", **rule(severity="warn"))
    def session_length_plausible(cls, seconds: Series[float]) -> Series[bool]:
        # Nobody stays in one feature for a whole working day; longer sessions are a client that
        # never sent its "closed" signal, and inflate time-spent metrics.
        return seconds <= LONGEST_SESSION_SECONDS

    @pa.check("feature", name="feature_in_catalog",
              description="the feature is in the product catalog", **rule(severity="warn"))
    def feature_in_catalog(cls, feature: Series[str]) -> Series[bool]:
        # A new feature can ship before the catalog lists it: published, but reported.
        return feature.isin(FEATURES)

    @pa.dataframe_check(name="subscription_change_has_price",
                        description="upgrades and cancellations should carry the monthly price",
                        **rule(severity="warn"))
    def subscription_change_has_price(cls, df: DataFrame) -> Series[bool]:
        changes = df["event_type"].isin(["subscription_upgraded", "subscription_cancelled"])
        return ~changes | (df["monthly_price_usd"] > 0)
