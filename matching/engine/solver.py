"""Exact assignment of provider capacity to need slots.

Without team needs the problem is a min-cost flow (OR-Tools `SimpleMinCostFlow`): source →
one node per (need, role) with its slots → provider along each edge (capacity 1, the edge's
cost) → sink within the provider's capacity, and an "unfilled" arc from each (need, role)
node to the sink at the need's unfilled cost, so every slot is either filled or paid for
and the optimum is exact. A need that must be filled completely or not at all breaks the
flow structure; then CP-SAT solves the integer model under a time limit and reports its
proven bound and gap.

Both solvers work on a block of the problem (some slots, the edges into them, the capacity
left to each provider): the whole problem is one block, and a tiled solve (`tiles.py`) is a
sequence of them. Before the flow, edges that no optimal solution needs are dropped by an
exact reduction (`reduce_edges`): where providers are plentiful, as in a city, this leaves
a small fraction of the graph. Arcs are built and flows read as numpy arrays in one call
each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable

    from matching.engine.arrays import ProblemArrays
    from matching.engine.problem import Problem


@dataclass(frozen=True)
class Assignment:
    need: str
    provider: str


@dataclass(frozen=True)
class Solution:
    """`status` is OPTIMAL (proven), FEASIBLE (time limit reached, or a tiled solve; for
    CP-SAT `bound` and `gap` say how far from the optimum it may be) or UNKNOWN (no solution
    within the time limit)."""

    status: str
    objective: int | None
    assignments: tuple[Assignment, ...] = ()
    bound: int | None = None
    gap: float | None = None
    method: str = "min_cost_flow"
    unfilled: tuple[tuple[str, str, int], ...] = field(default=())  # (need, role, slots)

    def as_json(self) -> dict:
        """The solution as printed by the command line; `bound` and `gap` only for CP-SAT."""
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


def objective_of(problem: Problem, assignments: Iterable[Assignment]) -> int:
    """The objective of any assignment: used edge costs plus, for every unfilled slot, its
    need's unfilled cost (independent of the solver, for checking it). An assignment listed
    twice counts twice; one that is not an edge of the problem raises KeyError."""
    arrays = problem.arrays
    assignments = list(assignments)
    need_index, provider_index = arrays.need_index, arrays.provider_index
    need = np.fromiter((need_index[a.need] for a in assignments), np.int64, len(assignments))
    provider = np.fromiter(
        (provider_index[a.provider] for a in assignments), np.int64, len(assignments)
    )
    return edges_objective(arrays, arrays.edge_at(need, provider))


def edges_objective(arrays: ProblemArrays, edges: np.ndarray) -> int:
    """`objective_of` for assignments given as edge positions (repeats count again)."""
    filled = np.bincount(arrays.edge_slot[edges] + 1, minlength=arrays.slot_count.size + 1)[1:]
    short = arrays.slot_count - np.minimum(arrays.slot_count, filled)
    return int(arrays.edge_cost[edges].sum()) + int((arrays.slot_unfilled * short).sum())


def solve(
    problem: Problem, *, time_limit_s: float = 30.0, tiled: bool = False, passes: int = 1
) -> Solution:
    """Exact min-cost assignment of provider capacity to need slots; never mutates
    `problem`. Team needs (`complete_only`) go to CP-SAT within `time_limit_s`. With
    `tiled`, the problem is solved tile by tile (see `solve_tiled`; `passes` goes there)."""
    if tiled:
        from matching.engine.tiles import solve_tiled

        return solve_tiled(problem, time_limit_s=time_limit_s, passes=passes)
    arrays = problem.arrays
    slots = np.arange(arrays.slot_count.size)
    edges = arrays.edges_by_slot
    if problem.has_teams:
        block = cp_sat_block(arrays, slots, edges, arrays.provider_capacity, time_limit_s)
        if block.status == "UNKNOWN":
            return Solution(status="UNKNOWN", objective=None, method="cp_sat")
        return Solution(
            status=block.status,
            objective=block.objective,
            assignments=assignments_of(arrays, block.chosen),
            bound=block.bound,
            gap=0.0 if block.objective == block.bound else _gap(block.objective, block.bound),
            method="cp_sat",
        )
    block = flow_block(arrays, slots, edges, arrays.provider_capacity)
    if block.status == "UNKNOWN":  # cannot happen: the unfilled arcs always carry the supply
        return Solution(status="UNKNOWN", objective=None)
    return Solution(
        status="OPTIMAL",
        objective=block.objective,
        assignments=assignments_of(arrays, block.chosen),
    )


def _gap(objective: int, bound: int) -> float:
    return abs(objective - bound) / max(1, abs(objective))


def assignments_of(arrays: ProblemArrays, chosen: np.ndarray) -> tuple[Assignment, ...]:
    """The chosen edges (positions) as assignments sorted by (need, provider) id."""
    need_ids, provider_ids = arrays.need_ids, arrays.provider_ids
    pairs = sorted(
        zip(
            map(need_ids.__getitem__, arrays.edge_need[chosen].tolist()),
            map(provider_ids.__getitem__, arrays.edge_provider[chosen].tolist()),
            strict=True,
        )
    )
    return tuple(Assignment(need, provider) for need, provider in pairs)


@dataclass(frozen=True)
class Block:
    """The result of solving one block: `chosen` are edge positions carrying a provider,
    `objective` is their cost plus the unfilled cost of the block's slots."""

    status: str  # OPTIMAL, FEASIBLE or UNKNOWN
    objective: int | None
    chosen: np.ndarray
    bound: int | None = None


