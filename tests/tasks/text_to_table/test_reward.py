"""The text-to-table reward (cell F1 of the reply's table) on hand-worked replies."""

from __future__ import annotations

import pytest

from tasks.text_to_table.reward import table_reward
from tasks.text_to_table.table import Table

REFERENCE = Table(columns=["name", "area"], rows=[["Blue Spice", "city centre"]])


def test_cell_f1_of_the_reply_by_hand():
    # 1 of 3 predicted cells right (name; area wrong; food extra), 1 of 2 reference cells found:
    # P = 1/3, R = 1/2, F1 = 2 * (1/6) / (5/6) = 0.4
    reply = 'Here it is: {"columns": ["Name", "area", "food"], "rows": [["blue  spice", "riverside", "French"]]}'
    assert table_reward(reply, REFERENCE) == pytest.approx(0.4)
    exact = '```json\n{"columns": ["area", "name"], "rows": [["City Centre", "Blue Spice"]]}\n```'
    assert table_reward(exact, REFERENCE) == 1.0  # column order, case and fences do not matter


def test_cut_off_and_unreadable_replies():
    # cut off inside the second row: the complete first row is kept -> 2 of 2 cells, F1 1
    cut = '{"columns": ["name", "area"], "rows": [["Blue Spice", "city centre"], ["Other", "riv'
    assert table_reward(cut, REFERENCE) == 1.0
    assert table_reward("I cannot make a table of this.", REFERENCE) == 0.0
    assert table_reward("", REFERENCE) == 0.0
