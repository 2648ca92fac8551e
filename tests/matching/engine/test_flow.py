"""The vectorised, reduced flow against a plain min-cost flow built arc by arc (the model
the engine is defined by) on instances too big for brute force, with contested providers;
problems built from dataclasses (as the snapshot does) solve as parsed ones do; and
objective_of on its own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.engine import Assignment, Problem, objective_of, parse_problem, solve
from tests.matching.engine.test_engine import ROLES, feasible


@st.composite
def crowded_problems(draw):
    needs = [
        {
            "id": f"N{n}",
            "slots": {role: draw(st.integers(0, 3)) for role in ROLES},
            "unfilled_cost": draw(st.integers(0, 60)),
        }
        for n in range(draw(st.integers(1, 14)))
    ]
    providers = [
        {"id": f"P{p}", "role": draw(st.sampled_from(ROLES)), "capacity": draw(st.integers(0, 3))}
        for p in range(draw(st.integers(1, 10)))
    ]
    density = draw(st.floats(0.1, 1.0))
    edges = []
    for need in needs:
        for provider in providers:
            if draw(st.floats(0, 1)) < density:
                cost = draw(st.integers(-5, 70))
                edges.append({"need": need["id"], "provider": provider["id"], "cost": cost})
    return {"version": 1, "needs": needs, "providers": providers, "edges": edges}


def plain_flow(problem) -> int:
    """Source → (need, role) → provider → sink, one arc at a time, nothing reduced."""
    from ortools.graph.python import min_cost_flow

    flow = min_cost_flow.SimpleMinCostFlow()
    node, total = {}, 0
    for need in problem.needs:
        for role, count in need.slots:
            node[(need.id, role)] = len(node) + 2
            total += count
            flow.add_arc_with_capacity_and_unit_cost(0, node[(need.id, role)], count, 0)
            flow.add_arc_with_capacity_and_unit_cost(
                node[(need.id, role)], 1, count, need.unfilled_cost
            )
    role = {}
    for provider in problem.providers:
        node[provider.id] = len(node) + 2
        role[provider.id] = provider.role
        flow.add_arc_with_capacity_and_unit_cost(node[provider.id], 1, provider.capacity, 0)
    for edge in problem.edges:
        start = node.get((edge.need, role[edge.provider]))
        if start is not None:
            flow.add_arc_with_capacity_and_unit_cost(start, node[edge.provider], 1, edge.cost)
    if total == 0:
        return 0
    flow.set_node_supply(0, total)
    flow.set_node_supply(1, -total)
    assert flow.solve() == flow.OPTIMAL
    return flow.optimal_cost()


@settings(max_examples=300, deadline=None)
@given(crowded_problems())
def test_the_reduced_vectorised_flow_equals_the_plain_flow(data):
    problem = parse_problem(data)
    solution = solve(problem)
    assert solution.status == "OPTIMAL" and solution.method == "min_cost_flow"
    assert solution.objective == plain_flow(problem)
    assert feasible(problem, list(solution.assignments))
    assert objective_of(problem, solution.assignments) == solution.objective


@settings(max_examples=100, deadline=None)
@given(crowded_problems())
def test_a_problem_built_from_dataclasses_solves_as_the_parsed_one(data):
    parsed = parse_problem(data)
    built = Problem(needs=parsed.needs, providers=parsed.providers, edges=tuple(parsed.edges))
    assert built == parsed and hash(built) == hash(parsed)
    assert solve(built) == solve(parsed)


def test_objective_of_counts_repeats_and_refuses_non_edges():
    problem = parse_problem(
        {
            "needs": [{"id": "N1", "slots": {"volunteer": 2}, "unfilled_cost": 10}],
            "providers": [{"id": "P1", "role": "volunteer", "capacity": 1}],
            "edges": [{"need": "N1", "provider": "P1", "cost": 3}],
        }
    )
    assert objective_of(problem, []) == 20
    assert objective_of(problem, [Assignment("N1", "P1")]) == 13
    assert objective_of(problem, [Assignment("N1", "P1")] * 3) == 9  # beyond 2 earns nothing
    with pytest.raises(KeyError):
        objective_of(problem, [Assignment("N1", "P2")])
    with pytest.raises(KeyError):
        objective_of(problem, [Assignment("N2", "P1")])
