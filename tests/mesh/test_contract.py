"""Contract and domain files: every malformed input fails with the file, the field and what was expected."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from mesh.contracts.registry import load_mesh
from mesh.errors import ContractError, MeshError
from mesh.quality.code import resolve

DOMAIN = """\
name: {name}
description: A test domain.
owner: team:{name}
snapshots:
  cadence: daily
  start: "2026-01-01"
"""

CONTRACT = """\
name: {name}
description: A test product.
kind: consumer-aligned
inputs:
  lines: sales.order_lines
partitioning:
  column: order_date
"""


def make_project(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project with the real domains plus the given extra files."""
    project = tmp_path / "project"
    shutil.copytree(Path(__file__).resolve().parents[2] / "domains", project / "domains")
    for relative, text in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return project


def failure(tmp_path: Path, files: dict[str, str], domain: str = "demo") -> str:
    mesh = load_mesh(make_project(tmp_path, files))
    assert domain in mesh.failed, f"{domain} loaded although it should not: {mesh.domains}"
    assert "sales" in mesh.domains, "the broken domain stopped the others from loading"
    return str(mesh.failed[domain])


def test_real_project_loads_without_failures():
    mesh = load_mesh(strict=True)
    assert {"customer", "sales"} <= set(mesh.domains)
    assert mesh.product("sales.orders").owner == "team:sales"


def test_unknown_field_names_file_and_field(tmp_path):
    message = failure(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="thing") + "colour: blue\n",
    })
    assert "domains/demo/thing.yaml: colour: unknown field" in message


def test_wrong_type_says_what_was_expected(tmp_path):
    message = failure(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="thing") + "slo:\n  error_rate:\n    max: lots\n",
    })
    assert "domains/demo/thing.yaml: slo.error_rate.max:" in message
    assert "number" in message and "'lots'" in message


@pytest.mark.parametrize("bad", ["Thing", "2things", "a-b", "x__y"])
def test_bad_product_name(tmp_path, bad):
    message = failure(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name=bad),
    })
    assert "domains/demo/thing.yaml: name:" in message
    assert "expected a name" in message


def test_name_that_escapes_its_folder_is_refused(tmp_path):
    message = failure(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="../x"),
    })
    assert "name:" in message and "'../x'" in message


def test_contract_name_must_match_its_file(tmp_path):
    message = failure(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="other"),
    })
    assert "expected 'thing' (the file's name), found 'other'" in message


def test_domain_claiming_another_folder(tmp_path):
    message = failure(tmp_path, {"domains/demo/domain.yaml": DOMAIN.format(name="sales")})
    assert "domains/demo/domain.yaml: name: expected 'demo' (the folder's name), found 'sales'" in message


def test_input_that_names_no_product(tmp_path):
    message = failure(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="thing").replace("sales.order_lines", "sales.nothing"),
    })
    assert "domains/demo/thing.yaml: inputs.lines: expected an existing product, found 'sales.nothing'" in message


def test_input_address_with_dots_or_quotes(tmp_path):
    message = failure(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="thing").replace("sales.order_lines", "'sales.x;drop'"),
    })
    assert "inputs.lines.product" in message and "invalid product" in message


@pytest.mark.parametrize("text, expected", [
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("a: &x [1, 2]\nb: *x\n", "anchors and aliases are not allowed"),
    ("name: [unclosed\n", "invalid YAML"),
    ("", "expected a mapping of fields, found an empty file"),
])
def test_hostile_or_broken_yaml(tmp_path, text, expected):
    message = failure(tmp_path, {"domains/demo/domain.yaml": DOMAIN.format(name="demo"),
                                 "domains/demo/thing.yaml": text})
    assert "domains/demo/thing.yaml" in message and expected in message


def test_bad_cadence_fields(tmp_path):
    domain = DOMAIN.format(name="demo").replace("cadence: daily", "cadence: fortnightly") + (
        "  timezone: Mars/Olympus\n  at: '25:00'\n  cron: 'every day'\n")
    message = failure(tmp_path, {"domains/demo/domain.yaml": domain})
    for field in ("snapshots.cadence", "snapshots.timezone", "snapshots.at", "snapshots.cron"):
        assert f"domains/demo/domain.yaml: {field}:" in message


def test_hourly_snapshots_refuse_a_timezone_with_daylight_saving(tmp_path):
    domain = DOMAIN.format(name="demo").replace("cadence: daily", "cadence: hourly\n  timezone: Europe/Berlin")
    message = failure(tmp_path, {"domains/demo/domain.yaml": domain})
    assert ("domains/demo/domain.yaml: snapshots: hourly snapshots need a timezone without daylight saving time"
            in message and "'Europe/Berlin'" in message)
    fixed = DOMAIN.format(name="demo").replace("cadence: daily", "cadence: hourly\n  timezone: Etc/GMT-1")
    project = make_project(tmp_path / "fixed", {"domains/demo/domain.yaml": fixed})
    assert "demo" in load_mesh(project, strict=True).domains


def test_freshness_must_be_one_kind(tmp_path):
    contract = CONTRACT.format(name="thing") + "slo:\n  freshness:\n    max_age: 2h\n    deadline: '06:00'\n"
    message = failure(tmp_path, {"domains/demo/domain.yaml": DOMAIN.format(name="demo"),
                                 "domains/demo/thing.yaml": contract})
    assert "slo.freshness: declare exactly one of 'max_age' or 'deadline'" in message


def test_missing_function_and_schema(tmp_path):
    project = make_project(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="thing"),
    })
    mesh = load_mesh(project, strict=True)
    with pytest.raises(ContractError) as err:
        resolve(mesh.product("demo.thing"), project)
    assert "domains/demo/thing.yaml: function: expected assets/demo/thing.py to exist" in str(err.value)


