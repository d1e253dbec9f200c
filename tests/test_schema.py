import numpy as np
import pyarrow as pa
import pytest

from flyttkedja.schema import TENURES, SchemaError, codes, conform, empty


def test_tenure_accepts_swedish_names_and_scb_codes():
    t = pa.table({"dwelling_id": [1, 2, 3, 4, 5],
                  "tenure": ["hyresrätt", "Bostadsrätt", "3", "owner", "HYRESRATT"]})
    out = conform(t, "dwellings", partial=True)
    assert out["tenure"].to_pylist() == ["rental", "cooperative", "owner", "owner", "rental"]


def test_unknown_code_names_table_column_and_rows():
    t = pa.table({"dwelling_id": [1, 2, 3], "tenure": ["rental", "villa", "villa"]})
    with pytest.raises(SchemaError, match=r"dwellings\.tenure.*'villa'.*rows \[1, 2\]"):
        conform(t, "dwellings", partial=True)


def test_missing_columns_are_named():
    with pytest.raises(SchemaError, match="missing column"):
        conform(pa.table({"dwelling_id": [1]}), "dwellings")


def test_nulls_in_required_column_are_refused():
    t = pa.table({"household_id": pa.array([1, None, 3], pa.int64())})
    with pytest.raises(SchemaError, match=r"moves\.household_id: 1 row\(s\) with null value\(s\), e\.g\. rows \[1\]"):
        conform(t, "moves", partial=True)


def test_duplicate_ids_are_refused_with_rows():
    t = pa.table({"dwelling_id": [5, 7, 5]})
    with pytest.raises(SchemaError, match=r"duplicate.*rows \[0, 2\]"):
        conform(t, "dwellings", partial=True)


def test_types_are_cast_and_extra_columns_kept():
    t = pa.table({"extra": [1.5], "rooms": [3], "dwelling_id": [10]})
    out = conform(t, "dwellings", partial=True)
    assert out.column_names == ["dwelling_id", "rooms", "extra"]
    assert out.schema.field("rooms").type == pa.int8()


def test_codes_follow_code_list_order():
    assert codes(pa.array(["owner", None, "rental"]), TENURES).tolist() == [2, -1, 0]
    assert codes(pa.array(["owner"]), TENURES).dtype == np.int8


def test_empty_tables_conform():
    for name in ["dwellings", "households", "moves", "areas", "persons", "person_events"]:
        assert conform(empty(name), name).num_rows == 0
