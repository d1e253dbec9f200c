import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
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


# ------------------------------------------------------------- codes in any accepted spelling
def naive_codes(name: str, values: list) -> list[int]:
    """Plain-Python reference of schema.code_column's codes: -1 null, -2 unknown, else the position."""
    from flyttkedja.schema import CODE_LISTS, canonical_code

    out = []
    for v in values:
        code = None if v is None else canonical_code(name, v)
        out.append(-1 if v is None else (-2 if code is None else CODE_LISTS[name].index(code)))
    return out


SPELLINGS = ["rental", "cooperative", "owner", "hyresrätt", "Bostadsrätt", "3", " HR ", "äganderätt", "villa", "",
             "rentals", "rent", "ownerX", "Ägarlägenhet", "co-operative", "1", "2", "4", "ä"]


@given(st.lists(st.one_of(st.none(), st.sampled_from(SPELLINGS), st.text(max_size=4)), max_size=40),
       st.integers(0, 3), st.sampled_from(["string", "large_string", "dictionary", "chunked"]))
@settings(max_examples=150, deadline=None)
def test_code_column_matches_the_reference(values, cut, kind):
    from flyttkedja.schema import code_column

    array = pa.array(values, pa.string())[cut:]  # a slice: offsets that do not start at 0
    expected = naive_codes("tenure", values[cut:])
    if kind == "large_string":
        array = array.cast(pa.large_string())
    elif kind == "dictionary":
        array = array.dictionary_encode()
    elif kind == "chunked":
        array = pa.chunked_array([array[:len(array) // 2], array[len(array) // 2:]], pa.string())
    column, got = code_column("tenure", array)
    assert got.tolist() == expected
    assert column.to_pylist() == [None if c < 0 else TENURES[c] for c in expected]


def test_validate_accepts_exactly_the_spellings_trace_accepts():
    import flyttkedja

    for tenure, refused in [("hyresrätt", False), ("3", False), ("Bostadsrätt", False), ("villa", True)]:
        dw = pa.table({"dwelling_id": [1, 2], "tenure": [tenure, "owner"]})
        report = flyttkedja.validate(dwellings=dw)
        assert bool(report.refusals) is refused, report.to_text()
        if refused:
            with pytest.raises(SchemaError, match=r"dwellings\.tenure.*'villa'"):
                conform(dw, "dwellings", partial=True)
        else:
            assert conform(dw, "dwellings", partial=True)["tenure"][0].as_py() in TENURES


def test_dates_must_be_dates():
    for values, match in [(pa.array([20200101, 20200215], pa.int32()), r"moves\.move_date: int32 values.*20200101.*not dates"),
                          (pa.array([43831.0]), r"moves\.move_date: double values.*not dates"),
                          (pa.array([2**31 - 2], pa.int32()).cast(pa.date32()), r"moves\.move_date: .*outside 1900"),
                          ]:
        with pytest.raises(SchemaError, match=match):
            conform(pa.table({"move_date": values}), "moves", partial=True)
    ok = conform(pa.table({"move_date": ["2020-01-05"]}), "moves", partial=True)
    assert str(ok["move_date"][0]) == "2020-01-05"


def test_ranges_are_refused_with_values_and_rows():
    t = pa.table({"size": pa.array([1, -3, 127], pa.int8()), "adults": pa.array([1, 1, 1], pa.int8())})
    with pytest.raises(SchemaError, match=r"moves\.size: 2 row\(s\) with household size outside 1\.\.50 "
                                          r"\(values -3, 127\), e\.g\. rows \[1, 2\]"):
        conform(t, "moves", partial=True)
    with pytest.raises(SchemaError, match=r"moves\.size: cannot convert int64 to int8 at rows \[0\]"):
        conform(pa.table({"size": [300]}), "moves", partial=True)
