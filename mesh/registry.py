"""The mesh as declared: every domain and product contract, with the relations between them checked.

``load_mesh`` reads ``domains/*/domain.yaml`` and every contract beside it, then checks what no
single file can: a contract's name matches its file and folder, inputs name existing products,
partition windows fit the upstream cadence, and products form no cycle. A domain whose files do not
validate is reported in ``Mesh.failed`` (and makes its dependants fail with a message naming it)
while the rest of the mesh loads. Access rules are ``mesh.governance``; code is ``mesh.code``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from mesh.contract import Contract, Domain, Window, load_contract, load_domain
from mesh.durations import format_duration
from mesh.errors import ContractError, MeshError
from mesh.names import Address, name_problem
from mesh.project import project_dir

DOMAIN_FILE = "domain.yaml"


@dataclass(frozen=True)
class Product:
    """A contract placed in its domain: what the compiler, the ports and the catalog work from."""

    domain: Domain
    contract: Contract
    file: str  # the contract's path relative to the project, for messages

    @property
    def address(self) -> Address:
        return Address(self.domain.name, self.contract.name)

    @property
    def owner(self) -> str:
        return self.contract.owner or self.domain.owner

    @property
    def partitioned(self) -> bool:
        return self.contract.partitioning is not None

    def window_of(self, input_name: str, upstream: Product) -> Window:
        """The effective window of an input: declared, or the same partitions when both can."""
        declared = self.contract.inputs[input_name].window
        if declared is not None:
            return declared
        same_cadence = upstream.domain.snapshots.cadence == self.domain.snapshots.cadence
        if self.partitioned and upstream.partitioned and same_cadence:
            return Window.partition
        return Window.history


@dataclass
class Mesh:
    root: Path
    domains: dict[str, Domain] = field(default_factory=dict)
    products: dict[Address, Product] = field(default_factory=dict)
    failed: dict[str, MeshError] = field(default_factory=dict)  # domain -> why it did not load

    def product(self, address: Address | str) -> Product:
        key = Address.parse(address) if isinstance(address, str) else address
        found = self.products.get(key.base)
        if found is None:
            raise MeshError(f"{key} names no product; known products: {', '.join(map(str, sorted(self.products)))}")
        return found

    def in_domain(self, domain: str) -> list[Product]:
        return [p for a, p in sorted(self.products.items()) if a.domain == domain]

    def upstream(self, product: Product) -> dict[str, Product]:
        return {name: self.products[i.address] for name, i in product.contract.inputs.items()}

    @cached_property
    def downstream(self) -> dict[Address, list[Product]]:
        found: dict[Address, list[Product]] = {a: [] for a in self.products}
        for product in self.products.values():
            for spec in product.contract.inputs.values():
                found.setdefault(spec.address, []).append(product)
        return found

    def raise_failures(self) -> None:
        if self.failed:
            raise MeshError("\n".join(str(err) for err in self.failed.values()))


def _contract_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.name != DOMAIN_FILE)


def _load_domain_folder(folder: Path, root: Path) -> tuple[Domain, list[Product]]:
    shown = str((folder / DOMAIN_FILE).relative_to(root))
    problem = name_problem(folder.name)
    if problem:
        raise ContractError(str(folder.relative_to(root)), [("", f"domain folder name: {problem}")])
    domain = load_domain(folder / DOMAIN_FILE, shown)
    if domain.name != folder.name:
        raise ContractError(shown, [("name", f"expected {folder.name!r} (the folder's name), found {domain.name!r}")])
    products = []
    problems: list[str] = []
    for path in _contract_files(folder):
        display = str(path.relative_to(root))
        try:
            contract = load_contract(path, display)
            if contract.name != path.stem:
                raise ContractError(
                    display, [("name", f"expected {path.stem!r} (the file's name), found {contract.name!r}")]
                )
            products.append(Product(domain, contract, display))
        except MeshError as err:
            problems.append(str(err))
    if problems:
        raise MeshError("\n".join(problems))
    return domain, products


def load_mesh(root: Path | None = None, strict: bool = False) -> Mesh:
    """Load every domain under ``<root>/domains``; with ``strict`` any failure raises."""
    root = (root or project_dir()).resolve()
    mesh = Mesh(root)
    domains_dir = root / "domains"
    if not domains_dir.is_dir():
        raise MeshError(f"{domains_dir} does not exist: is {root} a mesh project?")
    for folder in sorted(p for p in domains_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        try:
            domain, products = _load_domain_folder(folder, root)
        except MeshError as err:
            mesh.failed[folder.name] = err
            continue
        mesh.domains[domain.name] = domain
        for product in products:
            mesh.products[product.address] = product
    _check_relations(mesh)
    if strict:
        mesh.raise_failures()
    return mesh


def _check_relations(mesh: Mesh) -> None:
    """Inputs must name loaded products with a window that fits; drop domains that break."""
    changed = True
    while changed:  # a domain dropped for a broken input can break its own dependants in turn
        changed = False
        for domain in list(mesh.domains):
            problems = []
            for product in mesh.in_domain(domain):
                problems += _input_problems(mesh, product)
            if problems:
                mesh.failed[domain] = MeshError("\n".join(problems))
                del mesh.domains[domain]
                for address in [a for a in mesh.products if a.domain == domain]:
                    del mesh.products[address]
                changed = True
    cycle = _find_cycle(mesh)
    if cycle:
        for address in cycle:
            mesh.failed.setdefault(address.domain, MeshError(f"products form a cycle: {' -> '.join(map(str, cycle))}"))
        raise MeshError(f"products form a cycle: {' -> '.join(map(str, cycle))}")


def _slo_problems(product: Product) -> list[str]:
    """SLOs that cannot hold given the domain's cadence."""
    freshness = product.contract.slo.freshness
    cadence = product.domain.snapshots.cadence
    if freshness is None:
        return []
    if freshness.max_age is not None and freshness.max_age <= cadence.period:
        return [f"{product.file}: slo.freshness.max_age: {format_duration(freshness.max_age)} is not longer than "
                f"the domain's {cadence.value} cadence; expected more than {format_duration(cadence.period)}"]
    return []


