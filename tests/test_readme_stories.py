"""Every example query in the README's user-stories section runs and answers, on a materialized mesh."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, MeshEnv

pytestmark = pytest.mark.slow

FIRST, LAST = "2023-01-01", "2023-03-31"  # long enough for churn labels, stockouts and anomaly bands


def story_queries() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The user stories, answered", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def test_the_readme_has_a_query_per_story():
    queries = story_queries()
    for domain in ("marketing", "product_usage", "supply_chain", "consulting"):
        assert any(f"{domain}." in q for q in queries), domain


@pytest.fixture(scope="module")
def mesh_env(tmp_path_factory, erp_root):
    env = MeshEnv(tmp_path_factory.mktemp("stories") / "products", erp_root)
    domains = ["customer", "sales", "supply_chain", "product_usage", "marketing", "consulting"]
    assert env.materialize(FIRST, LAST, domains=domains).success
    return env


@pytest.mark.parametrize("query", story_queries(), ids=lambda q: q.splitlines()[0].removeprefix("-- "))
def test_story_query_answers(mesh_env, query):
    assert mesh_env.port().sql(query).num_rows > 0
