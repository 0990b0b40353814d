"""customer.customers: the ERP's customer registrations, renamed to the mesh's conventions."""

import pandas as pd


def customers(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customers["c_custkey"],
            "name": customers["c_name"],
            "address": customers["c_address"],
            "phone": customers["c_phone"],
            "nation_id": customers["c_nationkey"],
            "nation": customers["c_nation"],
            "region": customers["c_region"],
            "market_segment": customers["c_mktsegment"],
            "account_balance_usd": customers["c_acctbal"],
            "registered_date": customers["c_registered"],
        }
    )
