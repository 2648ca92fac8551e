"""Validation after the bulk rewrite: every refusal still refuses with its reason, the bulk
pass never vouches for a problem the item-by-item pass refuses, both passes build the same
problem, and the arrays the bulk pass hands over equal those rebuilt from the dataclasses."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.engine import Edge, EdgeTable, Need, Problem, ProblemError, Provider, parse_problem
from matching.engine.problem import _parse_bulk, _parse_itemwise, _Unsure
from tests.matching.engine.test_engine import problems

GOOD = {
    "version": 1,
    "needs": [
        {"id": "N1", "slots": {"volunteer": 1, "social_worker": 0}, "unfilled_cost": 10},
        {"id": "N2", "slots": {"volunteer": 2}, "unfilled_cost": 5, "tile": "T1"},
    ],
    "providers": [
        {"id": "P1", "role": "volunteer", "capacity": 1},
        {"id": "S1", "role": "social_worker", "capacity": 2, "tile": "T1"},
    ],
    "edges": [
        {"need": "N1", "provider": "P1", "cost": 3},
        {"need": "N2", "provider": "P1", "cost": 4},
        {"need": "N1", "provider": "S1", "cost": 1},
    ],
}


def _with(path, value):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _without(path):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


REFUSALS = [
    ([], "问题应为 JSON 对象"),
    ("text", "问题应为 JSON 对象"),
    (_with(["version"], 2), "不支持的格式版本 2"),
    (_without(["needs"]), "缺少列表“needs”"),
    (_with(["providers"], {}), "缺少列表“providers”"),
    (_without(["edges"]), "缺少列表“edges”"),
    (_with(["needs", 1], "N2"), "needs[1]：应为对象"),
    (_with(["needs", 0, "id"], ""), "needs[0].id：应为非空字符串"),
    (_with(["needs", 0, "id"], "  "), "needs[0].id：应为非空字符串"),
    (_with(["needs", 0, "id"], 7), "needs[0].id：应为非空字符串"),
    (_with(["needs", 1, "id"], "N1"), "needs[1]：需求编号 N1 重复"),
    (_with(["needs", 0, "slots"], {}), "needs[0].slots：应为非空对象"),
    (_with(["needs", 0, "slots"], [["volunteer", 1]]), "needs[0].slots：应为非空对象"),
    (_with(["needs", 0, "slots"], {" ": 1}), "needs[0].slots 的角色"),
    (_with(["needs", 0, "slots", "volunteer"], -1), "needs[0].slots.volunteer：不能小于 0"),
    (_with(["needs", 0, "slots", "volunteer"], 1.0), "needs[0].slots.volunteer：应为整数"),
    (_with(["needs", 0, "slots", "volunteer"], True), "needs[0].slots.volunteer：应为整数"),
    (_with(["needs", 0, "complete_only"], 1), "needs[0].complete_only：应为 true 或 false"),
    (_without(["needs", 0, "unfilled_cost"]), "needs[0].unfilled_cost：应为整数"),
    (_with(["needs", 0, "unfilled_cost"], -3), "needs[0].unfilled_cost：不能小于 0"),
    (_with(["needs", 0, "unfilled_cost"], False), "needs[0].unfilled_cost：应为整数"),
    (_with(["needs", 1, "tile"], ""), "needs[1].tile：应为非空字符串"),
    (_with(["needs", 1, "tile"], 3), "needs[1].tile：应为非空字符串"),
    (_with(["providers", 0], None), "providers[0]：应为对象"),
    (_with(["providers", 0, "id"], None), "providers[0].id：应为非空字符串"),
    (_with(["providers", 1, "id"], "P1"), "providers[1]：服务方编号 P1 重复"),
    (_with(["providers", 0, "role"], ""), "providers[0].role：应为非空字符串"),
    (_without(["providers", 0, "role"]), "providers[0].role：应为非空字符串"),
    (_with(["providers", 0, "capacity"], -1), "providers[0].capacity：不能小于 0"),
    (_with(["providers", 0, "capacity"], 2.5), "providers[0].capacity：应为整数"),
    (_with(["providers", 0, "capacity"], True), "providers[0].capacity：应为整数"),
    (_with(["providers", 1, "tile"], " "), "providers[1].tile：应为非空字符串"),
    (_with(["edges", 2], ["N1", "S1", 1]), "edges[2]：应为对象"),
    (_without(["edges", 0, "need"]), "edges[0].need：应为非空字符串"),
    (_with(["edges", 0, "provider"], ""), "edges[0].provider：应为非空字符串"),
    (_with(["edges", 1, "need"], "N9"), "edges[1]：未知的需求编号 N9"),
    (_with(["edges", 1, "provider"], "P9"), "edges[1]：未知的服务方编号 P9"),
    (_with(["edges", 2, "provider"], "P1"), "edges[2]：需求 N1 与服务方 P1 的边重复"),
    (_with(["edges", 1, "provider"], "S1"), "需求 N2 没有“social_worker”角色的名额"),
    (_with(["edges", 0, "cost"], 2.5), "edges[0].cost：应为整数"),
    (_with(["edges", 0, "cost"], True), "edges[0].cost：应为整数"),
    (_with(["edges", 0, "cost"], "3"), "edges[0].cost：应为整数"),
    (_without(["edges", 0, "cost"]), "edges[0].cost：应为整数"),
]


@pytest.mark.parametrize(("data", "message"), REFUSALS)
def test_every_refusal_still_refuses_with_its_reason(data, message):
    with pytest.raises(_Unsure):
        _parse_bulk(data)  # the bulk pass never vouches for it
    with pytest.raises(ProblemError) as exc:
        parse_problem(data)
    assert message in str(exc.value)


def test_a_good_problem_is_vouched_for_in_bulk_and_keeps_its_fields():
    problem = _parse_bulk(GOOD)
    assert problem == _parse_itemwise(GOOD) == parse_problem(GOOD)
    assert problem.needs[0] == Need("N1", (("volunteer", 1),), 10)
    assert problem.needs[1].tile == "T1" and problem.providers[1].tile == "T1"
    assert list(problem.edges) == [Edge("N1", "P1", 3), Edge("N2", "P1", 4), Edge("N1", "S1", 1)]


def test_a_declared_zero_slot_role_still_admits_its_edges():
    # N1 declares social_worker with 0 places: the edge is valid but never used.
    problem = parse_problem(GOOD)
    assert problem.arrays.edge_slot.tolist()[2] == -1


MUTANTS = st.sampled_from(
    [None, -1, 0, 1, 2.5, True, False, "", " ", "x", "N1", "P1", "T1", [], {}, 10**30]
)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), base=problems(teams=True))
def test_bulk_and_itemwise_agree_on_any_mutation(data, base):
    """Whatever single field is changed, parse_problem answers as the item-by-item pass
    does, and the bulk pass vouches only for problems that pass accepts."""
    mutated = copy.deepcopy(base)
    section = data.draw(st.sampled_from(["needs", "providers", "edges"]))
    rows = mutated[section]
    if rows:
        row = rows[data.draw(st.integers(0, len(rows) - 1))]
        key = data.draw(
            st.sampled_from(
                sorted(row)
                + ["tile", "complete_only", "slots.volunteer", "slots.extra", "need", "provider"]
            )
        )
        value = data.draw(MUTANTS)
        if key.startswith("slots.") and isinstance(row.get("slots"), dict):
            row["slots"][key.split(".")[1]] = value
        else:
            row[key] = value
    try:
        expected = _parse_itemwise(mutated)
    except ProblemError as exc:
        expected = str(exc)
    try:
        got = parse_problem(mutated)
    except ProblemError as exc:
        got = str(exc)
    assert got == expected
    try:
        bulk = _parse_bulk(mutated)
    except _Unsure:
        return
    assert bulk == expected


@settings(max_examples=100, deadline=None)
@given(problems(teams=True))
def test_bulk_arrays_equal_arrays_rebuilt_from_the_dataclasses(data):
    parsed = parse_problem(data)
    rebuilt = Problem(
        needs=parsed.needs, providers=parsed.providers, edges=tuple(parsed.edges)
    ).arrays
    for name, value in vars(parsed.arrays).items():
        if name.startswith("_") or name in {"need_index", "provider_index"}:
            continue
        other = getattr(rebuilt, name)
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, other), name
        else:
            assert value == other, name


def test_dataclass_problems_with_unknown_ids_are_refused_when_solved():
    problem = Problem(
        needs=(Need("N1", (("volunteer", 1),), 5),),
        providers=(Provider("P1", "volunteer", 1),),
        edges=(Edge("N1", "P2", 1),),
    )
    with pytest.raises(ProblemError, match="未知的编号 P2"):
        _ = problem.arrays


def test_edge_table_stands_for_the_tuple_of_edges():
    edges = (Edge("N1", "P1", 3), Edge("N2", "P1", 4), Edge("N1", "S1", 1))
    table = EdgeTable([e.need for e in edges], [e.provider for e in edges], [1, 2, 3])
    table = EdgeTable(table.needs, table.providers, [e.cost for e in edges])
    assert table == edges and edges == table and list(table) == list(edges)
    assert hash(table) == hash(edges) and len(table) == 3
    assert table[0] == edges[0] and table[-1] == edges[-1]
    assert table[1:] == edges[1:] and isinstance(table[1:], EdgeTable)
    assert table != edges[:2] and table != "edges"
    assert repr(table) == "EdgeTable(3 edges)"
    with pytest.raises(ValueError):
        EdgeTable(["N1"], [], [])
    with pytest.raises(IndexError):
        table[3]
