"""Code locations: ``workspace.yaml`` names ``mesh.locations`` with the domain as the attribute.

    - python_module:
        module_name: mesh.locations
        attribute: sales
        location_name: sales

Any attribute that is a domain name resolves to that domain's ``Definitions`` (PEP 562), so adding a
domain means adding one workspace entry, never changing this module. A domain that fails to load
fails only its own location, with the contract file and field in the message.
"""

from __future__ import annotations

from functools import cache

import dagster as dg

from mesh.contracts.names import name_problem
from mesh.instance.eventlog import enable_batches

# Runs of these locations (launched by the UI, schedules or sensors) hand partition events to the
# instance in batches; the local instance's storage writes a batch at once (mesh/instance/eventlog.py).
enable_batches()


@cache
def _definitions(domain: str) -> dg.Definitions:
    from mesh.orchestration.definitions import build_domain

    return build_domain(domain)


def __getattr__(name: str) -> dg.Definitions:
    if name.startswith("__") or name_problem(name):
        raise AttributeError(name)
    return _definitions(name)
