"""Federated computational governance: global policies as code, checked by ``mesh lint``.

Every policy is a function of a product (with its contract, domain, resolved schema and the whole
mesh) returning problems; ``lint`` runs the global policies, then each domain's own policies from
``domains/<domain>/policies.py`` (functions named ``policy_<name>``, same signature). Problems that
stop the mesh from loading (access, consumers, cycles, bad names) are reported here too. The same
access and consumer rules are enforced again when definitions load and when ports read.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from mesh.contracts.contract import Access
from mesh.contracts.names import NAME_PATTERN
from mesh.contracts.registry import Mesh, Product, find_cycles, load_mesh
from mesh.errors import ContractError, MeshError
from mesh.governance.scaffold import SCAFFOLD_MARK
from mesh.governance.versions import changes, load_record, recorded_majors, schema_record, write_record
from mesh.quality import business_day, relations
from mesh.quality.code import ProductCode, resolve

PERSONAL = re.compile(r"(^|_)(name|email|e_mail|phone|address|resume|birth_date|ssn|iban)($|_)")


@dataclass(frozen=True)
class Finding:
    severity: str  # error or warning
    policy: str
    subject: str  # product address, domain or file
    message: str

    def __str__(self) -> str:
        return f"{self.severity.upper():7} [{self.policy}] {self.subject}: {self.message}"


Policy = Callable[[Product, Mesh, ProductCode | None], list[str]]


def policy_described(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    problems = []
    if product.contract.description.startswith(SCAFFOLD_MARK):
        problems.append("the description is still the scaffold's: say what the product is")
    elif len(product.contract.description.split()) < 5:
        problems.append("the description must say what the product is in at least five words")
    if code is not None:
        problems += [f"column {c.name} has no description ({code.model.__module__})"
                     for c in code.schema.columns if not c.description.strip()]
    return problems


def policy_slo_present(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    if product.contract.access is Access.public and product.contract.slo.freshness is None:
        return ["a public product must declare a freshness SLO (slo.freshness)"]
    return []


def policy_column_names(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    pattern = re.compile(NAME_PATTERN)
    return [f"column {c.name!r} does not match {NAME_PATTERN}"
            for c in (code.schema.columns if code else []) if not pattern.match(c.name)]


def policy_pii_classified(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    """Columns that look personal must be classified; reported as warnings (names can mislead)."""
    if code is None:
        return []
    return [f"warning: column {c.name} looks like personal data but is not classified in 'pii'"
            for c in code.schema.columns if PERSONAL.search(c.name) and c.name not in product.contract.pii]


def policy_consumers_match_lineage(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    problems = []
    readers = {str(p.address) for p in mesh.downstream.get(product.address, [])}
    for consumer in product.contract.consumers or []:
        if consumer.split(".")[0] in mesh.failed:
            continue
        if consumer not in {str(a) for a in mesh.products}:
            problems.append(f"registered consumer {consumer} is no product")
        elif consumer not in readers:
            problems.append(f"registered consumer {consumer} does not read this product")
    return problems


def policy_versions(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    if code is None:
        return []
    contract = product.contract
    current = schema_record(product, code.schema)
    recorded = load_record(mesh.root, product)
    problems = []
    if recorded is None:
        earlier = [m for m in recorded_majors(mesh.root, product) if m < contract.major]
        problems.append(f"warning: no schema recorded for v{contract.major} yet; `mesh lint --record` records it"
                        + (f" (previous major v{earlier[-1]} is recorded)" if earlier else ""))
    else:
        breaking = [c for c in changes(recorded, current) if c.breaking]
        if breaking:
            problems.append(f"breaking schema change without a major version bump (version {contract.version}): "
                            + "; ".join(str(c) for c in breaking))
    for major in recorded_majors(mesh.root, product):
        if major < contract.major and not any(d.major == major for d in contract.deprecations):
            problems.append(f"v{major} is still recorded: add a deprecation (major {major}, readable_until) "
                            f"so consumers know until when they may read it")
    for deprecation in contract.deprecations:
        if deprecation.readable_until < date.today():
            problems.append(f"warning: v{deprecation.major} stopped being readable on {deprecation.readable_until}; "
                            f"its data and record can be deleted")
    return problems


def policy_retention_within_inputs(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    """A product recomputed partition by partition from an input cannot keep more history than that
    input: its older partitions could not be backfilled or repaired."""
    from mesh.contracts.contract import Window

    problems = []
    kept = product.contract.retention.days if product.contract.retention else None
    for name, spec in product.contract.inputs.items():
        upstream = mesh.products.get(spec.address)
        if upstream is None or upstream.contract.retention is None:
            continue
        window = product.window_of(name, upstream)
        if window not in (Window.partition, Window.trailing):
            continue
        allowed = upstream.contract.retention.days - ((spec.days or 0) if window is Window.trailing else 0)
        if kept is None or kept > allowed:
            problems.append(f"keeps {f'{kept} days' if kept else 'every partition'} but input {name} "
                            f"({spec.address}, window {window.value}) keeps {upstream.contract.retention.days} days: "
                            f"older partitions could not be recomputed; set retention.days to at most {allowed}")
    return problems


def policy_rules_bind(product: Product, mesh: Mesh, code: ProductCode | None) -> list[str]:
    """What definitions refuse when they load, refused here first: relations and ``planned`` dates naming
    columns the model or the input lacks or cannot judge (``mesh.quality.relations``, ``.business_day``)."""
    if code is None:
        return []
    problems = []
    for check in (lambda: relations.check(mesh, product, code.schema),
                  lambda: business_day.check(product, code.schema)):
        try:
            check()
        except ContractError as err:
            problems.append(str(err))
    return problems


GLOBAL_POLICIES: dict[str, Policy] = {
    "rules_bind": policy_rules_bind,
    "retention_within_inputs": policy_retention_within_inputs,
    "described": policy_described,
    "slo_present": policy_slo_present,
    "column_names": policy_column_names,
    "pii_classified": policy_pii_classified,
    "consumers_match_lineage": policy_consumers_match_lineage,
    "versions": policy_versions,
}


def domain_policies(mesh: Mesh, domain: str) -> dict[str, Policy]:
    """``policy_*`` functions of ``domains/<domain>/policies.py``, if the domain has one."""
    path = mesh.root / "domains" / domain / "policies.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"mesh_domain_policies_{domain}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return {name.removeprefix("policy_"): fn for name, fn in vars(module).items()
            if name.startswith("policy_") and callable(fn)}


def domain_cycles(mesh: Mesh) -> list[list[str]]:
    edges: dict[str, set[str]] = {d: set() for d in mesh.domains}
    for product in mesh.products.values():
        for spec in product.contract.inputs.values():
            if spec.address.domain != product.domain.name:
                edges[product.domain.name].add(spec.address.domain)
    return find_cycles(edges, lambda domain: edges.get(domain, ()))


def _findings(policy: str, subject: str, problems: list[str]) -> list[Finding]:
    return [Finding("warning" if p.startswith("warning: ") else "error", policy, subject, p.removeprefix("warning: "))
            for p in problems]


def lint(root: Path | None = None, record: bool = False) -> list[Finding]:
    """Run every policy over the mesh; with ``record``, record compatible schemas first."""
    try:
        mesh = load_mesh(root)
    except MeshError as err:
        return [Finding("error", "loads", "mesh", str(err))]
    found = [Finding("error", "loads", f"domain {d}", str(e)) for d, e in sorted(mesh.failed.items())]
    found += [Finding("error", "no_domain_cycles", " -> ".join(c), "domains depend on each other in a cycle")
              for c in domain_cycles(mesh)]
    for domain in sorted(mesh.domains):
        policies = {**GLOBAL_POLICIES, **domain_policies(mesh, domain)}
        for product in mesh.in_domain(domain):
            subject = str(product.address)
            try:
                code = resolve(product, mesh.root)
            except MeshError as err:
                found.append(Finding("error", "code", subject, str(err)))
                code = None
            if record and code is not None and not [p for p in policy_versions(product, mesh, code)
                                                     if not p.startswith("warning: ")]:
                write_record(mesh.root, product, code.schema)
            for name, policy in policies.items():
                found += _findings(name, subject, policy(product, mesh, code))
    return sorted(found, key=lambda f: (f.severity != "error", f.subject, f.policy))


def as_json(findings: list[Finding]) -> list[dict]:
    return [asdict(f) for f in findings]
