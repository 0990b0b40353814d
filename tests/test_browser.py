"""The Dagster UI in a real browser, as a data owner uses it: after a materialization of two domains,
headless Chromium (Debian's package, driven by Playwright) opens the global asset lineage, a
product's page and its checks tab. Screenshots go to ``test-artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.servers import dagster

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOMAINS = ["customer", "sales"]
# The ERP's first days: every customer who orders then is registered by then.
FIRST, LAST = "2023-01-01", "2023-01-02"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-default-apps", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory, erp_root):
    """A materialized mesh of two domains, served by the real webserver (one code location each)."""
    tmp = tmp_path_factory.mktemp("browser")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    env = {"MESH_PROJECT_DIR": str(ROOT), "DAGSTER_HOME": str(home), "MESH_STORAGE_URI": str(tmp / "products"),
           "MESH_OPERATIONAL_ROOT": str(erp_root), "MESH_ENV": "local"}
    done = subprocess.run([str(Path(sys.executable).parent / "mesh"), "materialize", "--start", FIRST, "--end", LAST,
                           *[arg for domain in DOMAINS for arg in ("--domain", domain)]],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout
    workspace = {"load_from": [{"python_module": {"module_name": "mesh.locations", "attribute": domain,
                                                  "location_name": domain, "working_directory": str(ROOT)}}
                               for domain in DOMAINS]}
    (tmp / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    with dagster(tmp, env, command="webserver", expect_locations=len(DOMAINS)) as server:
        assert set(server.locations().values()) == {"RepositoryLocation"}
        yield server


@pytest.fixture(scope="module")
def page(ui):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh (make test does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            # wide enough that the fitted lineage of two domains keeps its cards' details (check counts)
            page = browser.new_page(viewport={"width": 2400, "height": 1500})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def visible(page, text: str):
    """The first element showing exactly ``text`` (the UI also keeps hidden copies for measuring)."""
    return page.get_by_text(text, exact=True).filter(visible=True).first


def visit(page, ui, path: str, ready: str) -> None:
    page.goto(f"{ui.url}{path}", wait_until="load")
    visible(page, ready).wait_for()


EDGES_JS = """([source, target]) => {
  const card = (name) => {
    const title = [...document.querySelectorAll('foreignObject *')].find(e => e.childElementCount === 0
        && e.textContent.trim() === name && e.getBoundingClientRect().width > 0);
    let box = title;
    while (box && box.getBoundingClientRect().height < 80) box = box.parentElement;
    return box && box.getBoundingClientRect();
  };
  const inside = (point, r) => r && point.x >= r.left - 16 && point.x <= r.right + 16
      && point.y >= r.top - 16 && point.y <= r.bottom + 16;
  const [from, to] = [card(source), card(target)];
  return [...document.querySelectorAll('svg path[marker-end]')].filter(path => {
    const m = path.getScreenCTM(), length = path.getTotalLength();
    const [a, b] = [0, length].map(at => {
      const p = path.getPointAtLength(at);
      return new DOMPoint(p.x, p.y).matrixTransform(m);
    });
    return inside(a, from) && inside(b, to);
  }).length;
}"""


def edges_between(page, source: str, target: str) -> int:
    """Arrows drawn on the lineage graph from the card of ``source`` to the card of ``target``."""
    return page.evaluate(EDGES_JS, [source, target])


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_global_lineage_shows_every_product_across_domains(page, ui):
    # Each domain is an asset group, collapsed at first: open both, as clicking their titles does.
    expanded = ",".join(f"global@global:{domain}" for domain in DOMAINS)
    visit(page, ui, f"/asset-groups?expanded={expanded}", "customer_revenue")
    assert visible(page, "Global asset lineage").is_visible()
    for name in (*DOMAINS, "customers", "orders", "order_lines", "pricing_summary", "customer_revenue"):
        visible(page, name).wait_for()
    # each product's latest event and checks: the first page a cold webserver serves on 2 cores may take
    # longer than expect's 5 s default (seen once at load 1); that it finishes is what is checked
    expect(page.get_by_text("Loading...")).to_have_count(0, timeout=60_000)
    expect(page.get_by_text(re.compile(r"^\d+ / \d+ Passed$")).filter(visible=True)).to_have_count(5)
    # The cross-domain edge is drawn between its two endpoints, and in that direction only.
    page.wait_for_function(f"({EDGES_JS})(['customers', 'customer_revenue']) > 0")
    assert edges_between(page, "customer_revenue", "customers") == 0
    assert edges_between(page, "order_lines", "pricing_summary") == 1
    shot(page, "global-lineage")


def test_product_page_shows_its_cross_domain_upstream(page, ui):
    visit(page, ui, "/assets/sales/customer_revenue", "customer_revenue")
    page.get_by_text("Revenue, order count and first and last order date per registered customer").wait_for()
    visible(page, "revenue_usd").wait_for()  # the column schema, with descriptions
    visible(page, "Sum of order totals in US dollars").wait_for()
    shot(page, "customer_revenue-overview")
    # The lineage tab: both ends of the edge customer/customers -> sales/customer_revenue.
    visit(page, ui, "/assets/sales/customer_revenue?view=lineage", "customers")
    for text in ("customer_revenue", "customers", "orders", "customer", "sales"):
        visible(page, text).wait_for()
    shot(page, "customer_revenue-lineage")


def test_checks_tab_lists_named_checks_with_their_results(page, ui):
    visit(page, ui, "/assets/sales/customer_revenue?view=checks", "structure")
    for check in ("structure", "error_rate", "volume", "contract_conformance", "first_order_not_after_last"):
        visible(page, check).wait_for()
    visible(page, "first_order_not_after_last").click()  # a named business rule of the product
    visible(page, "rows_checked").wait_for()
    assert visible(page, "Passed").is_visible()
    assert "Failed" not in page.inner_text("body")
    shot(page, "customer_revenue-checks")
