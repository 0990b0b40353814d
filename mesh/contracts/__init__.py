"""Contracts: what a data product promises, and the words to say it. The lowest layer.

Owns the contract and domain models (``contract``) read strictly from YAML (``yamlio``); names and
addresses (``names``); durations and clock times (``durations``); partitions and the window a run
covers, from a domain's cadence (``partitions``); who may read what (``access``); what a product
function may return (``result``); where the project lives (``project``); and the registry, the whole
mesh as declared with the relations between products checked (``registry``).

May use ``mesh.errors`` only: nothing here reads storage, runs a product or opens the Dagster instance.
"""
