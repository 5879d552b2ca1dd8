import pytest

from common.paths import shared_data_dir
from tasks.text_to_table.e2e import E2E_ATTRIBUTES, load_e2e, parse_mr
from tasks.text_to_table.table import Table

needs_bundle = pytest.mark.skipif(
    not (shared_data_dir() / "text_to_table" / "e2e_devel.csv").is_file(),
    reason="shared data bundle (text_to_table/) not present at ../shared/data or $ICEGRT_SHARED_DATA",
)


def test_parse_mr_puts_columns_in_canonical_order():
    table = parse_mr("near[Café Sicilia], name[The Eagle], customer rating[5 out of 5], eatType[pub]")
    assert table == Table(
        columns=["name", "eatType", "customer rating", "near"],
        rows=[["The Eagle", "pub", "5 out of 5", "Café Sicilia"]],
    )


def test_parse_mr_joins_repeated_attributes_and_drops_repeated_values():
    table = parse_mr("name[Aromi], eatType[coffee shop], eatType[restaurant], eatType[restaurant]")
    assert table.rows == [["Aromi", "coffee shop; restaurant"]]


@pytest.mark.parametrize(("mr", "message"), [("name[A], colour[red]", "unknown E2E attribute"),
                                             ("name[A] area[x]", "malformed"), ("name[A", "malformed")])
def test_parse_mr_rejects_bad_input(mr, message):
    with pytest.raises(ValueError, match=message):
        parse_mr(mr)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown E2E split"):
        load_e2e("validation")
    with pytest.raises(ValueError, match="dev_fraction"):
        load_e2e("dev", dev_fraction=1.0)


@needs_bundle
def test_split_sizes_of_the_real_data():
    train, dev, test = load_e2e("train"), load_e2e("dev"), load_e2e("test")
    # e2e_devel.csv: 4,299 rows, 165 exact repeats, 1,484 distinct MRs (149 = ceil(10%) to dev).
    assert (len(train), len(dev)) == (3729, 405)
    assert len({e.mr for e in train}) + len({e.mr for e in dev}) == 1484
    assert len({e.mr for e in dev}) == 149
    # e2e_test.csv: 4,693 rows, 160 exact repeats.
    assert len(test) == 4533
    ids = [e.id for e in train + dev + test]
    assert len(ids) == len(set(ids))


@needs_bundle
def test_train_and_dev_share_no_table_and_the_split_is_seeded():
    train, dev = load_e2e("train"), load_e2e("dev")
    assert not {e.mr for e in train} & {e.mr for e in dev}
    assert [e.id for e in load_e2e("dev", seed=0)] == [e.id for e in dev]
    assert [e.id for e in load_e2e("dev", seed=1)] != [e.id for e in dev]


@needs_bundle
def test_examples_are_one_row_tables_with_known_columns():
    for example in load_e2e("test"):
        assert len(example.table.rows) == 1 and example.text
        assert set(example.table.columns) <= set(E2E_ATTRIBUTES)
    first = load_e2e("test")[0]
    assert first.text == "A coffee shop in the city centre area called Blue Spice."
    assert first.table.rows == [["Blue Spice", "coffee shop", "city centre"]]
