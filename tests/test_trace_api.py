"""Tracer API: bad input, inputs of every kind, writing and reading, the CLI, pure-Python run."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import flyttkedja
from flyttkedja import store
from flyttkedja.cli import main
from flyttkedja.core import read_chainset, trace_register
from flyttkedja.schema import SchemaError
from tests import naive_trace as naive
from tests.test_trace_naive import assert_same_chains, tables

D = date(2021, 3, 2)


def example() -> tuple[list[dict], list[dict]]:
    """New build 1 ← household from 2 ← household from 3 (split, not vacated)."""
    dwellings = [{"dwelling_id": i, "building_id": 0, "completed": D if i == 1 else None, "demolished": None}
                 for i in (1, 2, 3)]

    def move(h, day, a, b, vacates=True, fills=True, origin="dwelling"):
        return {"household_id": h, "move_date": date(2021, 3, day), "from_dwelling": a, "to_dwelling": b,
                "origin": origin, "destination": "dwelling", "vacates": vacates, "fills": fills,
                "income": 100_000 * h}
    moves = [move(7, 5, 2, 1), move(8, 9, 3, 2, vacates=False), move(9, 2, None, 3, False, False, "immigrant")]
    return moves, dwellings


def test_worked_example() -> None:
    mv, dw = tables(*example())
    cs = flyttkedja.trace(mv, dw)
    assert cs.chains.select("seed_dwelling", "length", "end_reason", "end_date").row(0) == (1, 2, "not_vacated", date(2021, 3, 9))
    assert cs.links["move_row"].to_list() == [0, 1]
    assert cs.links["from_dwelling"].to_list() == [2, None]  # the split left others behind
    assert cs.chains["building_id"].to_list() == [0]          # seed dwelling attributes
    assert cs.params["window"] == ["2021-03-02", "2021-03-09"]


@pytest.mark.parametrize("kind", ["polars", "pandas", "paths"])
def test_inputs_of_every_kind(kind: str, tmp_path: Path) -> None:
    mv, dw = tables(*example())
    want = flyttkedja.trace(mv, dw)
    if kind == "polars":
        args = (pl.from_arrow(mv), pl.from_arrow(dw))
    elif kind == "pandas":
        args = (mv.to_pandas(), dw.to_pandas())
    else:
        pq.write_table(mv, store.register_file(tmp_path, "moves"))
        pq.write_table(dw, store.register_file(tmp_path, "dwellings"))
        args = (store.register_file(tmp_path, "moves"), store.register_file(tmp_path, "dwellings"))
    got = flyttkedja.trace(*args)
    assert got.chains.select(want.chains.columns[:8]).equals(want.chains.select(want.chains.columns[:8]))
    assert got.links.equals(want.links)
    if kind == "paths":
        assert got.params["register_dir"] == str(tmp_path.resolve())


def test_seeds_expression_and_ids() -> None:
    moves, dwellings = naive.random_register(random.Random(3), n_dwellings=40, n_days=60)
    mv, dw = tables(moves, dwellings)
    chosen = [d["dwelling_id"] for d in dwellings if d["building_id"] % 2 == 0]
    by_ids = flyttkedja.trace(mv, dw, np.array(chosen))
    by_expr = flyttkedja.trace(mv, dw, pl.col("building_id") % 2 == 0)
    assert by_ids.chains.equals(by_expr.chains) and by_ids.links.equals(by_expr.links)
    assert_same_chains(by_ids, naive.trace(moves, dwellings, set(chosen))[0])
    with pytest.raises(ValueError, match="not in dwellings"):
        flyttkedja.trace(mv, dw, np.array([-5]))
    with pytest.raises(ValueError, match="seeds"):
        flyttkedja.trace(mv, dw, "everything")


def bad(moves_edit=None, dwellings_edit=None):
    moves, dwellings = example()
    if moves_edit:
        moves_edit(moves)
    if dwellings_edit:
        dwellings_edit(dwellings)
    return tables(moves, dwellings)


@pytest.mark.parametrize("edit,match", [
    (lambda m, d: d.append(dict(d[0])), r"dwellings\.dwelling_id: duplicate id .*rows \[0, 3\]"),
    (lambda m, d: m[0].update(to_dwelling=99), r"moves\.to_dwelling: .*dwelling id not in dwellings.*rows \[0\]"),
    (lambda m, d: m[1].update(from_dwelling=99), r"moves\.from_dwelling: .*dwelling id not in dwellings.*rows \[1\]"),
    (lambda m, d: m[0].update(household_id=None), r"moves\.household_id: 1 row\(s\) with null value.*rows \[0\]"),
    (lambda m, d: m[2].update(origin="dwelling"), r"moves\.origin: .*rows \[2\]"),
    (lambda m, d: m[0].update(destination="emigrant"), r"moves\.destination: .*rows \[0\]"),
    (lambda m, d: m[2].update(vacates=True), r"moves\.vacates: .*no from_dwelling.*rows \[2\]"),
    (lambda m, d: m.append({**m[0], "from_dwelling": 1, "to_dwelling": 3, "fills": False}),
     r"moves\.move_date: 1 row\(s\) with the household's second move on one day, e\.g\. rows \[3\]"),
    (lambda m, d: m.append({**m[0], "move_date": date(2021, 3, 20), "from_dwelling": 3, "to_dwelling": 2}),
     r"moves\.from_dwelling: .*two dwellings at once.*rows \[3\]"),
    (lambda m, d: m[0].update(origin="palace"), r"moves\.origin: 1 row\(s\) with unknown code.*'palace'"),
])
def test_bad_input_is_refused(edit, match) -> None:
    moves, dwellings = example()
    edit(moves, dwellings)
    mv, dw = tables(moves, dwellings)
    with pytest.raises(SchemaError, match=match):
        flyttkedja.trace(mv, dw)


def test_missing_columns_and_bad_parameters() -> None:
    mv, dw = tables(*example())
    with pytest.raises(SchemaError, match=r"moves: missing column\(s\) \['fills'\]"):
        flyttkedja.trace(mv.drop(["fills"]), dw)
    with pytest.raises(ValueError, match="max_length"):
        flyttkedja.trace(mv, dw, max_length=0)
    with pytest.raises(ValueError, match="window ends before"):
        flyttkedja.trace(mv, dw, window=("2021-03-09", "2021-03-01"))


def test_dates_outside_window_are_not_events() -> None:
    moves, dwellings = example()
    mv, dw = tables(moves, dwellings)
    cs = flyttkedja.trace(mv, dw, window=(D, date(2021, 3, 6)), max_gap_days=30)
    assert cs.chains.select("length", "end_reason").row(0) == (1, "censored")
    assert cs.quality["moves_outside_window"] == 1
    assert_same_chains(cs, naive.trace(moves, dwellings, window=(D, date(2021, 3, 6)), max_gap_days=30)[0])


def test_inconsistent_vacancies_are_counted() -> None:
    moves, dwellings = example()
    moves.append({**moves[0], "household_id": 5, "move_date": date(2021, 3, 4), "from_dwelling": 1,
                  "to_dwelling": None, "destination": "emigrant", "fills": False})
    cs = flyttkedja.trace(*tables(moves, dwellings))
    assert cs.chains.select("length", "end_reason").row(0) == (0, "unfilled")
    assert cs.quality["inconsistent_vacancies"] == 1


def write_register(path: Path, moves: list[dict], dwellings: list[dict]) -> Path:
    mv, dw = tables(moves, dwellings)
    path.mkdir()
    pq.write_table(mv, store.register_file(path, "moves"))
    pq.write_table(dw, store.register_file(path, "dwellings"))
    return path


def test_write_read_roundtrip_is_byte_identical(tmp_path: Path) -> None:
    moves, dwellings = naive.random_register(random.Random(5), n_dwellings=30, n_days=50)
    reg = write_register(tmp_path / "register", moves, dwellings)
    store.write_register_manifest(reg, store.RegisterManifest(window=(date(2020, 1, 3), date(2020, 2, 10)),
                                                              max_gap_days=20))
    cs = trace_register(reg, "all")
    assert cs.params["window"] == ["2020-01-03", "2020-02-10"] and cs.params["max_gap_days"] == 20
    cs.write(tmp_path / "a")
    trace_register(reg, "all").write(tmp_path / "b")
    for name in (*store.CHAIN_FILES.values(), store.TRACE_MANIFEST):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    back = read_chainset(tmp_path / "a")
    assert back.chains.equals(cs.chains) and back.links.equals(cs.links)
    assert back.params == cs.params and back.quality == cs.quality
    assert back.link_attributes(["income"]).height == cs.links.height
    with pytest.raises(FileExistsError):
        cs.write(tmp_path / "a")


def test_cli(tmp_path: Path) -> None:
    moves, dwellings = naive.random_register(random.Random(8), n_dwellings=30, n_days=50)
    reg = write_register(tmp_path / "register", moves, dwellings)
    result = CliRunner().invoke(main, ["trace", str(reg), "--out", str(tmp_path / "c"), "--seeds", "all",
                                       "--max-gap-days", "10"])
    assert result.exit_code == 0, result.output
    assert "chains" in result.output and "inconsistent" in result.output
    record = store.read_trace_manifest(tmp_path / "c")
    assert record.register_dir == reg.resolve() and record.params["max_gap_days"] == 10
    want = naive.trace(moves, dwellings, "all", max_gap_days=10)[0]
    assert_same_chains(read_chainset(tmp_path / "c"), want)
    again = CliRunner().invoke(main, ["trace", str(reg), "--out", str(tmp_path / "c")])
    assert again.exit_code == 2 and "exists" in again.output
    assert record.params["convention"] == "path"
    trees = CliRunner().invoke(main, ["trace", str(reg), "--out", str(tmp_path / "t"), "--seeds", "all",
                                      "--max-gap-days", "10", "--convention", "tree"])
    assert trees.exit_code == 0, trees.output
    assert "tree convention" in trees.output and "per leaf" in trees.output
    back = read_chainset(tmp_path / "t")
    assert back.convention == "tree" and back.params["convention"] == "tree"
    from tests.test_trace_tree import assert_same_trees
    assert_same_trees(back, naive.trace_tree(moves, dwellings, "all", max_gap_days=10)[0])


def test_pure_python_run_matches(tmp_path: Path) -> None:
    """The kernels run as plain Python (NUMBA_DISABLE_JIT=1) and agree with the reference."""
    script = (
        "import random, numpy as np, polars as pl, flyttkedja\n"
        "from flyttkedja.core import vacancy_statistics\n"
        "from tests import naive_trace as naive\n"
        "from tests.test_trace_naive import assert_same_chains, tables\n"
        "for seed in range(4):\n"
        "    moves, dwellings = naive.random_register(random.Random(seed), n_dwellings=12, n_days=25, p_corrupt=0.1,\n"
        "                                             sparse_ids=seed % 2 == 1)\n"
        "    mv, dw = tables(moves, dwellings)\n"
        "    for seeds in ('new_builds', 'all'):\n"
        "        assert_same_chains(flyttkedja.trace(mv, dw, seeds, max_gap_days=5, max_length=3),\n"
        "                           naive.trace(moves, dwellings, seeds, max_gap_days=5, max_length=3)[0])\n"
        "    stats = vacancy_statistics(mv, dw, pl.col('income') < 200_000, max_gap_days=5, max_length=3)\n"
        "    want = naive.trace(moves, dwellings, 'all', max_gap_days=5, max_length=3)[0]\n"
        "    assert stats['count'].to_list() == [sum(moves[r]['income'] < 200_000 for r in c['links']) for c in want]\n"
        "    from tests.test_trace_tree import assert_same_trees\n"
        "    assert_same_trees(flyttkedja.trace(mv, dw, 'all', max_gap_days=5, max_length=3, convention='tree'),\n"
        "                      naive.trace_tree(moves, dwellings, 'all', max_gap_days=5, max_length=3)[0])\n"
        "print('ok')\n"
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"


def test_sparse_household_ids_are_checked_too() -> None:
    moves, dwellings = example()
    for m in moves:
        m["household_id"] = m["household_id"] * 10**15  # no lookup table: the sorting path
    cs = flyttkedja.trace(*tables(moves, dwellings))
    assert cs.chains.select("length", "end_reason").row(0) == (2, "not_vacated")
    moves.append({**moves[0], "from_dwelling": 1, "to_dwelling": 3, "fills": False})
    with pytest.raises(SchemaError, match=r"second move on one day, e\.g\. rows \[3\]"):
        flyttkedja.trace(*tables(moves, dwellings))


def test_empty_inputs() -> None:
    mv, dw = tables(*example())
    only_build = flyttkedja.trace(mv.slice(0, 0), dw)  # window from the completion dates
    assert only_build.chains.select("length", "end_reason").rows() == [(0, "censored")]
    assert len(flyttkedja.trace(mv.slice(0, 0), dw.slice(0, 0))) == 0
    late = flyttkedja.trace(mv, dw, "all", window=("2030-01-01", "2030-02-01"))
    assert len(late) == 0 and late.quality["moves_outside_window"] == 3


@pytest.mark.parametrize("shape", [10, (2, 3_000_000)])  # plain numpy, and a huge-page mapping (24 MB)
def test_scratch_arrays_are_writable_and_reach_the_kernels(shape) -> None:
    from flyttkedja.core import _kernels as K
    from flyttkedja._scratch import scratch

    out = scratch(shape, np.int32)
    assert out.shape == (shape if isinstance(shape, tuple) else (shape,)) and out.dtype == np.int32
    assert out.flags.writeable and out.flags.c_contiguous
    flat = out.reshape(-1)
    n = flat.size
    step = scratch(n, np.int64)
    K._end_codes(step, np.full(n, -1, np.int32), np.zeros(n, bool), np.full(n, 2, np.int8))  # numba writes into it
    assert (step == -2).all()  # origin 2 (in_migrant): END_REASONS[1]
    # a mapping is handed out again only once nothing refers to it (here: a view of ``step``)
    view, address = step[1:], step.ctypes.data
    del step
    other = scratch(n, np.int64, zero=True)
    assert other.ctypes.data != address or n * 8 < (4 << 20)
    del view
    again = scratch(n, np.int64, zero=True)  # reused when big, and zeroed as asked
    assert (again == 0).all() and (again.ctypes.data == address or n * 8 < (4 << 20))
    # the public release gives back idle mappings only: ``again`` is held, ``other`` idle once deleted
    from flyttkedja._scratch import idle_bytes

    del other
    flyttkedja.release_scratch()
    assert idle_bytes() == 0
    again[:] = 7  # still mapped
    assert (again == 7).all()


def test_chainset_by_keyword_positional_and_replace():
    """The documented keywords (moves=, dwellings=) build the same ChainSet as positions and
    dataclasses.replace; the register is required exactly once."""
    import dataclasses

    from flyttkedja.core import ChainSet

    moves, dwellings = naive.random_register(random.Random(5), n_dwellings=8, n_days=20, p_corrupt=0.0)
    cs = flyttkedja.trace(*tables(moves, dwellings), seeds="all")
    by_kw = ChainSet(chains=cs.chains, links=cs.links, moves=cs.moves, dwellings=cs.dwellings,
                     params=cs.params, quality=cs.quality)
    by_pos = ChainSet(cs.chains, cs.links, cs.moves, cs.dwellings, cs.params, cs.quality)
    replaced = dataclasses.replace(cs, chains=cs.chains.head(1))
    for other in (by_kw, by_pos):
        assert other.chains.equals(cs.chains) and other.moves.equals(cs.moves)
        assert other.dwellings.equals(cs.dwellings) and other.convention == cs.convention
    assert replaced.chains.height == 1 and replaced.moves.equals(cs.moves) and replaced.params == cs.params
    with pytest.raises(TypeError, match="moves and dwellings"):
        ChainSet(cs.chains, cs.links, cs.moves)
