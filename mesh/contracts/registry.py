"""The mesh as declared: every domain and product contract, with the relations between them checked.

``load_mesh`` reads ``domains/*/domain.yaml`` and every contract beside it, then checks what no
single file can: a contract's name matches its file and folder, inputs name existing products,
partition windows fit the upstream cadence, and products form no cycle. A domain with a broken
contract is reported in ``Mesh.failed`` (its location does not load) while the rest of the mesh
loads: its sound products stay readable, and products elsewhere that read the broken one are
``Mesh.blocked`` (they load, and fail when run, naming it). Access rules are ``mesh.governance.policies``;
code is ``mesh.quality.code``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from mesh.contracts.contract import Contract, Domain, Window, load_contract, load_domain
from mesh.contracts.durations import format_duration
from mesh.contracts.names import Address, name_problem
from mesh.contracts.project import project_dir
from mesh.errors import ContractError, MeshError

T = TypeVar("T")

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
    failed: dict[str, MeshError] = field(default_factory=dict)  # domain -> why its location does not load
    broken: dict[Address, MeshError] = field(default_factory=dict)  # products whose own contract is wrong
    blocked: dict[Address, str] = field(default_factory=dict)  # sound contracts that read a broken product

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


def _load_domain_folder(folder: Path, root: Path) -> tuple[Domain, list[Product], dict[str, MeshError]]:
    """The domain and its products whose contracts load; the others by file stem, with why."""
    shown = str((folder / DOMAIN_FILE).relative_to(root))
    problem = name_problem(folder.name)
    if problem:
        raise ContractError(str(folder.relative_to(root)), [("", f"domain folder name: {problem}")])
    domain = load_domain(folder / DOMAIN_FILE, shown)
    if domain.name != folder.name:
        raise ContractError(shown, [("name", f"expected {folder.name!r} (the folder's name), found {domain.name!r}")])
    products = []
    problems: dict[str, MeshError] = {}
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
            problems[path.stem] = err
    return domain, products, problems


def load_mesh(root: Path | None = None, strict: bool = False) -> Mesh:
    """Load every domain under ``<root>/domains``; with ``strict`` any failure raises.

    A broken contract (its file, or its relations: inputs, access, windows, cycles) stops only its own
    domain's location. Its domain's other products stay readable and usable as inputs; a product of
    another domain that reads the broken one is ``blocked``: its location loads and it fails with a
    message naming the broken product.
    """
    root = (root or project_dir()).resolve()
    mesh = Mesh(root)
    domains_dir = root / "domains"
    if not domains_dir.is_dir():
        raise MeshError(f"{domains_dir} does not exist: is {root} a mesh project?")
    for folder in sorted(p for p in domains_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        try:
            domain, products, problems = _load_domain_folder(folder, root)
        except MeshError as err:
            mesh.failed[folder.name] = err
            continue
        mesh.domains[domain.name] = domain
        for product in products:
            mesh.products[product.address] = product
        for stem, err in problems.items():
            if not name_problem(stem):
                mesh.broken[Address(domain.name, stem)] = err
            _fail(mesh, domain.name, str(err))
    _check_relations(mesh)
    if strict:
        mesh.raise_failures()
    return mesh


def _fail(mesh: Mesh, domain: str, problem: str) -> None:
    before = mesh.failed.get(domain)
    mesh.failed[domain] = MeshError(f"{before}\n{problem}" if before else problem)


def _unavailable(mesh: Mesh, target: Address) -> bool:
    """An input that cannot be read because of someone else's broken contract or domain."""
    return (target in mesh.broken or target in mesh.blocked
            or (target not in mesh.products and target.domain in mesh.failed and target.domain not in mesh.domains))


def _check_relations(mesh: Mesh) -> None:
    """Cycles and each product's relations (inputs, access, windows, SLOs) make it broken; reading a
    broken product makes a product blocked, transitively."""
    for cycle in _cycles(mesh):
        shown = " -> ".join(f"{a} ({mesh.products[a].file})" for a in cycle)
        for address in dict.fromkeys(cycle):
            mesh.broken[address] = MeshError(f"products form a cycle: {shown}")
        for domain in dict.fromkeys(a.domain for a in cycle):
            _fail(mesh, domain, f"products form a cycle: {shown}")
    for product in mesh.products.values():
        if product.address in mesh.broken:
            continue
        problems = _input_problems(mesh, product)
        if problems:
            mesh.broken[product.address] = MeshError("\n".join(problems))
            _fail(mesh, product.domain.name, "\n".join(problems))
    changed = True
    while changed:  # a blocked product blocks its own readers in turn
        changed = False
        for product in mesh.products.values():
            if product.address in mesh.broken or product.address in mesh.blocked:
                continue
            for name, spec in product.contract.inputs.items():
                target = spec.address
                if _unavailable(mesh, target):
                    why = mesh.broken.get(target) or mesh.failed.get(target.domain)
                    cause = (f"blocked: {mesh.blocked[target]}" if target in mesh.blocked
                             else str(why).splitlines()[0] if why else "it does not load")
                    mesh.blocked[product.address] = (f"{product.file}: input {name} reads {target}, whose contract "
                                                     f"does not load ({cause})")
                    changed = True
                    break


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
        if _unavailable(mesh, target):
            continue  # someone else's broken contract: this product is blocked, not broken
        upstream = mesh.products.get(target)
        if upstream is None:
            problems.append(f"{where}: expected an existing product, found {str(target)!r}")
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
    from mesh.contracts.access import Principal, read_denial

    return read_denial(Principal.pipeline(product), upstream)


def _cycles(mesh: Mesh) -> list[list[Address]]:
    """Input cycles among the products, each once (as found from its smallest address)."""
    return find_cycles(mesh.products, lambda address: (
        spec.address for spec in mesh.products[address].contract.inputs.values() if spec.address in mesh.products))


def find_cycles(nodes: Iterable[T], successors: Callable[[T], Iterable[T]]) -> list[list[T]]:
    """The cycles a depth-first search meets in a directed graph, each as a path back to its first node
    (``[a, b, a]``), visiting nodes and successors in sorted order so that the result is stable."""
    found: list[list[T]] = []
    state: dict[T, int] = {}  # 1: on the current path, 2: done
    stack: list[T] = []

    def visit(node: T) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(successors(node)):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(nodes):
        if node not in state:
            visit(node)
    return found
