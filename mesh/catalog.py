"""Discovery: search products by name, description, column and tag; show one product in full.

The catalog is built from the contracts and the products' schemas (``mesh.code``), so it works
without a running Dagster. ``show`` adds what the platform knows at run time when it can reach it:
the SLO status from storage and the instance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mesh.code import resolve
from mesh.errors import MeshError
from mesh.names import Address
from mesh.registry import Mesh, Product


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


def entry(product: Product, mesh: Mesh) -> Entry:
    try:
        schema = resolve(product, mesh.root).schema
        columns = [{"name": c.name, "type": c.type_name, "nullable": c.nullable, "description": c.description,
                    "pii": product.contract.pii[c.name].value if c.name in product.contract.pii else None}
                   for c in schema.columns]
    except MeshError:
        columns = []
    contract = product.contract
    tags = sorted({*contract.tags, *product.domain.tags})
    return Entry(str(product.address), contract.kind.value, contract.access.value, product.owner, contract.version,
                 " ".join(contract.description.split()), tags, columns)


def search(mesh: Mesh, text: str | None = None, domain: str | None = None, owner: str | None = None) -> list[Entry]:
    needle = (text or "").strip().lower()
    found = []
    for product in sorted(mesh.products.values(), key=lambda p: p.address):
        if (domain and product.domain.name != domain) or (owner and product.owner != owner):
            continue
        item = entry(product, mesh)
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
    return {
        **item.as_dict(),
        "contract_file": product.file,
        "contract": (mesh.root / product.file).read_text(),
        "domain_owner": product.domain.owner,
        "registered_consumers": product.contract.consumers,
        "reading_products": readers,
        "upstream": [{"depth": d, "product": a} for d, a in lineage(mesh, product.address, upstream=True)],
        "downstream": [{"depth": d, "product": a} for d, a in lineage(mesh, product.address, upstream=False)],
        "slo": product.contract.slo.model_dump(mode="json", exclude_none=True),
        "status": status,
    }


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
    out += ["", f"SLOs: {info['slo']}"]
    if info["status"]:
        status = info["status"]
        out.append(f"status: {status.get('status')}; freshness {status.get('freshness')}; "
                   f"breached: {', '.join(status.get('breached_slos') or []) or 'none'}; "
                   f"{status.get('quarantined_rows')} row(s) in quarantine")
    snapshots = info.get("snapshots")
    if isinstance(snapshots, list):
        out += ["", "recent lake snapshots (read one with --as-of <snapshot>):"]
        out += [f"  {s['snapshot']:>6}  {s['at']}  run {s['run_id'] or '-'}  {s['what'] or ''}" for s in snapshots]
        out += [] if snapshots else ["  (never published)"]
    elif snapshots:
        out += ["", f"lake snapshots: {snapshots}"]
    out += ["", f"contract ({info['contract_file']}):", info["contract"]]
    return "\n".join(out)
