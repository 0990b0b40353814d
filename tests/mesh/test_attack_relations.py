"""Attacking relation rules with duplicate and NULL keys, on either side.

A key the input holds twice validates a reference once and reconciles with every row the input holds
(a line sent twice is counted twice, so its order does not reconcile and is held with the key, the
value found and the value expected); a key the product's own rows hold twice is judged once per row
against the same aggregate, never against a fan-out of the input; a NULL key matches nothing on either
side: an input row with a NULL key counts for no row, a product row with a NULL key is not judged (its
nullability is the model's rule). Every failing row fails once, with its own key.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mesh.contracts.contract import Relation
from mesh.quality.relations import Scoped, as_rule, evaluate

ORDER_EXISTS = as_rule("order_exists", Relation(references="orders", key={"order_id": "order_id"}))
TOTAL_MATCHES = as_rule("total_matches_lines", Relation(
    reconciles="lines", key={"order_id": "l_orderkey"}, column="total_usd", equals="sum(amount)", tolerance=0.01))
LINE_COUNT = as_rule("line_count_matches", Relation(
    reconciles="lines", key={"order_id": "l_orderkey"}, column="line_count", equals="count(*)"))
PAIR_EXISTS = as_rule("part_supplied", Relation(references="supplies", key={"part_id": "part", "supplier_id": "supp"}))


def none(n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool)


def days(*keys: str) -> np.ndarray:
    return np.array(keys, dtype=object)


def test_a_reference_to_a_key_the_input_holds_twice_or_as_null_is_judged_once_per_row():
    lines = pd.DataFrame({"order_id": pd.array([1, 1, 2, None, 3, 3, 4], dtype="Int64"),
                          "line_number": [1, 2, 1, 1, 1, 2, 1]})
    orders = pa.table({"order_id": pa.array([1, 1, 2, None, None], pa.int64())})
    [outcome] = evaluate(lines, [ORDER_EXISTS], {"orders": orders}, none(7), "error")
    assert outcome.error is None
    # order 1 twice in the input: its lines pass, not twice; order 3 (twice here) and 4 are nowhere, and a
    # NULL in the input matches neither them nor the line whose own key is NULL (not judged)
    assert outcome.failing.tolist() == [False, False, False, False, True, True, True]
    assert outcome.reasons == {4: "order_id=3: no row of input orders has this order_id",
                               5: "order_id=3: no row of input orders has this order_id",
                               6: "order_id=4: no row of input orders has this order_id"}
    skip = np.array([False, False, False, False, False, True, False])  # the repeated line, held by structure
    [outcome] = evaluate(lines, [ORDER_EXISTS], {"orders": orders}, skip, "error")
    assert np.flatnonzero(outcome.failing).tolist() == [4, 6] and sorted(outcome.reasons) == [4, 6]


def test_a_reference_by_two_columns_matches_whole_pairs_and_a_pair_with_a_null_is_not_judged():
    lines = pd.DataFrame({"part_id": pd.array([1, 1, 2, None, 2], dtype="Int64"),
                          "supplier_id": pd.array([10, 10, 10, 10, None], dtype="Int64")})
    supplies = pa.table({"part": [1, 1, 2, None], "supp": [10, 10, 20, 10]})  # (1, 10) twice, (2, 20) only
    [outcome] = evaluate(lines, [PAIR_EXISTS], {"supplies": supplies}, none(5), "error")
    assert outcome.failing.tolist() == [False, False, True, False, False]
    assert outcome.reasons == {2: "part_id=2, supplier_id=10: no row of input supplies has this part, supp"}


def test_an_order_whose_lines_the_input_holds_twice_is_held_with_the_sum_it_found():
    orders = pd.DataFrame({"order_id": [1, 2, 3], "total_usd": [10.0, 5.0, 7.0], "line_count": [2, 2, 1]})
    lines = pd.DataFrame({"l_orderkey": pd.array([1, 1, 2, 2, 2, None, 3], dtype="Int64"),
                          "amount": [4.0, 6.0, 2.0, 3.0, 3.0, 99.0, 7.0]})  # 2's line of 3.0 sent twice
    [total, count] = evaluate(orders, [TOTAL_MATCHES, LINE_COUNT], {"lines": lines}, none(3), "error")
    assert total.failing.tolist() == count.failing.tolist() == [False, True, False]  # the NULL key counts for none
    assert total.reasons == {1: "order_id=2: total_usd is 5, expected 8 = sum(amount) over input lines "
                                "(tolerance 0.01)"}
    assert count.reasons == {1: "order_id=2: line_count is 2, expected 3 = count(*) over input lines"}


def test_an_order_the_product_holds_twice_is_judged_once_per_row_against_the_same_lines():
    orders = pd.DataFrame({"order_id": pd.array([1, 1, 2, 2, None], dtype="Int64"),
                           "total_usd": [10.0, 10.0, 5.0, 4.0, 9.0], "line_count": [2, 2, 2, 2, 3]})
    lines = pd.DataFrame({"l_orderkey": pd.array([1, 1, 2, 2, None], dtype="Int64"),
                          "amount": [4.0, 6.0, 2.0, 3.0, 1.0]})
    [total, count] = evaluate(orders, [TOTAL_MATCHES, LINE_COUNT], {"lines": lines}, none(5), "error")
    assert count.error is None and not count.failing.any()  # two lines each, whichever row asks
    assert total.failing.tolist() == [False, False, False, True, False]
    assert total.reasons == {3: "order_id=2: total_usd is 4, expected 5 = sum(amount) over input lines "
                                "(tolerance 0.01)"}


def test_in_a_run_of_several_partitions_an_order_held_twice_in_its_partition_sums_each_line_once():
    """The rows of the input a partition sees are tagged once per key the partition holds, not once per row."""
    orders = pd.DataFrame({"order_id": [1, 1, 1, 2], "total_usd": [10.0, 10.0, 4.0, 6.0], "line_count": [2, 2, 1, 1]})
    lines = pd.DataFrame({"l_orderkey": [1, 1, 1, 2, 2], "amount": [4.0, 6.0, 4.0, 6.0, 6.0]})
    scoped = Scoped(lines, days("2026-11-02", "2026-11-02", "2026-11-03", "2026-11-02", "2026-11-02"),
                    {"2026-11-02": ("2026-11-02", "2026-11-02"), "2026-11-03": ("2026-11-03", "2026-11-03")})
    partitions = days("2026-11-02", "2026-11-02", "2026-11-03", "2026-11-02")
    [total, count] = evaluate(orders, [TOTAL_MATCHES, LINE_COUNT], {"lines": scoped}, none(4), "error", partitions)
    assert total.error is None and count.error is None
    # order 1 of the 2nd, twice: 4 + 6 each time; of the 3rd: its own 4; order 2's line, sent twice, fails it
    assert total.failing.tolist() == count.failing.tolist() == [False, False, False, True]
    assert total.reasons == {3: "order_id=2: total_usd is 6, expected 12 = sum(amount) over input lines "
                                "(tolerance 0.01)"}
    assert count.reasons == {3: "order_id=2: line_count is 1, expected 2 = count(*) over input lines"}


def test_in_a_run_of_several_partitions_a_key_the_input_holds_in_two_partitions_references_once():
    lines = pd.DataFrame({"order_id": [1, 1, 2, 3]})
    orders = pa.table({"order_id": [1, 1, 2, 3, 3]})
    scoped = Scoped(orders, days("2026-11-02", "2026-11-03", "2026-11-03", "2026-11-02", "2026-11-03"),
                    {"2026-11-02": ("2026-11-02", "2026-11-02"), "2026-11-03": ("2026-11-02", "2026-11-03")})
    partitions = days("2026-11-02", "2026-11-03", "2026-11-02", "2026-11-02")
    [outcome] = evaluate(lines, [ORDER_EXISTS], {"orders": scoped}, none(4), "error", partitions)
    assert outcome.failing.tolist() == [False, False, True, False]  # order 2 is not published by the 2nd
    assert outcome.reasons == {2: "order_id=2: no row of input orders has this order_id"}
