"""supply_chain.parts: the ERP's parts catalogue, renamed to the mesh's conventions."""

import pandas as pd


def parts(parts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "part_id": parts["p_partkey"],
            "name": parts["p_name"],
            "manufacturer": parts["p_mfgr"],
            "brand": parts["p_brand"],
            "part_type": parts["p_type"],
            "size": parts["p_size"],
            "container": parts["p_container"],
            "retail_price_usd": parts["p_retailprice"],
            "registered_date": parts["p_registered"],
        }
    )
