"""Discovery: search products by name, description, column and tag; show one product in full.

The catalog is built from the contracts and the products' pandera models, so it works without
a running Dagster and never imports it: a model is imported without its product's function (which
may import Dagster), and only when columns are asked for (a search by text, ``--json``, ``show``);
its columns are then kept between runs (``mesh.governance.outline``) until its code changes.
``show`` adds what the platform knows at run time when it can reach it: the SLO status from storage
and the instance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mesh.contracts.names import Address
from mesh.contracts.registry import Mesh, Product
from mesh.errors import MeshError


@dataclass
class Entry:
    address: str
    kind: str
    access: str
    owner: str
    version: str
    description: str
    tags: list[str]
    columns: list[dict] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def entry(product: Product, mesh: Mesh, columns: bool = True) -> Entry:
    """A product's catalog entry; its columns (from its model's outline, ``mesh.governance.outline``) only when
    asked for."""
    from mesh.governance.outline import outline

    described = []
    try:
        shape = outline(product, mesh) if columns else None
        described = [{"name": c.name, "type": c.type, "nullable": c.nullable, "description": c.description,
                      "pii": product.contract.pii[c.name].value if c.name in product.contract.pii else None}
                     for c in (shape.columns if shape else [])]
    except MeshError:
        pass
    contract = product.contract
    tags = sorted({*contract.tags, *product.domain.tags})
    return Entry(str(product.address), contract.kind.value, contract.access.value, product.owner, contract.version,
                 " ".join(contract.description.split()), tags, described)


def search(mesh: Mesh, text: str | None = None, domain: str | None = None, owner: str | None = None,
           columns: bool = True) -> list[Entry]:
    """Products matching ``text`` (in name, description, column or tag); without ``columns`` and
    ``text``, entries skip the models and list from the contracts alone."""
    needle = (text or "").strip().lower()
    found = []
    for product in sorted(mesh.products.values(), key=lambda p: p.address):
        if (domain and product.domain.name != domain) or (owner and product.owner != owner):
            continue
        item = entry(product, mesh, columns=columns or bool(needle))
        if needle:
            item.matched = _matches(item, needle)
            if not item.matched:
                continue
        found.append(item)
    return found


def _matches(item: Entry, needle: str) -> list[str]:
    matched = []
    if needle in item.address.lower():
        matched.append("name")
    if needle in item.description.lower():
        matched.append("description")
    matched += [f"column {c['name']}" for c in item.columns
                if needle in c["name"].lower() or needle in (c["description"] or "").lower()]
    matched += [f"tag {t}" for t in item.tags if needle in t.lower()]
    return matched


def lineage(mesh: Mesh, address: Address, upstream: bool) -> list[tuple[int, str]]:
    """(depth, address) of every product upstream or downstream, across domains."""
    seen: set[Address] = set()
    out: list[tuple[int, str]] = []

    def walk(current: Address, depth: int) -> None:
        product = mesh.products[current]
        nexts = ([i.address for i in product.contract.inputs.values()] if upstream
                 else [p.address for p in mesh.downstream.get(current, [])])
        for target in sorted(nexts):
            out.append((depth, str(target) + ("" if target in mesh.products else " (not loaded)")))
            if target in mesh.products and target not in seen:
                seen.add(target)
                walk(target, depth + 1)

    walk(address, 1)
    return out


def show(mesh: Mesh, address_text: str, status: dict | None = None) -> dict:
    address = Address.parse(address_text)
    product = mesh.product(address)
    item = entry(product, mesh)
    readers = sorted(str(p.address) for p in mesh.downstream.get(product.address, []))
    text = (mesh.root / product.file).read_text()
    return {
        **item.as_dict(),
        "contract_file": product.file,
        "contract": text,
        "domain_owner": product.domain.owner,
        "registered_consumers": product.contract.consumers,
        "reading_products": readers,
        "upstream": [{"depth": d, "product": a} for d, a in lineage(mesh, product.address, upstream=True)],
        "downstream": [{"depth": d, "product": a} for d, a in lineage(mesh, product.address, upstream=False)],
        "slo": written_slo(product, text),
        "status": status,
    }


def written_slo(product: Product, text: str) -> dict:
    """The SLOs in the contract's own words (``max_age: 30h``, not seconds), and the error rate the
    mesh applies when the contract leaves it out."""
    from mesh.contracts.contract import Slo
    from mesh.contracts.yamlio import parse_yaml

    written = dict((parse_yaml(text, product.file) or {}).get("slo") or {})
    if "error_rate" not in written:
        written["error_rate"] = {"max": Slo().error_rate.max, "default": True}
    return written


def render_slo(slo: dict) -> str:
    parts = []
    for name, value in slo.items():
        if isinstance(value, dict):
            terms = ", ".join(f"{k} {v}" for k, v in value.items() if k != "default")
            parts.append(f"{name} {terms}{' (default)' if value.get('default') else ''}")
        else:
            parts.append(f"{name} {str(value).lower() if isinstance(value, bool) else value}")
    return "; ".join(parts)


def render_status(status: dict) -> list[str]:
    """The product's state from the instance and the lake, in words: when it was last published (or
    that it never was), the checks that fail by name, breached SLOs and quarantined rows."""
    if "checks" not in status:  # the instance could not be read: say why
        return [f"status: {status.get('status')}"]
    freshness = f" (freshness {status['freshness'].lower()})" if status.get("freshness") else ""
    published = status.get("last_materialized_at")
    partition = f", partition {status['last_partition']}" if status.get("last_partition") else ""
    out = [f"status: {status['status']}{freshness}",
           f"last published: {published}{partition}" if published else "last published: never published"]
    failing = [c for c in status["checks"] if c["passed"] is False]
    for check in failing:
        rows = f", {check['rows_failing']} row(s)" if check.get("rows_failing") else ""
        detail = f": {check['description']}" if check.get("description") else ""
        out.append(f"failing check: {check['name']} ({check['severity']}{rows}){detail}")
    if not failing:
        ran = any(c["passed"] is not None for c in status["checks"])
        out.append("failing checks: none" if ran else "checks: never evaluated")
    out.append(f"breached SLOs: {', '.join(status.get('breached_slos') or []) or 'none'}")
    out.append(f"quarantined rows: {status.get('quarantined_rows', 0)}")
    return out


def render_search(entries: list[Entry]) -> str:
    if not entries:
        return "no products match"
    lines = []
    for e in entries:
        why = f"  (matched: {', '.join(e.matched)})" if e.matched else ""
        lines.append(f"{e.address:40} {e.kind:16} {e.access:8} {e.owner:18} v{e.version}{why}")
        lines.append(f"    {e.description[:150]}")
    return "\n".join(lines)


def render_show(info: dict) -> str:
    out = [f"{info['address']}  v{info['version']}  {info['kind']}, {info['access']}",
           f"owner: {info['owner']} (domain owner {info['domain_owner']})", "", info["description"], "",
           "schema:"]
    for c in info["columns"]:
        pii = f" [PII: {c['pii']}]" if c["pii"] else ""
        null = "" if c["nullable"] else " not null"
        out.append(f"  {c['name']:28} {c['type']:10}{null}{pii}  {c['description']}")
    consumers = info["registered_consumers"]
    out += ["", f"registered consumers: {', '.join(consumers) if consumers is not None else 'any (no list)'}",
            f"read by: {', '.join(info['reading_products']) or 'nothing yet'}", "", "upstream:"]
    out += [f"  {'  ' * (u['depth'] - 1)}{u['product']}" for u in info["upstream"]] or ["  (none)"]
    out += ["downstream:"]
    out += [f"  {'  ' * (d['depth'] - 1)}{d['product']}" for d in info["downstream"]] or ["  (none)"]
    out += ["", f"SLOs: {render_slo(info['slo'])}"]
    if info["status"]:
        out += render_status(info["status"])
    snapshots = info.get("snapshots")
    if isinstance(snapshots, list):
        out += ["", "recent lake snapshots (read one with --as-of <snapshot>):"]
        out += [f"  {s['snapshot']:>6}  {s['at']}  run {s['run_id'] or '-'}  {s['what'] or ''}" for s in snapshots]
        out += [] if snapshots else ["  (never published)"]
    elif snapshots:
        out += ["", f"lake snapshots: {snapshots}"]
    out += ["", f"contract ({info['contract_file']}):", info["contract"]]
    return "\n".join(out)
