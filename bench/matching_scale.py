"""Matching engine at district scale, against a bare OR-Tools min-cost flow on the same
instance in the same process, and against first-come-first-served greedy assignment.

    .venv/bin/python bench/matching_scale.py                 # district: 10k needs × 50k providers
    .venv/bin/python bench/matching_scale.py --needs 2500 --providers 12500 --sizes 3

Generates a seeded instance in the problem format (JSON, version 1): needs in communities
on a grid, each asking for one or two volunteers and sometimes a social worker (emergencies
carry ten times the unfilled cost); providers in communities with a capacity of 1–3;
candidate edges to about `--degree` providers of the right role nearby, costed by distance
class plus noise. Writes it to a temporary file, then times: the engine (read the file,
validate, solve), the bare flow (read the file, build arrays, solve; no validation), and
greedy. Prints objectives, their ratios to the bare optimum, time ratios, and with
`--sizes N` the time growth exponent over N sizes doubling up to the given one.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matching.engine import objective_of, parse_problem, solve  # noqa: E402


def generate(needs: int, providers: int, degree: int, seed: int) -> dict:
    rng = random.Random(seed)  # noqa: S311 - a reproducible instance, not a secret
    side = max(2, int(math.sqrt(needs / 25)))
    community = lambda: (rng.randrange(side), rng.randrange(side))  # noqa: E731
    by_place: dict[tuple[str, tuple[int, int]], list[str]] = defaultdict(list)
    provider_rows = []
    for i in range(providers):
        role = "social_worker" if rng.random() < 0.1 else "volunteer"
        place = community()
        pid = f"P{i}"
        provider_rows.append({"id": pid, "role": role, "capacity": rng.randint(1, 3)})
        by_place[(role, place)].append(pid)
    need_rows, edges = [], []
    for n in range(needs):
        place = community()
        slots = {"volunteer": rng.randint(1, 2)}
        if rng.random() < 0.3:
            slots["social_worker"] = 1
        emergency = rng.random() < 0.05
        need_rows.append(
            {"id": f"N{n}", "slots": slots, "unfilled_cost": 10000 if emergency else 1000}
        )
        seen = set()
        for role in slots:
            want = degree if role == "volunteer" else max(2, degree // 5)
            for _ in range(want * 3):
                if len([1 for s in seen if s[1] == role]) >= want:
                    break
                dx, dy = rng.randint(-2, 2), rng.randint(-2, 2)
                spot = ((place[0] + dx) % side, (place[1] + dy) % side)
                candidates = by_place.get((role, spot))
                if not candidates:
                    continue
                pid = rng.choice(candidates)
                if (pid, role) in seen:
                    continue
                seen.add((pid, role))
                distance = max(abs(dx), abs(dy))
                edges.append(
                    {"need": f"N{n}", "provider": pid, "cost": 10 * distance + rng.randint(0, 9)}
                )
    return {"version": 1, "needs": need_rows, "providers": provider_rows, "edges": edges}


def bare_flow(path: Path) -> int:
    """The same model built straight into OR-Tools from the file, with numpy arrays."""
    import numpy as np
    from ortools.graph.python import min_cost_flow

    data = json.loads(path.read_text(encoding="utf-8"))
    slot_index: dict[tuple[str, str], int] = {}
    starts, ends, caps, costs = [], [], [], []
    node = 2
    total = 0
    for need in data["needs"]:
        for role, count in need["slots"].items():
            slot_index[(need["id"], role)] = node
            starts += [0, node]
            ends += [node, 1]
            caps += [count, count]
            costs += [0, need["unfilled_cost"]]
            total += count
            node += 1
    provider_index, roles = {}, {}
    for provider in data["providers"]:
        provider_index[provider["id"]] = node
        roles[provider["id"]] = provider["role"]
        starts.append(node)
        ends.append(1)
        caps.append(provider["capacity"])
        costs.append(0)
        node += 1
    for edge in data["edges"]:
        starts.append(slot_index[(edge["need"], roles[edge["provider"]])])
        ends.append(provider_index[edge["provider"]])
        caps.append(1)
        costs.append(edge["cost"])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.array(starts), np.array(ends), np.array(caps), np.array(costs)
    )
    flow.set_node_supply(0, total)
    flow.set_node_supply(1, -total)
    assert flow.solve() == flow.OPTIMAL
    return int(flow.optimal_cost())


def greedy(problem) -> int:
    """First come, first served: needs in order, each slot takes its cheapest free edge."""
    from matching.engine import Assignment

    left = {p.id: p.capacity for p in problem.providers}
    role = {p.id: p.role for p in problem.providers}
    by_need = defaultdict(list)
    for edge in problem.edges:
        by_need[edge.need].append(edge)
    chosen = []
    for need in problem.needs:
        open_slots = dict(need.slots)
        for edge in sorted(by_need[need.id], key=lambda e: e.cost):
            r = role[edge.provider]
            if open_slots.get(r, 0) > 0 and left[edge.provider] > 0:
                open_slots[r] -= 1
                left[edge.provider] -= 1
                chosen.append(Assignment(edge.need, edge.provider))
    return objective_of(problem, chosen)


def run(needs: int, providers: int, degree: int, seed: int) -> tuple[float, float]:
    data = generate(needs, providers, degree, seed)
    path = Path(tempfile.mkdtemp()) / "problem.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    edges = len(data["edges"])
    del data

    started = time.perf_counter()
    optimum = bare_flow(path)
    bare_s = time.perf_counter() - started

    started = time.perf_counter()
    problem = parse_problem(json.loads(path.read_text(encoding="utf-8")))
    parsed_s = time.perf_counter() - started
    solution = solve(problem)
    engine_s = time.perf_counter() - started

    started = time.perf_counter()
    fcfs = greedy(problem)
    greedy_s = time.perf_counter() - started

    print(f"{needs} needs × {providers} providers, {edges} edges")
    print(f"  bare OR-Tools flow:  objective {optimum}, {bare_s:.2f} s")
    print(
        f"  engine:              objective {solution.objective} ({solution.status}), "
        f"{engine_s:.2f} s (validation {parsed_s:.2f} s) = {engine_s / bare_s:.2f}× bare"
    )
    print(
        f"  greedy (FCFS):       objective {fcfs} = {fcfs / optimum:.3f}× the optimum, "
        f"{greedy_s:.2f} s"
    )
    assert solution.objective == optimum, "the engine must reach the optimum"
    return edges, engine_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--providers", type=int, default=50_000)
    parser.add_argument("--degree", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--sizes", type=int, default=1)
    args = parser.parse_args()
    points = []
    for k in reversed(range(args.sizes)):
        scale = 2**k
        points.append(run(args.needs // scale, args.providers // scale, args.degree, args.seed + k))
    if len(points) > 1:
        (e0, t0), (e1, t1) = points[0], points[-1]
        print(f"time growth exponent over edges: {math.log(t1 / t0) / math.log(e1 / e0):.2f}")


if __name__ == "__main__":
    main()
