"""The simulated SaaS product: CloudEvents 1.0 JSON lines of what the ERP's customers do in it.

Writes ``<root>/product_events/events/<YYYY-MM-DD>.jsonl`` for every day from the epoch to the
ERP's last day (an empty file on quiet days), deterministically from the settings' seed. Each line
is a CloudEvent (``specversion``, ``id``, ``source``, ``type``, ``time`` in RFC 3339, ``subject``:
the ERP customer key, ``datacontenttype``, ``data``) plus the extension attribute ``eventday``
(the UTC day of ``time``): the mesh's source reader places records by a date column and does not
yet read timestamps with an offset such as ``Z``.

The customers are the ERP's (TPC-H keys, the ERP's simulated registration day, account balance
and order history). A share of them signs up on or after registering, starts a 14-day trial and
either upgrades to a paid plan or lets the trial expire. Paying customers cancel with a daily
hazard that rises with a negative balance and days since their last ERP order and falls with
their recent orders; usage fades over the weeks before a cancellation. Usage has a weekly rhythm
and a few outage days (listed in ``_incidents.json``). About 1% of events arrive a day or two late:
they are written to a later day's file, their ``time`` unchanged.

Defects (``settings.defects``) are injected with ``operational.feeds.inject`` (malformed lines,
events without id, duplicated events, wrong types, negative or huge durations, events dated weeks
earlier than their file) plus, as often as each of those kinds, events of a type the product does
not emit; ``_defects.jsonl`` is the ground truth.
Does not know the mesh. Not here: the ERP itself (``operational.erp``).
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from operational import Settings
from operational.erp import ErpSettings, _feed_queries, _register, generate_tpch, history_days
from operational.feeds import KINDS, DefectLog, FeedSpec, day_range, inject, injected_kinds

SYSTEM = "product_events"
FORMAT_VERSION = 2  # bump when the events change, so caches regenerate
TYPE_PREFIX = "com.mesh.product."
EVENT_TYPES = ("signed_up", "trial_started", "feature_used", "subscription_upgraded", "trial_expired",
               "subscription_cancelled")
UNKNOWN_TYPES = ("com.mesh.product.feature_usd", "com.mesh.legacy.page_view", "com.mesh.product.trial_extended")
FEATURES = {"dashboards": 0.30, "reports": 0.22, "alerts": 0.15, "exports": 0.13, "sharing": 0.12, "api": 0.08}
PLAN_PRICE_USD = {"team": 29.0, "business": 79.0}  # per seat and month
CANCEL_REASONS = ("price", "missing_feature", "switched_competitor", "no_longer_needed")
TRIAL_DAYS = 14
ADOPTION_SHARE = 0.75  # of ERP customers who ever sign up
LATE_SHARE = 0.01  # of events that reach the feed one or two days after they happened
OUTAGE_EVERY_DAYS = 120  # about one outage day per this many days
OUTAGE_USAGE_FACTOR = 0.1
WEEKEND_USAGE_FACTOR = 0.75
FEED = FeedSpec("events", key=("id",), date_column="eventday", numeric=("data.duration_seconds",),
                typed=("time", "subject", "data.duration_seconds"))


def day_files(settings: Settings) -> int:
    """How many files ``generate`` writes: one per day."""
    return len(history_days(settings))


def generate(root: Path, settings: Settings, force: bool = False, on_file: Callable[[], None] | None = None) -> Path:
    """Write every day's events file; a no-op when the files match the settings already.
    ``on_file`` is called as each day's file is complete."""
    erp = ErpSettings(**{f: getattr(settings, f) for f in Settings.__dataclass_fields__})
    base = root / SYSTEM
    marker = base / "_feeds.json"
    described = {"scale_factor": erp.scale_factor, "epoch": erp.epoch.isoformat(), "seed": erp.seed,
                 "defects": erp.defects.describe(), "version": FORMAT_VERSION}
    if not force and marker.exists() and json.loads(marker.read_text()) == described:
        return base
    base.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    days = day_range(erp.epoch, erp.last_day)
    customers, orders = _erp_history(root, erp)
    rng = np.random.default_rng([erp.seed, 5])
    outages = np.sort(rng.choice(len(days), size=max(1, len(days) // OUTAGE_EVERY_DAYS), replace=False))
    usage_factor = np.array([WEEKEND_USAGE_FACTOR if d.weekday() >= 5 else 1.0 for d in days])
    usage_factor[outages] *= OUTAGE_USAGE_FACTOR
    events = simulate(customers, orders, usage_factor, rng)
    folder = base / FEED.name
    corrupted = bool(injected_kinds("jsonl", erp.defects))  # a file is complete once corrupted
    write_events(events, folder, days, erp.seed, on_file=None if corrupted else on_file)
    log = DefectLog()
    inject(folder, FEED, "jsonl", erp.defects, log, on_file=on_file)
    inject_unknown_types(folder, erp.defects.rate / len(KINDS), erp.defects.seed, log)
    log.write(base / "_defects.jsonl")
    (base / "_incidents.json").write_text(json.dumps({"outage_days": [days[i].isoformat() for i in outages]}))
    marker.write_text(json.dumps(described, indent=1))
    return base


def _erp_history(root: Path, erp: ErpSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers (key, registration day number, balance) and orders (key, day number, price) of the ERP."""
    con = duckdb.connect()
    _register(con, generate_tpch(root, erp.scale_factor), erp)
    epoch = f"DATE '{erp.epoch.isoformat()}'"
    customers = con.sql(f"""
        SELECT c_custkey AS customer, datediff('day', {epoch}, c_registered) AS registered, c_acctbal AS balance
        FROM ({_feed_queries()['customers']}) ORDER BY 1""").df()
    orders = con.sql(f"""
        SELECT o_custkey AS customer, datediff('day', {epoch}, shift(o_orderdate)) AS day,
               CAST(o_totalprice AS DOUBLE) AS price_usd
        FROM orders ORDER BY 1, 2""").df()
    return customers, orders


@dataclass
class Subscription:
    """One customer's life in the product, in day numbers from the epoch. ``upgrade`` is None when the
    trial expired, ``cancel`` when the customer still pays at the end of the history."""

    customer: int
    users: int
    engagement: float
    trial_start: int
    upgrade: int | None
    cancel: int | None
    plan: str

    @property
    def last_active(self) -> int:
        """The last day the customer uses the product."""
        if self.upgrade is None:
            return self.trial_start + TRIAL_DAYS - 1
        return self.cancel if self.cancel is not None else 10**9


def simulate(customers: pd.DataFrame, orders: pd.DataFrame, usage_factor: np.ndarray,
             rng: np.random.Generator) -> pd.DataFrame:
    """Every event over the days of ``usage_factor`` (the day's share of normal usage): columns day,
    second, type, customer, user, plan, feature, duration_seconds, monthly_price_usd, reason, channel."""
    horizon = len(usage_factor)
    order_days = {k: g["day"].to_numpy() for k, g in orders.groupby("customer")}
    rows: list[pd.DataFrame] = []
    for row in customers.itertuples(index=False):
        if rng.random() >= ADOPTION_SHARE:
            continue
        signup = int(row.registered) + int(rng.geometric(1 / 21)) - 1
        if signup >= horizon:
            continue
        sub = _subscription(int(row.customer), float(row.balance), signup, order_days.get(row.customer), horizon,
                            rng)
        rows.append(_lifecycle_events(sub, signup, horizon, rng))
        rows.append(_usage_events(sub, horizon, usage_factor, rng))
    return pd.concat(rows, ignore_index=True)


def _subscription(customer: int, balance: float, signup: int, order_days: np.ndarray | None, horizon: int,
                  rng: np.random.Generator) -> Subscription:
    trial_start = signup + (0 if rng.random() < 0.7 else int(rng.integers(1, 4)))
    engagement = float(rng.beta(2.5, 3.0))
    users = int(min(8, 1 + rng.poisson(1.5)))
    has_orders = order_days is not None
    converts = rng.random() < 1 / (1 + np.exp(-(-0.6 + 4.0 * (engagement - 0.45) + 0.5 * has_orders)))
    plan = "business" if users >= 4 or rng.random() < 0.2 else "team"
    upgrade = trial_start + int(rng.integers(2, TRIAL_DAYS)) if converts else None
    cancel = None
    if upgrade is not None and upgrade + 1 < horizon:
        days = np.arange(upgrade + 1, horizon)
        cancel = _cancellation_day(days, balance, engagement, order_days, rng)
    return Subscription(customer, users, engagement, trial_start, upgrade, cancel, plan)


def _cancellation_day(days: np.ndarray, balance: float, engagement: float, order_days: np.ndarray | None,
                      rng: np.random.Generator) -> int | None:
    """First day a daily hazard fires; the hazard follows the customer's ERP standing that day."""
    if order_days is None:
        recency = np.full(len(days), 730.0)
        recent_orders = np.zeros(len(days))
    else:
        last = np.searchsorted(order_days, days, side="right")
        recency = np.where(last > 0, days - order_days[np.maximum(last - 1, 0)], 730).clip(0, 730)
        recent_orders = last - np.searchsorted(order_days, days - 365, side="right")
    log_hazard = (-7.0 + 1.2 * (balance < 0) + 1.0 * recency / 365 - 0.25 * recent_orders
                  - 1.5 * (engagement - 0.45))
    fired = np.flatnonzero(rng.random(len(days)) < np.exp(log_hazard))
    return int(days[fired[0]]) if len(fired) else None


def _lifecycle_events(sub: Subscription, signup: int, horizon: int, rng: np.random.Generator) -> pd.DataFrame:
    second = int(rng.integers(7 * 3600, 20 * 3600))
    channel = str(rng.choice(["web", "sales", "partner"], p=[0.6, 0.25, 0.15]))
    events = [dict(day=signup, second=second, type="signed_up", channel=channel)]
    trial_second = second + int(rng.integers(60, 900)) if sub.trial_start == signup else second
    events.append(dict(day=sub.trial_start, second=trial_second, type="trial_started", plan="trial"))
    price = PLAN_PRICE_USD[sub.plan] * sub.users
    if sub.upgrade is None:
        events.append(dict(day=sub.trial_start + TRIAL_DAYS, second=0, type="trial_expired", plan="trial"))
    else:
        events.append(dict(day=sub.upgrade, second=int(rng.integers(8 * 3600, 18 * 3600)),
                           type="subscription_upgraded", plan=sub.plan, monthly_price_usd=price))
    if sub.cancel is not None:
        events.append(dict(day=sub.cancel, second=int(rng.integers(8 * 3600, 18 * 3600)),
                           type="subscription_cancelled", plan=sub.plan, monthly_price_usd=price,
                           reason=str(rng.choice(CANCEL_REASONS))))
    frame = pd.DataFrame(events).assign(customer=sub.customer, user=0)
    return frame[frame["day"] < horizon]


def _usage_events(sub: Subscription, horizon: int, usage_factor: np.ndarray,
                  rng: np.random.Generator) -> pd.DataFrame:
    """Feature use by each of the customer's users on each day of the subscription."""
    days = np.arange(sub.trial_start, min(sub.last_active, horizon - 1) + 1)
    user_engagement = np.clip(sub.engagement * rng.lognormal(0, 0.3, sub.users), 0.02, 0.95)
    fading = np.ones(len(days))
    if sub.cancel is not None:  # usage fades to a quarter over the weeks before a cancellation
        span = int(rng.integers(21, 50))
        fading = 1 - 0.75 * np.clip((days - (sub.cancel - span)) / span, 0, 1)
    chance = user_engagement[:, None] * (usage_factor[days] * fading)[None, :]
    active = rng.random(chance.shape) < chance
    counts = np.where(active, 1 + rng.poisson(0.4 + 1.2 * user_engagement[:, None], chance.shape), 0)
    user, position = np.nonzero(counts)
    repeat = counts[user, position]
    n = int(repeat.sum())
    preference = rng.dirichlet(np.array(list(FEATURES.values())) * 20)
    day = np.repeat(days[position], repeat)
    second = np.clip(rng.normal(14 * 3600, 3.5 * 3600, n), 0, 86399).astype(np.int64)
    paid = (sub.upgrade is not None) & ((day > (sub.upgrade or 0)) | ((day == sub.upgrade) & (second >= 43200)))
    return pd.DataFrame({
        "day": day, "second": second, "type": "feature_used", "customer": sub.customer,
        "user": np.repeat(user, repeat), "plan": np.where(paid, sub.plan, "trial"),
        "feature": np.array(list(FEATURES))[rng.choice(len(FEATURES), n, p=preference)],
        "duration_seconds": np.round(rng.lognormal(3.8, 1.0, n)).astype(np.int64),
    })


def write_events(events: pd.DataFrame, folder: Path, days: list, seed: int,
                 on_file: Callable[[], None] | None = None) -> None:
    """Render the events as CloudEvents JSON lines, one file per arrival day, in time order."""
    rng = np.random.default_rng([seed, 11])
    late = rng.random(len(events)) < LATE_SHARE
    arrival = events["day"].to_numpy() + np.where(late, rng.integers(1, 3, len(events)), 0)
    frame = events.assign(arrival=np.minimum(arrival, len(days) - 1))
    for column in ("plan", "feature", "reason", "channel", "monthly_price_usd", "duration_seconds"):
        if column not in frame:
            frame[column] = None
    con = duckdb.connect()
    con.register("simulated", frame)
    epoch = days[0].isoformat()
    lines = con.sql(f"""
        WITH e AS (
            SELECT *, TIMESTAMP '{epoch}' + to_days(CAST(day AS INT)) + to_seconds(second) AS moment,
                   'user' || (user + 1) || '@customer' || customer || '.example.com' AS email,
                   -- every column: two uses of a feature in one second differ by duration alone, and
                   -- a tie would be numbered in whatever order DuckDB's threads finish
                   row_number() OVER (ORDER BY day, second, customer, user, type, feature, duration_seconds,
                                      plan, reason, channel, monthly_price_usd, arrival) AS n
            FROM simulated),
        d AS (SELECT *, md5('{seed}:' || n) AS digest FROM e)
        SELECT arrival, json_object(
            'specversion', '1.0',
            'id', concat_ws('-', digest[1:8], digest[9:12], digest[13:16], digest[17:20], digest[21:32]),
            'source', CASE WHEN type IN ('subscription_upgraded', 'subscription_cancelled', 'trial_expired')
                           THEN '/billing' WHEN feature = 'api' THEN '/product/api' ELSE '/product/web' END,
            'type', '{TYPE_PREFIX}' || type,
            'time', strftime(moment, '%Y-%m-%dT%H:%M:%SZ'),
            'subject', CAST(customer AS VARCHAR),
            'datacontenttype', 'application/json',
            'eventday', strftime(moment, '%Y-%m-%d'),
            'data', CASE type
                WHEN 'feature_used' THEN json_object('feature', feature, 'plan', plan, 'user_email', email,
                                                     'duration_seconds', CAST(duration_seconds AS BIGINT))
                WHEN 'signed_up' THEN json_object('channel', channel, 'user_email', email)
                WHEN 'subscription_cancelled' THEN json_object('plan', plan, 'monthly_price_usd', monthly_price_usd,
                                                               'reason', reason, 'user_email', email)
                WHEN 'subscription_upgraded' THEN json_object('from_plan', 'trial', 'plan', plan,
                                                              'monthly_price_usd', monthly_price_usd,
                                                              'user_email', email)
                ELSE json_object('plan', plan, 'user_email', email) END)::VARCHAR AS line
        FROM d
        ORDER BY arrival, n""").to_arrow_table()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    arrivals = lines.column("arrival").to_numpy()
    bounds = np.searchsorted(arrivals, np.arange(len(days) + 1))
    text = lines.column("line")
    for i, day in enumerate(days):
        chunk = text.slice(bounds[i], bounds[i + 1] - bounds[i]).to_pylist()
        (folder / f"{day.isoformat()}.jsonl").write_text("".join(line + "\n" for line in chunk), encoding="utf-8")
        if on_file is not None:
            on_file()


def inject_unknown_types(folder: Path, rate: float, seed: int, log: DefectLog) -> None:
    """Give about ``rate`` of the intact events a type the product does not emit (a client bug)."""
    if rate <= 0:
        return
    spoiled: dict[str, set[int]] = {}
    for entry in log.entries:
        if entry["line"] is not None:  # file-wide defects (bom, emptied) spoil no one line
            spoiled.setdefault(entry["day"], set()).update({entry["line"], entry["line"] - 1})
    for path in sorted(folder.glob("*.jsonl")):
        rng = random.Random(f"{seed}:unknown_type:{path.stem}")
        lines = path.read_text(encoding="utf-8").splitlines()
        changed = False
        for number, text in enumerate(lines, start=1):
            if rng.random() >= rate or number in spoiled.get(path.stem, ()):
                continue
            record = json.loads(text)
            record["type"] = rng.choice(UNKNOWN_TYPES)
            lines[number - 1] = json.dumps(record, separators=(",", ":"))
            log.add(FEED.name, path.stem, "unknown_type", number, f"type set to {record['type']}")
            changed = True
        if changed:
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def remove(root: Path) -> None:
    shutil.rmtree(root / SYSTEM, ignore_errors=True)
