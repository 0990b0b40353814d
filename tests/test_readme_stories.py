"""The user stories answer with real numbers, on the data `make up` publishes.

The module's fixture does what `make up` does, in a work directory of its own: `mesh operational
generate` at the default scale with the Makefile's 2% defects, then `mesh materialize`, which
publishes every product's whole history (from its domain's start to the newest complete day) into a
local instance configured as `deploy/local/dagster.yaml`; the real commands, in subprocesses. Every
query of the README's user-stories section runs on it, and each story is held to numbers a user
would call an answer: several regions, spread probabilities, tiers, nations, months, and alerts
that single out a few parts rather than all of them. What it publishes is also held to issue 14's
"nothing is published before it happens": no product reports an event after its business day.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from mesh.contracts.contract import Cadence
from mesh.contracts.registry import load_mesh
from mesh.quality.business_day import NAME, TEMPORAL
from mesh.quality.code import resolve
from mesh.storage.engine import quoted
from tests.conftest import ROOT, MeshEnv

pytestmark = pytest.mark.slow

MESH = str(Path(sys.executable).parent / "mesh")
DEFECTS = re.search(r"^DEFECTS \?= (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
QUICK_START = re.search(r'mesh sql "(SELECT region.*?)"', (ROOT / "README.md").read_text()).group(1)


def story_queries() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The user stories, answered", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def test_the_readme_has_a_query_per_story():
    queries = story_queries()
    for domain in ("marketing", "product_usage", "supply_chain", "consulting"):
        assert any(f"{domain}." in q for q in queries), domain


class MadeUp:
    """A work directory as `make up` leaves it, and the commands to ask it."""

    def __init__(self, work: Path):
        self.work = work
        self.env = {**os.environ, "MESH_WORK_DIR": str(work), "DAGSTER_HOME": str(work / "dagster"),
                    "MESH_PROJECT_DIR": str(ROOT), "MESH_ENV": "local"}
        for variable in ("MESH_STORAGE_URI", "MESH_OPERATIONAL_ROOT"):  # make up sets neither
            self.env.pop(variable, None)

    def mesh(self, *args: str, timeout: float = 1800) -> str:
        done = subprocess.run([MESH, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"mesh {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def port(self):
        """The ports `mesh sql` and `mesh read` use, as the platform."""
        return MeshEnv(self.work / "products", self.work / "operational").port()

    def sql(self, query: str) -> list[dict]:
        """Rows of a query, through the same port as `mesh sql`."""
        return self.port().sql(query).to_pylist()

    def one(self, query: str):
        (row,) = self.sql(query)
        (value,) = row.values()
        return value

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.work / "dagster"))


@pytest.fixture(scope="module")
def made_up(tmp_path_factory) -> MadeUp:
    if os.environ.get("MESH_STORIES_WORK"):  # a work directory `make up` filled already, e.g. `.mesh`
        made = MadeUp(Path(os.environ["MESH_STORIES_WORK"]).resolve())
        made.log = ""
        return made
    work = tmp_path_factory.mktemp("made-up")
    (work / "dagster").mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", work / "dagster" / "dagster.yaml")
    made = MadeUp(work)
    made.mesh("operational", "generate", "--defect-rate", DEFECTS)
    made.log = made.mesh("materialize")
    return made


def test_running_it_again_publishes_nothing(made_up):
    assert "nothing to materialize" in made_up.mesh("materialize", timeout=300)


@pytest.mark.parametrize("query", story_queries(), ids=lambda q: q.splitlines()[0].removeprefix("-- "))
def test_story_query_answers(made_up, query):
    assert made_up.sql(query)


# -- the stories, held to real numbers -------------------------------------------------------------
def test_quick_start_revenue_by_region_covers_every_region_and_agrees_with_tpch(made_up):
    """The README's first query: all five regions, no customer without one, and per region the sum of
    the published orders' totals as TPC-H's own tables attribute them (customer -> nation -> region)."""
    answer = {row["region"]: row for row in made_up.sql(QUICK_START)}
    assert set(answer) == {"AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"}
    published = made_up.sql("SELECT order_id FROM sales.orders")
    tpch = made_up.work / "operational" / "erp" / "_tpch" / "sf0.01"
    con = duckdb.connect()
    con.register("published", pa.Table.from_pylist(published))
    reference = dict(con.sql(f"""
        SELECT r_name, sum(o_totalprice)
        FROM '{tpch}/orders.parquet' JOIN '{tpch}/customer.parquet' ON o_custkey = c_custkey
             JOIN '{tpch}/nation.parquet' ON c_nationkey = n_nationkey
             JOIN '{tpch}/region.parquet' ON n_regionkey = r_regionkey
        WHERE o_orderkey IN (SELECT order_id FROM published)
        GROUP BY r_name""").fetchall())
    revenue_column = next(c for c in answer["ASIA"] if c != "region")
    for region, row in answer.items():
        assert row[revenue_column] == pytest.approx(float(reference[region]), abs=0.01 * len(published)), region


def test_no_order_far_outside_what_the_erp_sells_is_published(made_up):
    """The injected outlier order (hundreds of times the largest real one) is quarantined."""
    tpch = made_up.work / "operational" / "erp" / "_tpch" / "sf0.01"
    (largest,) = duckdb.sql(f"SELECT max(o_totalprice) FROM '{tpch}/orders.parquet'").fetchone()
    assert made_up.one("SELECT max(total_price_usd) FROM sales.orders") <= float(largest) + 0.01


def test_churn_probabilities_are_spread_explained_and_better_than_chance(made_up):
    scores = made_up.sql("SELECT churn_probability AS p, top_factor_1, top_factor_2 FROM marketing.churn_scores")
    assert len(scores) >= 100
    assert len({row["p"] for row in scores}) >= 0.9 * len(scores)  # one value per customer, not a base rate
    ranked = sorted(scores, key=lambda row: -row["p"])
    riskier = ranked[: len(ranked) // 2]
    assert all(row["top_factor_1"] for row in riskier)  # the riskier half names why
    assert sum(bool(row["top_factor_2"]) for row in riskier) >= 0.8 * len(riskier)
    event = made_up.instance().get_latest_materialization_event(dg.AssetKey(["marketing", "churn_scores"]))
    metadata = {key: getattr(value, "value", value) for key, value in event.asset_materialization.metadata.items()}
    assert metadata["model_status"] == "fitted"
    churned, rows = metadata["holdout_churned"], metadata["holdout_rows"]
    # Held out in time, the model must beat a random scorer beyond chance: the AUC of random scores has
    # standard error sqrt((n1 + n0 + 1) / (12 n1 n0)) (Mann-Whitney); 2.33 of them is p < 0.01, one-sided.
    stayed = rows - churned
    chance = 0.5 + 2.33 * math.sqrt((churned + stayed + 1) / (12 * churned * stayed))
    assert metadata["auc_holdout"] > chance, (metadata["auc_holdout"], chance)


def test_segments_span_risk_and_value_tiers(made_up):
    cells = made_up.sql("SELECT value_tier, risk_tier, sum(customer_count) AS n FROM marketing.customer_segments "
                        "GROUP BY ALL")
    assert len({c["risk_tier"] for c in cells}) >= 2 and len({c["value_tier"] for c in cells}) >= 3
    assert len(cells) >= 4


def test_supplier_performance_covers_every_nation(made_up):
    assert made_up.one("SELECT count(DISTINCT nation) FROM supply_chain.supplier_performance "
                       "WHERE nation IS NOT NULL") == 25
    assert made_up.one("SELECT count(*) FROM supply_chain.supplier_performance WHERE nation IS NULL") == 0


def test_consulting_answers_the_director(made_up):
    queries = {q.splitlines()[0]: q for q in story_queries()}
    assert made_up.sql(queries["-- consulting: certifications that expire soon"])
    assert made_up.sql(queries["-- consulting: skill gaps per practice"])


def test_active_users_change_over_months(made_up):
    months = made_up.sql("SELECT date_trunc('month', activity_date) AS month, avg(active_users) AS users "
                         "FROM product_usage.daily_active_users GROUP BY ALL ORDER BY month")
    assert len(months) >= 36  # the whole history, not the last 30 days
    users = [m["users"] for m in months]
    assert min(users) > 0 and max(users) >= 1.5 * min(users)
    assert len({round(u) for u in users}) >= len(users) // 2  # month by month, not one flat line


def test_stockout_alerts_single_out_a_few_pairs(made_up):
    newest = made_up.one("SELECT max(snapshot_date) FROM supply_chain.stockout_alerts")
    alerts = made_up.one(f"SELECT count(*) FROM supply_chain.stockout_alerts WHERE snapshot_date = '{newest}'")
    pairs = made_up.one("SELECT count(*) FROM supply_chain.part_suppliers")
    assert 0 < alerts <= 0.1 * pairs, (alerts, pairs)


# -- nothing published before it happens ----------------------------------------------------------------
def late_rows(frame: pd.DataFrame, column: str, bound: pd.Series, timezone: str) -> pd.DataFrame:
    """Rows whose ``column`` is at or after ``bound`` (naive local times of ``timezone``), worked out apart
    from the rule: zoned timestamps converted, dates at their midnight."""
    values = frame[column]
    if getattr(values.dtype, "tz", None) is not None:
        values = values.dt.tz_convert(timezone).dt.tz_localize(None)
    moments = pd.to_datetime(values)
    return frame[moments.notna() & (moments >= bound)]


def test_no_product_publishes_an_event_after_its_business_day(made_up):
    """Every temporal column of every product that is not declared planned holds no moment after the
    row's business day (its partition's day; for an unpartitioned product, the run's moment, before now),
    worked out apart from the rule happened_by_business_day; and the rule held nothing of what make up
    published: the example mesh computes no event before it happens."""
    mesh, port = load_mesh(), made_up.port()
    judged = {}  # product -> rows judged
    for address, product in sorted(mesh.products.items(), key=lambda kv: str(kv[0])):
        schema = resolve(product, mesh.root).schema
        contract, timezone = product.contract, product.domain.snapshots.timezone
        held = port.sql(f"SELECT * FROM {address}__quarantine WHERE rule = '{NAME}' LIMIT 3").to_pylist()
        assert not held, (address, held)
        columns = [c.name for c in schema.columns if c.type_name in TEMPORAL and c.name not in contract.planned]
        partition = contract.partitioning.column if contract.partitioned else None
        # only the columns judged, as numpy datetimes (an Arrow-backed column converts row by row)
        chosen = ", ".join(quoted(c) for c in dict.fromkeys([*columns, *([partition] if partition else [])]))
        frame = port.sql(f"SELECT {chosen or 'true'} FROM {address}").to_pandas(date_as_object=False)
        if partition:
            assert product.domain.snapshots.cadence is Cadence.daily  # the example mesh's partitions are days
            bound = pd.to_datetime(frame[partition]) + timedelta(days=1)
        else:  # computed as of the run's moment, which is before now
            bound = pd.Series(pd.Timestamp.now(tz=timezone).tz_localize(None), index=frame.index)
        for column in columns:
            late = late_rows(frame, column, bound, timezone)
            assert late.empty, (address, column, late.head(3).to_dict("records"))
            judged[str(address)] = len(frame)
    # what the checks above judged holds data: the sales lines and the timelines built from them
    assert judged["sales.order_lines"] > 10_000 and judged["supply_chain.delivery_timelines"] > 1_000


def test_an_order_is_delivered_on_its_partitions_day_with_every_line(made_up):
    """A delivery timeline is published on the day its order's last line is received, and counts every
    published line of the order: the ship, commit and receipt dates the lines plan are facts once past."""
    rows = made_up.sql("""
        SELECT t.order_id, t.last_receipt_date, t.line_count, t.first_receipt_date, t.last_ship_date,
               count(l.line_number) AS lines, max(l.receipt_date) AS received
        FROM supply_chain.delivery_timelines t JOIN sales.order_lines l USING (order_id)
        GROUP BY ALL""")
    published = made_up.port().lake.published(load_mesh().product("supply_chain.delivery_timelines").address, 2)
    assert len(rows) > 1_000 and len(published.keys()) > 1_000
    for row in rows:
        assert row["received"] == row["last_receipt_date"] and row["lines"] == row["line_count"], row
        assert max(row["first_receipt_date"], row["last_ship_date"]) <= row["last_receipt_date"], row
        assert row["last_receipt_date"].isoformat() in published.partitions, row  # its partition: that day
