"""assets.supply_chain.query: one SQL statement over several input relations, each read as given."""

from __future__ import annotations

import pandas as pd

from assets.supply_chain import query
from tests.supply_chain.frames import relations, rows


def test_each_input_is_read_as_the_relation_given_not_as_a_view_of_its_name():
    given = relations(orders=pd.DataFrame({"order_id": [1, 2, 3]}), lines=pd.DataFrame({"order_id": [1, 2, 2, 3]}))
    # the connection holds a view `orders` with all three orders; the function is handed only orders 2 and 3
    out = rows(query("SELECT count(*) AS n FROM input_lines JOIN input_orders USING (order_id)",
                     orders=given["orders"].filter("order_id > 1"), lines=given["lines"]))
    assert out == [{"n": 3}]  # lines of orders 2, 2 and 3
