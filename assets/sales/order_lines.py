"""sales.order_lines: the ERP's order lines, renamed to the mesh's conventions."""

import pandas as pd


def order_lines(lineitems: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": lineitems["l_orderkey"],
            "line_number": lineitems["l_linenumber"],
            "part_id": lineitems["l_partkey"],
            "supplier_id": lineitems["l_suppkey"],
            "quantity": lineitems["l_quantity"],
            "extended_price_usd": lineitems["l_extendedprice"],
            "discount": lineitems["l_discount"],
            "tax": lineitems["l_tax"],
            "return_flag": lineitems["l_returnflag"],
            "line_status": lineitems["l_linestatus"],
            "ship_date": lineitems["l_shipdate"],
            "commit_date": lineitems["l_commitdate"],
            "receipt_date": lineitems["l_receiptdate"],
            "ship_instruction": lineitems["l_shipinstruct"],
            "ship_mode": lineitems["l_shipmode"],
            "order_date": lineitems["o_orderdate"],
        }
    )
