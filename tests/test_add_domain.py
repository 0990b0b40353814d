"""The README's "Add a product" and "Add a domain", followed as written on a copy of the project.

The commands are the ones in each section's bash block, so the README and this test cannot drift.
Each block holds only `.venv/bin/mesh` commands; they run in the copy, as a user runs them in the
checkout, with one change: `mesh materialize` publishes the newest 3 partitions instead of the window
the README names (the domain's whole history), so the test stays short. Before them, the copy holds
what `make up` leaves (the inputs' domains published; whole history only where a product reads it)
and serves the UI with `dagster dev`: `make serve`'s `dg dev -w workspace.yaml` runs the same code
(dagster_dg_cli's dev calls dagster's dev_command_impl), one code server per location read once at start.

What the README says about the UI is checked too: a new product shows after "Reload all" (the
`reloadWorkspace` mutation the button sends), a new domain only after the server restarts. The
copy's workspace.yaml keeps the locations of the domains involved (the inputs' and the new
product's), so the UI starts, reloads and restarts a few code servers instead of every domain's.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.servers import Dagster, dagster, write_workspace

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
WINDOW = ["--days", "3"]  # instead of the README's whole history
NOT_COPIED = shutil.ignore_patterns(".venv", ".mesh", ".git", "test-artifacts", ".work", ".hypothesis",
                                    "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache")
ASSETS = """query($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
    assetKey { path } repository { location { name } } assetMaterializations(limit: 100) { partition } } }"""


def readme_commands(section: str, readme: Path) -> list[list[str]]:
    """The commands of the one bash block under ``### <section>``, as argument lists."""
    found = re.search(rf"^### {re.escape(section)}\n(.*?)(?=^##)", readme.read_text() + "\n##", re.S | re.M)
    assert found, f"{readme} has no section '### {section}'"
    blocks = re.findall(r"^```bash\n(.*?)^```", found.group(1), re.S | re.M)
    assert len(blocks) == 1, f"'### {section}' should hold one bash block, found {len(blocks)}"
    commands = [shlex.split(line, comments=True) for line in blocks[0].replace("\\\n", " ").splitlines()]
    commands = [c for c in commands if c]
    assert commands and all(c[0] == ".venv/bin/mesh" for c in commands), commands
    return commands


def argument(commands: list[list[str]], *verb: str) -> list[str]:
    """The positional arguments of the one ``mesh <verb>``: ``new product`` gives [domain, product]."""
    chosen = [c for c in commands if c[1:1 + len(verb)] == list(verb)]
    assert len(chosen) == 1, f"expected one `mesh {' '.join(verb)}` in {commands}"
    rest = chosen[0][1 + len(verb):]
    return rest[:next((i for i, a in enumerate(rest) if a.startswith("-")), len(rest))]


def inputs(commands: list[list[str]]) -> list[str]:
    return [c[i + 1] for c in commands for i, a in enumerate(c) if a == "--input"]


def short_window(args: list[str]) -> list[str]:
    """``mesh materialize`` without the README's window options, on the newest 3 partitions."""
    kept, skip = [], False
    for arg in args:
        if not skip and arg.split("=")[0] not in ("--days", "--start", "--end"):
            kept.append(arg)
        skip = not skip and arg in ("--days", "--start", "--end")  # the option's value follows
    return [*kept, *WINDOW]


