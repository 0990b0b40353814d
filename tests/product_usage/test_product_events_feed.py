"""The product-events simulator and its feed: deterministic CloudEvents, late events, and defects that
all end up published or quarantined with their reason, never lost."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from checks.product_usage.events import Events
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from operational import Settings, product_events
from operational.erp import ErpSettings
from operational.feeds import KINDS, DefectLog, Defects, inject
from tests.conftest import MeshEnv

WINDOW = ["2026-03-10", "2026-03-11"]


def feed_files(root: Path) -> Path:
    return root / "product_events" / "events"


def test_every_day_has_a_file_and_generation_is_idempotent(erp_root):
    folder = feed_files(erp_root)
    settings = ErpSettings()
    assert len(list(folder.glob("*.jsonl"))) == (settings.last_day - settings.epoch).days + 1
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("2026-03-*.jsonl")}
    product_events.generate(erp_root, Settings())  # up to date: nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("2026-03-*.jsonl")} == before


def test_simulation_is_deterministic_from_the_seed(erp_root):
    customers, orders = product_events._erp_history(erp_root, ErpSettings())
    usage = np.ones(400)

    def run(seed: int):
        return product_events.simulate(customers.head(60), orders, usage, np.random.default_rng([seed, 5]))

    first, again, other = run(7), run(7), run(8)
    assert first.equals(again)
    assert not first.equals(other)


def test_events_are_cloudevents_of_erp_customers(erp_root):
    lines = (feed_files(erp_root) / "2026-03-10.jsonl").read_text().splitlines()
    assert len(lines) > 100
    registered = {int(k): d for k, d in duckdb.sql(
        f"SELECT c_custkey, c_registered FROM read_csv('{erp_root}/erp/customers/*.csv', union_by_name=true)"
    ).fetchall()}
    for record in map(json.loads, lines):
        assert record["specversion"] == "1.0" and record["datacontenttype"] == "application/json"
        assert record["type"].removeprefix(product_events.TYPE_PREFIX) in product_events.EVENT_TYPES
        assert record["time"].endswith("Z") and record["eventday"] == record["time"][:10]
        assert registered[int(record["subject"])] <= date.fromisoformat(record["eventday"])


def test_lifecycle_late_events_and_outages_over_the_whole_history(erp_root):
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE e AS SELECT type, subject, eventday::DATE AS eventday,
                        regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})\\.jsonl', 1)::DATE AS file_day
                    FROM read_json('{feed_files(erp_root)}/*.jsonl', filename=true, format='newline_delimited',
                                   columns={{type: 'VARCHAR', subject: 'VARCHAR', eventday: 'VARCHAR'}})""")
    counts = dict(con.sql("SELECT replace(type, 'com.mesh.product.', ''), count(*) FROM e GROUP BY 1").fetchall())
    assert counts["signed_up"] == counts["trial_started"]
    assert 0 < counts["subscription_cancelled"] < counts["subscription_upgraded"] < counts["trial_started"]
    assert counts["subscription_upgraded"] + counts["trial_expired"] <= counts["trial_started"]
    # every upgrade happens within the 14-day trial the customer started
    late_upgrades = con.sql("""
        SELECT count(*) FROM e u JOIN e t ON u.subject = t.subject AND t.type LIKE '%trial_started'
        WHERE u.type LIKE '%subscription_upgraded' AND NOT u.eventday BETWEEN t.eventday AND t.eventday + 13""")
    assert late_upgrades.fetchall()[0][0] == 0
    # about 1% of events reach the feed one or two days late; none early
    delays = dict(con.sql("SELECT file_day - eventday, count(*) FROM e GROUP BY 1").fetchall())
    assert set(delays) <= {0, 1, 2} and 0.005 < (delays[1] + delays[2]) / sum(delays.values()) < 0.02
    # outage days have far fewer feature uses than the days around them
    outages = json.loads((erp_root / "product_events" / "_incidents.json").read_text())["outage_days"]
    day = date.fromisoformat(outages[len(outages) // 2])
    uses = dict(con.sql(f"""SELECT eventday, count(*) FROM e WHERE type LIKE '%feature_used'
                           AND eventday BETWEEN DATE '{day}' - 7 AND DATE '{day}' + 7 GROUP BY 1""").fetchall())
    assert uses[day] < 0.4 * np.median(list(uses.values()))


def copy_days(erp_root: Path, target: Path, days: list[str]) -> Path:
    folder = feed_files(target)
    folder.mkdir(parents=True)
    for day in days:
        shutil.copy(feed_files(erp_root) / f"{day}.jsonl", folder / f"{day}.jsonl")
    return target


def test_unknown_types_spare_lines_other_defects_spoiled(tmp_path, erp_root):
    root = copy_days(erp_root, tmp_path, WINDOW)
    log = DefectLog()
    inject(feed_files(root), product_events.FEED, "jsonl", Defects(0.2, KINDS, 3), log)
    spoiled = {(e["day"], e["line"]) for e in log.entries}
    product_events.inject_unknown_types(feed_files(root), 0.05, 3, log)
    unknown = [e for e in log.entries if e["kind"] == "unknown_type"]
    assert unknown and not {(e["day"], e["line"]) for e in unknown} & spoiled
    for entry in unknown:
        text = (feed_files(root) / f"{entry['day']}.jsonl").read_text(encoding="utf-8-sig")
        line = text.splitlines()[entry["line"] - 1]
        assert json.loads(line)["type"] in product_events.UNKNOWN_TYPES


def expected_rows(folder: Path, window: list[str], log: DefectLog) -> Counter:
    """What the reader must account for per window day: each own-file line that cannot be placed (broken,
    mistyped, dated outside its file's reach), and every usable line dated in the window from the file of
    its day or the two after it."""
    mistyped = {(e["day"], e["line"]) for e in log.entries if e["kind"] == "wrong_type"}
    counts: Counter = Counter()
    last = date.fromisoformat(window[-1])
    for path in sorted(folder.glob("*.jsonl")):
        file_day, own = date.fromisoformat(path.stem), path.stem in window
        for number, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            try:
                event_day = date.fromisoformat(json.loads(text)["eventday"])
            except (ValueError, TypeError, KeyError):
                counts[path.stem] += own
                continue
            if (path.stem, number) in mistyped or not file_day - timedelta(days=2) <= event_day <= file_day:
                counts[path.stem] += own
            elif window[0] <= event_day.isoformat() <= last.isoformat():
                counts[event_day.isoformat()] += 1
    return counts


def of_earlier_day(root: Path, entry: dict) -> bool:
    """A defect on a (legitimately) late event of a day before the window: that day's run accounts for it."""
    if entry["line"] is None:
        return False
    text = (feed_files(root) / f"{entry['day']}.jsonl").read_text(encoding="utf-8-sig").splitlines()[entry["line"] - 1]
    try:
        event_day = json.loads(text)["eventday"]
    except (ValueError, KeyError):
        return False
    return event_day < WINDOW[0] and date.fromisoformat(entry["day"]) - date.fromisoformat(event_day) <= timedelta(2)


@pytest.mark.parametrize("seed", [1, 2])
def test_every_defect_is_published_or_quarantined_with_its_reason(tmp_path, erp_root, seed):
    later = [(date.fromisoformat(WINDOW[-1]) + timedelta(days=n)).isoformat() for n in (1, 2)]
    root = copy_days(erp_root, tmp_path / "operational", WINDOW + later)
    log = DefectLog()
    inject(feed_files(root), product_events.FEED, "jsonl", Defects(0.02, KINDS, seed), log)
    product_events.inject_unknown_types(feed_files(root), 0.01, seed, log)
    env = MeshEnv(tmp_path / "products", root)
    report = env.run("product_usage.events", WINDOW[0], WINDOW[-1])
    expected = expected_rows(feed_files(root), WINDOW, log)
    for day in WINDOW:
        verdict = report.verdicts[day]
        assert verdict.published, verdict.reason
        assert verdict.rows_in == expected[day] == verdict.rows_published + verdict.rows_quarantined
    quarantine = env.port().read("product_usage.events__quarantine")
    found = {(Path(f).stem, int(n)): (r, reason) for f, n, r, reason in
             zip(quarantine["source_file"], quarantine["source_line"], quarantine["rule"], quarantine["reason"],
                 strict=True)}
    reasons = {"malformed": "malformed_record", "wrong_type": "type_mismatch", "late": "late_record",
               "unknown_type": "known_event_type"}
    checked = Counter()
    for entry in (e for e in log.entries if e["day"] in WINDOW and e["line"] is not None
                  and not of_earlier_day(root, e)):
        rule, reason = found.get((entry["day"], entry["line"]), (None, None))
        if entry["kind"] in reasons:
            assert rule == reasons[entry["kind"]], entry
        elif entry["kind"] == "null_key":
            assert reason == "null in a non-nullable column", entry
        elif entry["kind"] == "duplicate_key":
            assert reason == "duplicate key ['event_id']", entry
        elif entry["kind"] == "out_of_range" and "negative" in entry["detail"]:
            assert rule in ("duration_not_negative", "duration_only_on_feature_use"), entry
        checked[entry["kind"]] += 1
    assert checked["unknown_type"] and len(checked) >= 4 and sum(checked.values()) > 20, checked
    published = env.port().read("product_usage.events")
    schema = schema_from_model(Events, ["event_id"])
    frame, structure = check_structure(published, schema)
    assert published["event_id"].is_unique and not structure.failing.any()
    assert not any(o.failing.any() for o in evaluate_rules(frame, schema, severity="error"))