_NOTHING = np.zeros(0, dtype=np.int64)


def reduce_edges(
    arrays: ProblemArrays, edges: np.ndarray, capacity: np.ndarray, provider: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which of `edges` (positions in `ProblemArrays.edges_by_slot` order) some optimal
    solution of the block needs, keeping the optimal objective exact; `provider` numbers
    each edge's provider within the block and `capacity` is indexed by that number. Returns
    a keep mask and, for each kept edge, whether its provider is free (capacity at least
    the kept edges reaching it, so that capacity cannot bind).

    Why it is exact: an edge costing at least its need's unfilled cost can be swapped for
    leaving the slot open; and a slot of count c never needs an edge costing at least its
    c-th cheapest edge to a free provider, since a used one can be swapped for an unused
    one of those c. Dropping edges frees more providers, so this repeats a few rounds."""
    slot = arrays.edge_slot[edges]
    cost = arrays.edge_cost[edges]
    kept = np.flatnonzero(cost < arrays.slot_unfilled[slot])
    threshold = np.empty(arrays.slot_count.size, dtype=np.int64)
    for _round in range(4):
        slot_k, cost_k, provider_k = slot[kept], cost[kept], provider[kept]
        free = (capacity >= np.bincount(provider_k, minlength=capacity.size))[provider_k]
        starts, run = _runs(slot_k)
        count = arrays.slot_count[slot_k]
        free_before = np.cumsum(free) - free
        free_rank = free_before - free_before[starts][run]  # among the slot's free edges
        nth = free & (free_rank == count - 1)
        threshold[slot_k] = np.iinfo(np.int64).max
        threshold[slot_k[nth]] = cost_k[nth]
        keep = (cost_k < threshold[slot_k]) | (free & (free_rank < count))
        if keep.all():
            break
        kept = kept[keep]
    else:
        provider_k = provider[kept]
        free = (capacity >= np.bincount(provider_k, minlength=capacity.size))[provider_k]
    mask = np.zeros(edges.size, dtype=bool)
    mask[kept] = True
    return mask, free


def _by_slot(arrays: ProblemArrays, edges: np.ndarray) -> np.ndarray:
    """`edges` in (slot, cost, position) order: as given when they already are (the
    callers keep that order; this only checks it), else sorted."""
    slot, cost = arrays.edge_slot[edges], arrays.edge_cost[edges]
    same = slot[1:] == slot[:-1]
    ordered = (slot[1:] > slot[:-1]) | (same & (cost[1:] > cost[:-1]))
    ordered |= same & (cost[1:] == cost[:-1]) & (edges[1:] > edges[:-1])
    if ordered.all():
        return edges
    return edges[np.lexsort((edges, cost, slot))]


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For keys in sorted order: where each run of equal keys starts, and each key's run."""
    change = np.empty(sorted_keys.size, dtype=bool)
    change[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    return np.flatnonzero(change), np.cumsum(change) - 1


def rank_in_run(sorted_keys: np.ndarray) -> np.ndarray:
    """For keys in sorted order, the position of each key within its run."""
    starts, run = _runs(sorted_keys)
    return np.arange(sorted_keys.size) - starts[run]


def compact(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct `values` (all in range(size)) ascending, and each value's index among
    them: np.unique with return_inverse, by a mask rather than a sort or a hash table."""
    seen = np.zeros(size, dtype=bool)
    seen[values] = True
    distinct = np.flatnonzero(seen)
    index = np.empty(size, dtype=np.int64)
    index[distinct] = np.arange(distinct.size)
    return distinct, index[values]


def flow_block(
    arrays: ProblemArrays, slots: np.ndarray, edges: np.ndarray, capacity: np.ndarray
) -> Block:
    """The exact min-cost flow over `slots` (positions) and `edges` (positions whose slots
    are all among `slots`; best in `ProblemArrays.edges_by_slot` order, else they are
    sorted), each provider limited to `capacity[provider]`. Edges that fill no slot are
    ignored. The status is OPTIMAL, or UNKNOWN if OR-Tools fails.

    The edges are first reduced (`reduce_edges`). A slot left with free providers only
    takes its cheapest edges outright; the others go into the flow, where an edge to a free
    provider runs straight to the sink and only contested providers get a node."""
    from ortools.graph.python import min_cost_flow

    edges = _by_slot(arrays, edges[arrays.edge_slot[edges] >= 0])
    reached, provider = compact(arrays.edge_provider[edges], capacity.size)
    keep, free = reduce_edges(arrays, edges, capacity[reached], provider)
    edges, provider = edges[keep], provider[keep]
    slot = arrays.edge_slot[edges]
    contested = np.zeros(arrays.slot_count.size, dtype=bool)
    contested[slot[~free]] = True
    in_flow = contested[slot]
    # Slots with free providers only take their first `count` edges (cheapest first).
    taken = edges[~in_flow & (rank_in_run(slot) < arrays.slot_count[slot])]
    open_slots = slots[~contested[slots]]
    filled = np.bincount(arrays.edge_slot[taken], minlength=arrays.slot_count.size)
    short = arrays.slot_count[open_slots] - filled[open_slots]
    fixed = int(arrays.edge_cost[taken].sum()) + int(
        (arrays.slot_unfilled[open_slots] * short).sum()
    )
    slots = slots[contested[slots]]
    edges, provider, free = edges[in_flow], provider[in_flow], free[in_flow]
    total = int(arrays.slot_count[slots].sum())
    if total == 0:
        return Block("OPTIMAL", fixed, np.sort(taken))

    source, sink, first = 0, 1, 2
    count = arrays.slot_count[slots]
    slot_nodes = np.arange(first, first + slots.size, dtype=np.int64)
    local = np.empty(arrays.slot_count.size, dtype=np.int64)
    local[slots] = slot_nodes
    held, held_index = compact(provider[~free], reached.size)
    base = first + slots.size
    edge_heads = np.full(edges.size, sink, dtype=np.int64)
    edge_heads[~free] = base + held_index

    def pairs(first: np.ndarray | int, second: np.ndarray | int) -> np.ndarray:
        # source → slot and slot → sink for each slot in turn
        return np.column_stack(np.broadcast_arrays(first, second)).ravel()

    provider_nodes = np.arange(base, base + held.size, dtype=np.int64)
    tails = (pairs(source, slot_nodes), provider_nodes, local[arrays.edge_slot[edges]])
    heads = (pairs(slot_nodes, sink), np.full(held.size, sink), edge_heads)
    caps = (pairs(count, count), capacity[reached[held]], np.ones(edges.size, dtype=np.int64))
    costs = (
        pairs(0, arrays.slot_unfilled[slots]),
        np.zeros(held.size, dtype=np.int64),
        arrays.edge_cost[edges],
    )
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails), np.concatenate(heads), np.concatenate(caps), np.concatenate(costs)
    )
    flow.set_node_supply(source, total)
    flow.set_node_supply(sink, -total)
    if flow.solve() != flow.OPTIMAL:
        return Block("UNKNOWN", None, _NOTHING)
    carried = flow.flows(arcs[arcs.size - edges.size :])
    chosen = np.sort(np.concatenate((taken, edges[carried > 0])))
    return Block("OPTIMAL", fixed + int(flow.optimal_cost()), chosen)


def cp_sat_block(
    arrays: ProblemArrays,
    slots: np.ndarray,
    edges: np.ndarray,
    capacity: np.ndarray,
    time_limit_s: float,
) -> Block:
    """The min-cost assignment over `slots` and `edges` (as in `flow_block`) where a need
    marked complete_only gets all its slots or none, by CP-SAT within `time_limit_s`.
    `slots` must hold every slot of each of its needs. OPTIMAL carries a proven bound equal
    to the objective; FEASIBLE a bound below it; UNKNOWN no solution."""
    from ortools.sat.python import cp_model

    edges = np.sort(edges)  # variables in edge order, whatever order the caller keeps
    model = cp_model.CpModel()
    edge_slot = arrays.edge_slot[edges].tolist()
    edge_provider = arrays.edge_provider[edges].tolist()
    edge_cost = arrays.edge_cost[edges].tolist()
    x = [model.new_bool_var(f"x_{i}") for i in range(edges.size)]
    by_slot: dict[int, list] = {}
    by_provider: dict[int, list] = {}
    for var, slot, provider in zip(x, edge_slot, edge_provider, strict=True):
        by_slot.setdefault(slot, []).append(var)
        by_provider.setdefault(provider, []).append(var)
    for provider in sorted(by_provider):
        model.add(sum(by_provider[provider]) <= int(capacity[provider]))
    variables, weights, constant = list(x), list(edge_cost), 0
    slot_need = arrays.slot_need[slots].tolist()
    slot_count = arrays.slot_count[slots].tolist()
    by_need: dict[int, list[tuple[int, int]]] = {}
    for slot, need, count in zip(slots.tolist(), slot_need, slot_count, strict=True):
        by_need.setdefault(need, []).append((slot, count))
    for need, need_slots in by_need.items():
        unfilled = int(arrays.need_unfilled[need])
        if arrays.need_complete[need]:
            complete = model.new_bool_var(f"complete_{arrays.need_ids[need]}")
            for slot, count in need_slots:
                model.add(sum(by_slot.get(slot, [])) == count * complete)
            # unfilled · all slots · (1 − complete)
            total = sum(count for _slot, count in need_slots)
            constant += unfilled * total
            variables.append(complete)
            weights.append(-unfilled * total)
        else:
            for slot, count in need_slots:
                taken = by_slot.get(slot, [])
                model.add(sum(taken) <= count)
                # unfilled · (count − taken)
                constant += unfilled * count
                variables.extend(taken)
                weights.extend([-unfilled] * len(taken))
    model.minimize(cp_model.LinearExpr.weighted_sum(variables, weights) + constant)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    # One worker and a fixed seed: the same problem gives the same solution.
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Block("UNKNOWN", None, _NOTHING)
    taken = np.fromiter((solver.boolean_value(var) for var in x), bool, len(x))
    return Block(
        "OPTIMAL" if status == cp_model.OPTIMAL else "FEASIBLE",
        int(round(solver.objective_value)),
        edges[taken],
        int(round(solver.best_objective_bound)),
    )