def mesh(project: Path, env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess:
    if args[0] == "materialize":
        args = short_window(args)
    done = subprocess.run([str(BIN / "mesh"), *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"mesh {shlex.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def follow(project: Path, env: dict[str, str], commands: list[list[str]]) -> None:
    for command in commands:
        mesh(project, env, command[1:])


def copy_project(tmp_path: Path, erp_root: Path) -> tuple[Path, dict[str, str]]:
    """The checkout without what it generates, with the environment the Makefile exports."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=NOT_COPIED, symlinks=True)
    home = project / ".mesh" / "dagster"
    home.mkdir(parents=True)
    shutil.copy(project / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "MESH_PROJECT_DIR": str(project), "PYTHONPATH": str(project), "DAGSTER_HOME": str(home),
           "MESH_WORK_DIR": str(project / ".mesh"), "MESH_STORAGE_URI": str(project / ".mesh" / "products"),
           "MESH_OPERATIONAL_ROOT": str(erp_root)}
    return project, env


def upstream_domains(project: Path, addresses: list[str]) -> list[str]:
    """The domains of these products and of everything they read, transitively."""
    from mesh.contracts.registry import load_mesh

    mesh_ = load_mesh(project)
    seen: set[str] = set()
    todo = [mesh_.product(a) for a in addresses]
    while todo:
        product = todo.pop()
        if product.domain.name not in seen:
            seen.add(product.domain.name)
            todo += [p for p in mesh_.products.values() if p.domain.name == product.domain.name]
        todo += [mesh_.products[s.address] for s in product.contract.inputs.values()
                 if s.address.domain not in seen]
    return sorted(seen)


def materialized_asset(server: Dagster, domain: str, product: str) -> dict | None:
    nodes = server.graphql(ASSETS, {"keys": [{"path": [domain, product]}]})["assetNodes"]
    return nodes[0] if nodes else None


def locations_in(project: Path) -> int:
    return len(yaml.safe_load((project / "workspace.yaml").read_text())["load_from"])


def test_readme_adds_a_product_and_a_domain(tmp_path, erp_root):
    project, env = copy_project(tmp_path, erp_root)
    readme = project / "README.md"
    add_product, add_domain = readme_commands("Add a product", readme), readme_commands("Add a domain", readme)
    product_domain, product = argument(add_product, "new", "product")
    new_domain = argument(add_domain, "new", "domain")[0]
    domain_of_product, domain_product = argument(add_domain, "new", "product")
    assert domain_of_product == new_domain and product_domain != new_domain  # a product of an existing domain
    # what `make up` left: the inputs' domains published, with the whole history of what is read over history
    upstream = upstream_domains(project, inputs(add_product) + inputs(add_domain))
    mesh(project, env, ["materialize", "--bootstrap", *(a for d in upstream for a in ("--domain", d))])
    write_workspace(project, project, sorted({*upstream, product_domain}))

    with dagster(project, env, command="dev", expect_locations=locations_in(project)) as server:
        follow(project, env, add_product)
        assert materialized_asset(server, product_domain, product) is None  # not before a reload
        server.graphql("mutation { reloadWorkspace { __typename } }")  # the UI's "Reload all"
        node = materialized_asset(server, product_domain, product)
        assert node and node["repository"]["location"]["name"] == product_domain
        assert len({m["partition"] for m in node["assetMaterializations"]}) == 3

        follow(project, env, add_domain)
        server.graphql("mutation { reloadWorkspace { __typename } }")
        assert new_domain not in server.locations()  # "Reload all" adds no code location: restart

    assert_make_test_accepts(project, env, new_domain)
    with dagster(project, env, command="dev", expect_locations=locations_in(project)) as server:
        assert server.locations()[new_domain] == "RepositoryLocation"
        node = materialized_asset(server, new_domain, domain_product)
        assert node and node["repository"]["location"]["name"] == new_domain
        assert len({m["partition"] for m in node["assetMaterializations"]}) == 3
        assert set(server.locations().values()) == {"RepositoryLocation"}  # and the others still load


def assert_make_test_accepts(project: Path, env: dict[str, str], domain: str) -> None:
    """`make test` runs ruff over every file and the whole suite: the new domain's files pass both."""
    files = [str(p) for folder in ("assets", "checks", "tests") for p in (project / folder / domain).glob("*.py")]
    ruff = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", *files], cwd=project, env=env,
                          capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout
    tests = subprocess.run([str(BIN / "pytest"), f"tests/{domain}", "-q", "-p", "no:cacheprovider"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
    assert tests.returncode == 0 and " passed" in tests.stdout, tests.stdout[-3000:]
