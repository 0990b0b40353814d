"""supply_chain.part_suppliers: the ERP's supplier offers per part, with the stock held at registration."""

import pandas as pd


def part_suppliers(partsupp: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "part_id": partsupp["ps_partkey"],
            "supplier_id": partsupp["ps_suppkey"],
            "supply_cost_usd": partsupp["ps_supplycost"],
            "initial_quantity": partsupp["ps_availqty"],
            "registered_date": partsupp["ps_registered"],
        }
    )
