"""supply_chain.replenishments: stock the ERP recorded as received from suppliers, per part and day."""

import pandas as pd


def replenishments(replenishments: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "part_id": replenishments["r_partkey"],
            "supplier_id": replenishments["r_suppkey"],
            "received_date": replenishments["r_received"],
            "received_quantity": replenishments["r_quantity"],
        }
    )
