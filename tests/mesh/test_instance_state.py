"""`mesh review` and `mesh show` read the local instance's SQLite index without Dagster: what they read
(the newest completed check evaluations, the newest materializations since a wipe, the newest freshness
states) must be what Dagster's own API answers, on an instance Dagster wrote with the project's
deploy/local/dagster.yaml."""

from __future__ import annotations

import shutil
import time

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

from mesh.instance.state import CheckRecord, DagsterState, LocalState, is_local
from tests.conftest import ROOT

PRODUCT, OTHER = ("dom", "prod"), ("dom", "other")
DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")


def definitions(second_run: bool) -> list:
    @dg.asset(key=list(PRODUCT), partitions_def=DAYS)
    def prod() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    @dg.asset(key=list(OTHER), partitions_def=DAYS)
    def other() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    @dg.asset_check(asset=dg.AssetKey(list(PRODUCT)), name="key_unique")
    def key_unique() -> dg.AssetCheckResult:
        if second_run:  # the check breaks: its execution stays planned, the first run's result is the newest
            raise RuntimeError("the check itself failed")
        return dg.AssetCheckResult(passed=True, metadata={"rows_failing": 0})

    @dg.asset_check(asset=dg.AssetKey(list(PRODUCT)), name="price_plausible")
    def price_plausible() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=not second_run, severity=dg.AssetCheckSeverity.WARN,
                                   description="3 rows cost over a million" if second_run else None,
                                   metadata={"rows_failing": 3 if second_run else 0})

    @dg.asset_check(asset=dg.AssetKey(list(OTHER)), name="key_unique")
    def other_unique() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    return [prod, other, key_unique, price_plausible, other_unique]


@pytest.fixture(scope="module")
def instance_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster-home")
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    assert dg.materialize(definitions(False), instance=instance, partition_key="2026-11-02").success
    second = dg.materialize(definitions(True), instance=instance, partition_key="2026-11-03", raise_on_error=False,
                            selection=[dg.AssetKey(list(PRODUCT))])
    assert not second.success  # key_unique raised
    instance.wipe_assets([dg.AssetKey(list(OTHER))])
    for state in (FreshnessState.WARN, FreshnessState.FAIL):
        instance._report_runless_asset_event(FreshnessStateChange(  # as Dagster's freshness daemon reports it
            key=dg.AssetKey(list(PRODUCT)), new_state=state, previous_state=FreshnessState.UNKNOWN,
            state_change_timestamp=time.time()))
    return home, instance


CHECKS = [(PRODUCT, "key_unique"), (PRODUCT, "price_plausible"), (PRODUCT, "never_ran"), (OTHER, "key_unique")]


def test_check_results_are_dagsters(instance_home):
    home, instance = instance_home
    local = LocalState(home).checks(CHECKS)
    assert local == DagsterState(instance).checks(CHECKS)
    assert set(local) == {(PRODUCT, "key_unique"), (PRODUCT, "price_plausible")}  # OTHER's went with the wipe
    assert local[(PRODUCT, "key_unique")].passed is True  # the first run's: the second one's only planned
    failing = local[(PRODUCT, "price_plausible")]
    assert failing == CheckRecord(False, "WARN", "3 rows cost over a million", 3, failing.evaluated_at)
    assert failing.evaluated_at >= local[(PRODUCT, "key_unique")].evaluated_at > 0


def test_materializations_and_freshness_are_dagsters(instance_home):
    home, instance = instance_home
    local, dagster = LocalState(home), DagsterState(instance)
    found, expected = local.materializations([PRODUCT, OTHER]), dagster.materializations([PRODUCT, OTHER])
    assert set(found) == set(expected) == {PRODUCT}  # OTHER was wiped
    assert found[PRODUCT].partition == expected[PRODUCT].partition == "2026-11-03"
    assert found[PRODUCT].timestamp == pytest.approx(expected[PRODUCT].timestamp, abs=1e-3)
    assert local.freshness([PRODUCT, OTHER]) == dagster.freshness([PRODUCT, OTHER]) == {PRODUCT: "FAIL"}


def test_an_instance_that_never_ran_has_nothing_and_is_not_created(tmp_path):
    state = LocalState(tmp_path / "home")
    assert state.checks(CHECKS) == {} and state.materializations([PRODUCT]) == {} and state.freshness([PRODUCT]) == {}
    assert not (tmp_path / "home").exists()


def test_only_dagsters_default_storage_is_read_directly(tmp_path):
    assert is_local(tmp_path)  # no dagster.yaml yet: the project's local one is copied there on first use
    config = tmp_path / "dagster.yaml"
    config.write_text((ROOT / "deploy" / "local" / "dagster.yaml").read_text())
    assert is_local(tmp_path)
    config.write_text((ROOT / "deploy" / "dagster.yaml").read_text())  # production: PostgreSQL
    assert not is_local(tmp_path)
    config.write_text("instance_class:\n  module: somewhere.else\n  class: CloudInstance\n")
    assert not is_local(tmp_path)