def test_missing_schema_after_function(tmp_path):
    project = make_project(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="thing") + "function: assets.sales.orders:orders\n"
                                                                     "schema: checks.sales.orders:Nope\n",
    })
    mesh = load_mesh(project, strict=True)
    with pytest.raises(ContractError) as err:
        resolve(mesh.product("demo.thing"), project)
    assert "schema: expected 'Nope' in checks/sales/orders.py" in str(err.value)


def test_function_parameters_must_match_inputs(tmp_path):
    project = make_project(tmp_path, {
        "domains/demo/domain.yaml": DOMAIN.format(name="demo"),
        "domains/demo/thing.yaml": CONTRACT.format(name="thing") + "function: assets.sales.orders:orders\n"
                                                                     "schema: checks.sales.orders:Orders\n",
    })
    mesh = load_mesh(project, strict=True)
    with pytest.raises(ContractError) as err:
        resolve(mesh.product("demo.thing"), project)
    assert "parameter 'orders' of orders names no input or source" in str(err.value)


def test_cycle_between_products_is_refused(tmp_path):
    files = {"domains/demo/domain.yaml": DOMAIN.format(name="demo")}
    for a, b in (("one", "two"), ("two", "one")):
        files[f"domains/demo/{a}.yaml"] = CONTRACT.format(name=a).replace("sales.order_lines", f"demo.{b}")
    message = failure(tmp_path, files)  # the cycle stops its domain only, naming the files
    assert "products form a cycle: demo.one (domains/demo/one.yaml) -> demo.two (domains/demo/two.yaml)" in message


def break_file(project: Path, relative: str) -> None:
    path = project / relative
    path.write_text(path.read_text().replace("description:", "descripton:", 1))  # one typo


def test_a_broken_contract_stops_only_its_own_domain(tmp_path):
    project = make_project(tmp_path, {})
    break_file(project, "domains/sales/pricing_summary.yaml")
    mesh = load_mesh(project)
    assert set(mesh.failed) == {"sales"}
    why = str(mesh.failed["sales"])
    assert "domains/sales/pricing_summary.yaml" in why and "descripton" in why
    assert "sales.orders" in {str(a) for a in mesh.products}  # still readable, still an input
    assert not mesh.blocked  # nobody reads the pricing summary
    from mesh.orchestration.definitions import build_domain

    for domain in ("supply_chain", "marketing"):
        keys = build_domain(domain, mesh).resolve_all_asset_keys()
        assert any(k.path[0] == domain for k in keys)
    with pytest.raises(MeshError, match=r"domain 'sales' did not load:\n.*pricing_summary.yaml"):
        build_domain("sales", mesh)


def test_readers_of_a_broken_product_load_and_fail_naming_it(tmp_path):
    import dagster as dg

    project = make_project(tmp_path, {})
    break_file(project, "domains/sales/orders.yaml")
    mesh = load_mesh(project)
    assert set(mesh.failed) == {"sales"}
    blocked = {str(a): why for a, why in mesh.blocked.items()}
    assert {"marketing.churn_scores", "supply_chain.supplier_performance", "sales.customer_revenue"} <= set(blocked)
    assert "marketing.customer_segments" in blocked  # it reads churn_scores: blocked in turn
    assert all("sales.orders" in why or "blocked" in why for why in blocked.values())
    assert "supply_chain.inventory_levels" in blocked  # reads order lines, whose order_exists rule reads orders
    assert not {"supply_chain.parts", "supply_chain.suppliers", "customer.customers"} & set(blocked)  # no path
    from mesh.orchestration.definitions import build_domain

    definitions = build_domain("marketing", mesh)
    key = dg.AssetKey(["marketing", "churn_scores"])
    assert "sales.orders" in definitions.resolve_assets_def(key).specs_by_key[key].description
    job = dg.Definitions.merge(definitions, dg.Definitions(jobs=[dg.define_asset_job(
        "t", selection=dg.AssetSelection.assets(key))])).resolve_job_def("t")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure_text = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "marketing.churn_scores cannot run" in failure_text and "sales.orders" in failure_text


def test_freshness_window_shorter_than_the_cadence(tmp_path):
    contract = CONTRACT.format(name="thing") + "slo:\n  freshness:\n    max_age: 20h\n"
    message = failure(tmp_path, {"domains/demo/domain.yaml": DOMAIN.format(name="demo"),
                                 "domains/demo/thing.yaml": contract})
    assert "domains/demo/thing.yaml: slo.freshness.max_age: 20h is not longer than the domain's daily cadence" \
        in message


def test_deadline_outside_the_day(tmp_path):
    contract = CONTRACT.format(name="thing") + "slo:\n  freshness:\n    deadline: '24:30'\n"
    message = failure(tmp_path, {"domains/demo/domain.yaml": DOMAIN.format(name="demo"),
                                 "domains/demo/thing.yaml": contract})
    assert "slo.freshness.deadline: expected a time of day between 00:00 and 23:59" in message


@pytest.mark.parametrize("snapshots, cron", [
    ("cadence: daily\n  at: '06:30'", "30 6 * * *"),
    ("cadence: hourly\n  at: '00:15'", "15 * * * *"),
    ("cadence: weekly\n  day: sunday\n  at: '02:00'", "0 2 * * 0"),
    ("cadence: daily\n  cron: '0 */6 * * *'", "0 */6 * * *"),
])
def test_cadence_to_schedule(tmp_path, snapshots, cron):
    domain = DOMAIN.format(name="demo").replace("cadence: daily", snapshots)
    mesh = load_mesh(make_project(tmp_path, {"domains/demo/domain.yaml": domain}), strict=True)
    assert mesh.domains["demo"].snapshots.cron_schedule == cron
