"""supply_chain.suppliers: the ERP's supplier master, renamed to the mesh's conventions."""

import pandas as pd


def suppliers(suppliers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "supplier_id": suppliers["s_suppkey"],
            "name": suppliers["s_name"],
            "address": suppliers["s_address"],
            "phone": suppliers["s_phone"],
            "nation_id": suppliers["s_nationkey"],
            "nation": suppliers["s_nation"],
            "region": suppliers["s_region"],
            "account_balance_usd": suppliers["s_acctbal"],
            "registered_date": suppliers["s_registered"],
        }
    )
