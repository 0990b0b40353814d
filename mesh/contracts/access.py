"""Who may read what: principals, access levels, registered consumers and PII masking.

One rule set, used when the mesh loads (a product's inputs) and by every port at read time (the
reading principal). A principal is either a product's pipeline (it reads as its domain, and as that
product for consumer lists) or a person (configured through ``MESH_PRINCIPAL*`` variables, read by
``mesh.orchestration.environment``). Holds the rules and the masking expressions; not the ports themselves.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mesh.contracts.contract import Access, Masking
from mesh.contracts.names import Address
from mesh.errors import AccessDenied

if TYPE_CHECKING:  # the masking functions import Arrow and pandas when called: access checks need neither
    import pandas as pd
    import pyarrow as pa

    from mesh.contracts.registry import Product

REDACTED = "[redacted]"


@dataclass(frozen=True)
class Principal:
    """A reader. ``domains`` are the domains it belongs to ('*' for all); ``pii`` lifts masking."""

    name: str
    domains: frozenset[str] = field(default_factory=frozenset)
    pii: bool = False
    product: Address | None = None  # set for a product's own pipeline

    @classmethod
    def pipeline(cls, product: Product) -> Principal:
        # A pipeline sees PII of its inputs only masked unless it is in the same domain.
        return cls(f"pipeline:{product.address}", frozenset({product.domain.name}), False, product.address)

    @classmethod
    def platform(cls) -> Principal:
        """The platform itself (validation, publishing, admin commands): reads everything unmasked."""
        return cls("platform", frozenset({"*"}), True)

    def member_of(self, domain: str) -> bool:
        return "*" in self.domains or domain in self.domains

    @property
    def is_pipeline(self) -> bool:
        return self.product is not None


def read_denial(principal: Principal, product: Product) -> str | None:
    """Why ``principal`` may not read ``product``, or None when it may."""
    contract, domain = product.contract, product.domain.name
    if principal.name == "platform":
        return None
    same_domain = principal.member_of(domain)
    if contract.access is Access.private and not (principal.is_pipeline and same_domain):
        return f"{product.address} is private: only pipelines of domain {domain!r} read it"
    if contract.access is Access.internal and not same_domain:
        return f"{product.address} is internal to domain {domain!r}; {principal.name} is not a member"
    consumer_listed = contract.consumers is None or str(principal.product) in contract.consumers
    if principal.is_pipeline and not same_domain and not consumer_listed:
        return (f"{product.address} lists its consumers ({', '.join(contract.consumers or [])}); "
                f"{principal.product} is not one of them")
    return None


def check_read(principal: Principal, product: Product) -> None:
    denial = read_denial(principal, product)
    if denial:
        raise AccessDenied(f"{principal.name} may not read {product.address}: {denial}")


def columns_to_mask(principal: Principal, product: Product) -> dict[str, Masking]:
    """PII columns that this principal sees masked: all of them unless it holds the PII right.

    The owning domain's own pipelines read their domain's PII unmasked; everyone else needs ``pii``.
    """
    if principal.pii or (principal.is_pipeline and principal.member_of(product.domain.name)):
        return {}
    return dict(product.contract.pii)


def keyed_hash(values: pa.Array, key: bytes) -> pa.Array:
    """HMAC-SHA256 of each value, hex, first 32 characters: equal inputs give equal outputs.

    Each distinct value is hashed once (dictionary encoding), so repeated values cost nothing.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(pc.cast(values, pa.string()))
    digests = [
        hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
        for value in encoded.dictionary.to_pylist()
    ]
    return pc.take(pa.array(digests, type=pa.string()), encoded.indices)


def mask_table(table: pa.Table, masks: dict[str, Masking], key: bytes) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    for column, how in masks.items():
        if column not in table.column_names:
            continue
        index = table.column_names.index(column)
        values = table.column(column).combine_chunks()
        if how is Masking.hash:
            masked = keyed_hash(values, key)
        else:
            masked = pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), pa.scalar(REDACTED))
        table = table.set_column(index, pa.field(column, pa.string()), masked)
    return table


def mask_frame(frame: pd.DataFrame, masks: dict[str, Masking], key: bytes) -> pd.DataFrame:
    """A copy of ``frame`` with its PII columns masked as a reader without the PII right sees them:
    for what leaves the pipeline to be shown (check samples in the UI, logs, alerts)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    present = {c: m for c, m in masks.items() if c in frame.columns}
    if not present:
        return frame
    out = frame.copy()
    for column, how in present.items():
        values = out[column]
        text = pa.array(values.astype(object).where(values.notna(), None).map(
            lambda v: None if v is None else str(v)), type=pa.string())
        masked = keyed_hash(text, key) if how is Masking.hash else pc.if_else(
            pc.is_null(text), pa.scalar(None, pa.string()), pa.scalar(REDACTED))
        out[column] = pd.Series(masked.to_pylist(), index=out.index, dtype=object)
    return out
