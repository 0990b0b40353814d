"""product_usage.events: renaming, its rules, and reading a hand-written feed end to end.

The feed test writes CloudEvents lines for three days and reads the first through the write-audit-
publish runner: late events from the next files land in their day, and every line is either
published or quarantined with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from assets.product_usage.events import events
from checks.product_usage.events import EVENT_TYPES, FEATURES, Events
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from operational import product_events
from tests.conftest import MeshEnv
from tests.product_usage.frames import DATE, day

SCHEMA = schema_from_model(Events, ["event_id"])


def feed_frame(**overrides) -> pd.DataFrame:
    """One feature use as the source reader delivers it (source column names, UTC time)."""
    row = {"event_id": "a", "spec_version": "1.0", "event_source": "/product/web",
           "event_type": "com.mesh.product.feature_used", "event_time": pd.Timestamp("2023-03-01T23:30:00Z"),
           "event_day": day("2023-03-01"), "customer_id": 7, "user_email": "user1@customer7.example.com",
           "feature": "reports", "duration_seconds": 30.0, "plan": "team", "monthly_price_usd": None,
           "cancel_reason": None} | overrides
    frame = pd.DataFrame([row])
    frame["event_day"] = frame["event_day"].astype(DATE)
    return frame


def failing(frame: pd.DataFrame) -> dict[str, list[bool]]:
    checked, structure = check_structure(events(frame), SCHEMA)
    assert not structure.fatal
    return {o.rule.name: list(o.failing) for o in evaluate_rules(checked, SCHEMA)}


def test_events_strips_the_product_namespace_and_keeps_foreign_types():
    frame = pd.concat([feed_frame(), feed_frame(event_id="b", event_type="com.other.page_view")], ignore_index=True)
    out = events(frame)
    assert list(out["event_type"]) == ["feature_used", "com.other.page_view"]
    assert out.loc[0, "event_date"] == day("2023-03-01")
    assert str(out["event_time"].dt.tz) == "UTC"


def test_the_schema_knows_the_simulators_types_and_features():
    assert sorted(EVENT_TYPES) == sorted(product_events.EVENT_TYPES)
    assert sorted(FEATURES) == sorted(product_events.FEATURES)


def test_unknown_type_fails_a_named_error_rule():
    result = failing(feed_frame(event_type="com.mesh.product.feature_usd"))
    assert result["known_event_type"] == [True]
    assert next(r for r in SCHEMA.rules if r.name == "known_event_type").severity == "error"


def test_event_day_must_be_the_utc_day_of_its_time():
    # 23:30 UTC on 1 March is 2 March in Paris, but the partition is the UTC day
    assert failing(feed_frame())["event_date_is_utc_day_of_time"] == [False]
    assert failing(feed_frame(event_day=day("2023-03-02")))["event_date_is_utc_day_of_time"] == [True]


def test_durations_belong_to_feature_use_and_are_plausible():
    assert failing(feed_frame(duration_seconds=-1.0))["duration_not_negative"] == [True]
    signup = failing(feed_frame(event_type="com.mesh.product.signed_up", feature=None, duration_seconds=120.0))
    assert signup["duration_only_on_feature_use"] == [True]
    long_session = failing(feed_frame(duration_seconds=9 * 3600.0))
    assert long_session["session_length_plausible"] == [True]
    assert next(r for r in SCHEMA.rules if r.name == "session_length_plausible").severity == "warn"
    assert failing(feed_frame(feature=None))["feature_use_names_feature"] == [True]


def cloud_event(event_id: str | None, time: str, kind: str = "feature_used", **data) -> str:
    record = {"specversion": "1.0", "id": event_id, "source": "/product/web", "type": f"com.mesh.product.{kind}",
              "time": time, "subject": "7", "datacontenttype": "application/json", "eventday": time[:10],
              "data": {"feature": "reports", "plan": "team", "user_email": "user1@customer7.example.com",
                       "duration_seconds": 30} | data}
    if event_id is None:
        del record["id"]
    return json.dumps(record)


def write_feed(root: Path, files: dict[str, list[str]]) -> Path:
    folder = root / "product_events" / "events"
    folder.mkdir(parents=True)
    for key, lines in files.items():
        (folder / f"{key}.jsonl").write_text("".join(line + "\n" for line in lines))
    return root


def test_feed_lines_are_published_in_their_event_day_or_quarantined_with_a_reason(tmp_path):
    good = [cloud_event(f"g{i}", f"2023-03-01T{10 + i % 10:02d}:00:00Z") for i in range(96)]
    root = write_feed(tmp_path / "operational", {
        "2023-03-01": [*good,
                       cloud_event("g0", "2023-03-01T09:00:00Z"),  # repeated id
                       cloud_event(None, "2023-03-01T09:30:00Z"),  # no id
                       cloud_event("u1", "2023-03-01T09:45:00Z", kind="trial_extended"),  # unknown type
                       '{"specversion": "1.0", "id": "broken'],  # cut off
        "2023-03-02": [cloud_event("late1", "2023-03-01T23:59:00Z"),  # a day late: belongs to 1 March
                       cloud_event("next", "2023-03-02T08:00:00Z")],
        "2023-03-03": [cloud_event("late2", "2023-03-01T22:00:00Z")],  # two days late
    })
    env = MeshEnv(tmp_path / "products", root)
    report = env.run("product_usage.events", "2023-03-01")
    verdict = report.verdicts["2023-03-01"]
    # 100 lines of the day's own file + 2 late lines from the next files; 'next' belongs to 2 March
    assert verdict.rows_in == 102
    assert verdict.published and verdict.rows_published == 98 and verdict.rows_quarantined == 4
    published = env.port().read("product_usage.events", partition="2023-03-01")
    assert {"late1", "late2"} <= set(published["event_id"]) and "next" not in set(published["event_id"])
    assert published["event_id"].is_unique
    quarantine = env.port().read("product_usage.events__quarantine")
    by_rule = quarantine.groupby("rule")["reason"].apply(sorted).to_dict()
    assert by_rule["malformed_record"][0].startswith("malformed JSON line")
    assert by_rule["known_event_type"] == ["failed rule known_event_type: the type is one the product emits "
                                           "(com.mesh.product.<name>): " + ", ".join(EVENT_TYPES)]
    assert by_rule["structure"] == ["duplicate key ['event_id']", "null in a non-nullable column"]
    assert set(quarantine.loc[quarantine["rule"] == "known_event_type", "value"]) == {"trial_extended"}
    assert set(quarantine["source_file"].str.rsplit("/", n=1).str[-1]) == {"2023-03-01.jsonl"}
