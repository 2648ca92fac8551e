"""Exact assignment of provider capacity to need slots.

Without team needs the problem is a min-cost flow (OR-Tools `SimpleMinCostFlow`): source →
one node per (need, role) with its slots → provider along each edge (capacity 1, the edge's
cost) → sink within the provider's capacity, and an "unfilled" arc from each (need, role)
node to the sink at the need's unfilled cost, so every slot is either filled or paid for
and the optimum is exact. A need that must be filled completely or not at all breaks the
flow structure; then CP-SAT solves the integer model under a time limit and reports its
proven bound and gap."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from matching.engine.problem import Problem


@dataclass(frozen=True)
class Assignment:
    need: str
    provider: str


@dataclass(frozen=True)
class Solution:
    """`status` is OPTIMAL (proven), FEASIBLE (time limit reached; `bound` and `gap` say how
    far from the optimum it may be) or UNKNOWN (no solution within the time limit)."""

    status: str
    objective: int | None
    assignments: tuple[Assignment, ...] = ()
    bound: int | None = None
    gap: float | None = None
    method: str = "min_cost_flow"
    unfilled: tuple[tuple[str, str, int], ...] = field(default=())  # (need, role, slots)

    def as_json(self) -> dict:
        data = {
            "status": self.status,
            "objective": self.objective,
            "assignments": [{"need": a.need, "provider": a.provider} for a in self.assignments],
            "method": self.method,
        }
        if self.method == "cp_sat":
            data["bound"] = self.bound
            data["gap"] = self.gap
        return data


def objective_of(problem: Problem, assignments) -> int:
    """The objective of any assignment: used edge costs plus, for every unfilled slot, its
    need's unfilled cost (independent of the solver, for checking it)."""
    cost = {(e.need, e.provider): e.cost for e in problem.edges}
    role = {p.id: p.role for p in problem.providers}
    filled: dict[tuple[str, str], int] = defaultdict(int)
    total = 0
    for a in assignments:
        total += cost[(a.need, a.provider)]
        filled[(a.need, role[a.provider])] += 1
    for need in problem.needs:
        for slot_role, count in need.slots:
            total += need.unfilled_cost * (count - min(count, filled[(need.id, slot_role)]))
    return total


def solve(problem: Problem, *, time_limit_s: float = 30.0) -> Solution:
    """Exact min-cost assignment of provider capacity to need slots; never mutates
    `problem`. Team needs (`complete_only`) go to CP-SAT within `time_limit_s`."""
    if problem.has_teams:
        return _solve_cp_sat(problem, time_limit_s=time_limit_s)
    return _solve_flow(problem)


def _solve_flow(problem: Problem) -> Solution:
    from ortools.graph.python import min_cost_flow

    flow = min_cost_flow.SimpleMinCostFlow()
    source, sink = 0, 1
    slot_node: dict[tuple[str, str], int] = {}
    next_node = 2
    total = 0
    for need in problem.needs:
        for role, count in need.slots:
            slot_node[(need.id, role)] = node = next_node
            next_node += 1
            total += count
            flow.add_arc_with_capacity_and_unit_cost(source, node, count, 0)
            flow.add_arc_with_capacity_and_unit_cost(node, sink, count, need.unfilled_cost)
    provider_node: dict[str, int] = {}
    roles: dict[str, str] = {}
    for provider in problem.providers:
        provider_node[provider.id] = node = next_node
        next_node += 1
        roles[provider.id] = provider.role
        flow.add_arc_with_capacity_and_unit_cost(node, sink, provider.capacity, 0)
    edge_arcs = []
    for edge in problem.edges:
        start = slot_node.get((edge.need, roles[edge.provider]))
        if start is None:  # the need declares the role with no slot
            continue
        arc = flow.add_arc_with_capacity_and_unit_cost(
            start, provider_node[edge.provider], 1, edge.cost
        )
        edge_arcs.append((arc, edge))
    flow.set_node_supply(source, total)
    flow.set_node_supply(sink, -total)
    if total == 0:
        return Solution(status="OPTIMAL", objective=0)
    status = flow.solve()
    if status != flow.OPTIMAL:  # cannot happen: the unfilled arcs always carry the supply
        return Solution(status="UNKNOWN", objective=None)
    assignments = tuple(
        sorted(
            (Assignment(edge.need, edge.provider) for arc, edge in edge_arcs if flow.flow(arc)),
            key=lambda a: (a.need, a.provider),
        )
    )
    return Solution(status="OPTIMAL", objective=int(flow.optimal_cost()), assignments=assignments)


def _solve_cp_sat(problem: Problem, *, time_limit_s: float) -> Solution:
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    roles = {p.id: p.role for p in problem.providers}
    needs = {n.id: n for n in problem.needs}
    x = {}
    by_slot: dict[tuple[str, str], list] = defaultdict(list)
    by_provider: dict[str, list] = defaultdict(list)
    costs = []
    for edge in problem.edges:
        role = roles[edge.provider]
        if not needs[edge.need].slots_for(role):
            continue
        var = model.new_bool_var(f"x_{len(x)}")
        x[(edge.need, edge.provider)] = var
        by_slot[(edge.need, role)].append(var)
        by_provider[edge.provider].append(var)
        costs.append(edge.cost * var)
    for provider in problem.providers:
        if by_provider[provider.id]:
            model.add(sum(by_provider[provider.id]) <= provider.capacity)
    unfilled = []
    for need in problem.needs:
        if need.complete_only:
            complete = model.new_bool_var(f"complete_{need.id}")
            for role, count in need.slots:
                model.add(sum(by_slot[(need.id, role)]) == count * complete)
            unfilled.append(need.unfilled_cost * need.total_slots * (1 - complete))
        else:
            for role, count in need.slots:
                model.add(sum(by_slot[(need.id, role)]) <= count)
                unfilled.append(need.unfilled_cost * (count - sum(by_slot[(need.id, role)])))
    model.minimize(sum(costs) + sum(unfilled))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    # One worker and a fixed seed: the same problem gives the same solution.
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solution(status="UNKNOWN", objective=None, method="cp_sat")
    objective = int(round(solver.objective_value))
    bound = int(round(solver.best_objective_bound))
    assignments = tuple(
        sorted(
            (Assignment(n, p) for (n, p), var in x.items() if solver.value(var)),
            key=lambda a: (a.need, a.provider),
        )
    )
    gap = 0.0 if objective == bound else abs(objective - bound) / max(1, abs(objective))
    return Solution(
        status="OPTIMAL" if status == cp_model.OPTIMAL else "FEASIBLE",
        objective=objective,
        assignments=assignments,
        bound=bound,
        gap=gap,
        method="cp_sat",
    )
