"""Names and addresses of domains and products.

Holds the one naming rule of the mesh (``^[a-z][a-z0-9_]*$``, no double underscore) and the
``<domain>.<product>`` address. Every name a user types goes through here before it touches a
path, a SQL identifier or an asset key, so an address can never escape its folder or its view.
Does not know about contracts, storage or Dagster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mesh.errors import InvalidName

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_NAME_RE = re.compile(NAME_PATTERN)
MAX_NAME_LENGTH = 63  # PostgreSQL's identifier limit; also keeps S3 keys short
QUARANTINE_SUFFIX = "__quarantine"
ALL = "all"  # the partition key of an unpartitioned product's snapshot


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid domain or product name, or None when it is."""
    if not isinstance(name, str):
        return f"expected a name matching {NAME_PATTERN}, found {type(name).__name__} {name!r}"
    if not _NAME_RE.match(name):
        return f"expected a name matching {NAME_PATTERN} (lower case, digits, underscores), found {name!r}"
    if "__" in name:
        return f"expected a name without a double underscore (reserved for {QUARANTINE_SUFFIX}), found {name!r}"
    if len(name) > MAX_NAME_LENGTH:
        return f"expected a name of at most {MAX_NAME_LENGTH} characters, found {len(name)}"
    return None


def check_name(name: object, what: str = "name") -> str:
    problem = name_problem(name)
    if problem:
        raise InvalidName(f"invalid {what}: {problem}")
    return name  # type: ignore[return-value]


@dataclass(frozen=True, order=True)
class Address:
    """The address of a data product: ``<domain>.<product>``, or its quarantine."""

    domain: str
    product: str
    quarantine: bool = False

    @classmethod
    def parse(cls, text: object) -> Address:
        if not isinstance(text, str):
            raise InvalidName(f"expected an address '<domain>.<product>', found {text!r}")
        parts = text.strip().split(".")
        if len(parts) != 2:
            raise InvalidName(f"expected an address '<domain>.<product>', found {text!r}")
        domain, product = parts
        quarantine = product.endswith(QUARANTINE_SUFFIX)
        if quarantine:
            product = product[: -len(QUARANTINE_SUFFIX)]
        for part, what in ((domain, "domain"), (product, "product")):
            problem = name_problem(part)
            if problem:
                raise InvalidName(f"invalid {what} in address {text!r}: {problem}")
        return cls(domain, product, quarantine)

    @property
    def base(self) -> Address:
        """The product itself, for a quarantine address."""
        return Address(self.domain, self.product)

    @property
    def quarantined(self) -> Address:
        return Address(self.domain, self.product, quarantine=True)

    @property
    def table(self) -> str:
        """The table name in the SQL port (``product`` or ``product__quarantine``)."""
        return self.product + (QUARANTINE_SUFFIX if self.quarantine else "")

    def __str__(self) -> str:
        return f"{self.domain}.{self.table}"