def _input_problems(mesh: Mesh, product: Product) -> list[str]:
    problems = _slo_problems(product)
    for name, spec in product.contract.inputs.items():
        target = spec.address
        where = f"{product.file}: inputs.{name}"
        if target.quarantine:
            problems.append(f"{where}: a quarantine ({target}) cannot be an input")
            continue
        if target == product.address:
            problems.append(f"{where}: a product cannot read itself")
            continue
        upstream = mesh.products.get(target)
        if upstream is None:
            why = mesh.failed.get(target.domain)
            detail = f" (domain {target.domain!r} failed to load)" if why else ""
            problems.append(f"{where}: expected an existing product, found {str(target)!r}{detail}")
            continue
        denial = _access_denial(product, upstream)
        if denial:
            problems.append(f"{where}: {product.address} may not read {target}: {denial}")
            continue
        window = product.window_of(name, upstream)
        if window is Window.partition and not upstream.partitioned:
            problems.append(f"{where}: window 'partition' needs a partitioned upstream; {target} is not")
        elif window is Window.partition and upstream.domain.snapshots.cadence != product.domain.snapshots.cadence:
            problems.append(f"{where}: window 'partition' needs the same cadence as {target}")
    return problems


def _access_denial(product: Product, upstream: Product) -> str | None:
    from mesh.access import Principal, read_denial

    return read_denial(Principal.pipeline(product), upstream)


def _find_cycle(mesh: Mesh) -> list[Address] | None:
    state: dict[Address, int] = {}
    stack: list[Address] = []

    def visit(address: Address) -> list[Address] | None:
        state[address] = 1
        stack.append(address)
        for spec in mesh.products[address].contract.inputs.values():
            target = spec.address
            if target not in mesh.products:
                continue
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[address] = 2
        return None

    for address in sorted(mesh.products):
        if address not in state:
            found = visit(address)
            if found:
                return found
    return None
