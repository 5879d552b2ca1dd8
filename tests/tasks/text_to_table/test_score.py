import pytest

from tasks.text_to_table.score import CellScore, score_table, score_tables, table_cells
from tasks.text_to_table.table import Table


def t(columns, *rows):
    return Table(columns=list(columns), rows=[list(row) for row in rows])


def test_docstring_example():
    reference = t(["name", "area"], ["Blue Spice", "city centre"])
    predicted = t(["Name", "area", "food"], ["blue  spice", "riverside", "French"])
    score = score_table(predicted, reference)
    assert score == CellScore(matched=1, predicted=3, reference=2)
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == pytest.approx(1 / 2)
    assert score.f1 == pytest.approx(0.4)


def test_order_of_rows_and_columns_does_not_matter():
    reference = t(["a", "b"], ["1", "2"], ["3", "4"])
    predicted = t(["b", "a"], ["4", "3"], ["2", "1"])
    assert score_table(predicted, reference).f1 == 1.0


def test_value_under_the_wrong_column_does_not_count():
    score = score_table(t(["near"], ["Burger King"]), t(["name"], ["Burger King"]))
    assert score == CellScore(0, 1, 1) and score.f1 == 0.0


def test_cells_are_a_multiset_and_empty_cells_are_ignored():
    reference = t(["food"], ["French"], ["French"], [""])
    predicted = t(["food"], ["french"], ["French"], ["French"], [" "])
    assert table_cells(reference) == {("food", "french"): 2}
    assert score_table(predicted, reference) == CellScore(matched=2, predicted=3, reference=2)


def test_unparsed_answer_finds_nothing():
    score = score_table(None, t(["a"], ["x"]))
    assert (score.precision, score.recall, score.f1) == (0.0, 0.0, 0.0)


def test_empty_against_empty_is_perfect():
    score = score_table(t(["a"], [""]), t([], ))
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)


def test_micro_average_sums_counts_before_dividing():
    # Example 1: 2 of 2 predicted right, 2 of 4 reference found. Example 2: 0 of 1, 0 of 1.
    # Micro: P = 2/3, R = 2/5, F1 = 2 * (2/3) * (2/5) / (2/3 + 2/5) = 0.5.
    ref1 = t(["a", "b", "c", "d"], ["1", "2", "3", "4"])
    pred1 = t(["a", "b"], ["1", "2"])
    ref2, pred2 = t(["x"], ["y"]), t(["x"], ["z"])
    total = score_tables([(pred1, ref1), (pred2, ref2)])
    assert total == CellScore(matched=2, predicted=3, reference=5)
    assert total.precision == pytest.approx(2 / 3)
    assert total.recall == pytest.approx(2 / 5)
    assert total.f1 == pytest.approx(0.5)


def test_score_of_nothing_is_perfect():
    assert score_tables([]).f1 == 1.0
