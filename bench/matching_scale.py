"""Matching engine at district and city scale, against a bare OR-Tools min-cost flow on the
same instance in the same process, against first-come-first-served greedy assignment, and
tiled against whole.

    .venv/bin/python bench/matching_scale.py                 # district: 10k needs × 50k providers
    .venv/bin/python bench/matching_scale.py --needs 2500 --providers 12500 --sizes 3
    .venv/bin/python bench/matching_scale.py --city          # city: 100k × 1M, tiles of 10×10
    .venv/bin/python bench/matching_scale.py --city --sizes 3 --tiled    # growth with tiles

Generates a seeded instance in the problem format (JSON, version 1): needs in communities
on a grid, each asking for one or two volunteers and sometimes a social worker (emergencies
carry ten times the unfilled cost); providers in communities with a capacity of 1–3;
candidate edges to about `--degree` providers of the right role nearby, costed by distance
class plus noise. With `--city` (or `--tiled`) every need and provider carries the tile of
its community (`--tile` × `--tile` communities). Writes the instance to a temporary file.

District: times the engine (read the file, validate, solve) against the bare flow (read the
file, build arrays, solve; no validation), each the best of `--repeat` runs taken in turn,
and greedy. City: times the engine whole and tiled, each end to end (read, validate, solve)
and solve alone, and compares the tiled objective with the exact whole optimum. With
`--sizes N`, N sizes doubling up to the given one and the time growth exponent over edges.
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


def generate(needs: int, providers: int, degree: int, seed: int, tile: int = 0) -> dict:
    """A seeded instance; with `tile` > 0 needs and providers carry a "tile" field naming a
    block of tile × tile communities (zero-padded, so names sort row by row)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible instance, not a secret
    side = max(2, int(math.sqrt(needs / 25)))
    community = lambda: (rng.randrange(side), rng.randrange(side))  # noqa: E731
    tile_of = lambda place: f"{place[0] // tile:03d}-{place[1] // tile:03d}"  # noqa: E731
    by_place: dict[tuple[str, tuple[int, int]], list[str]] = defaultdict(list)
    provider_rows = []
    for i in range(providers):
        role = "social_worker" if rng.random() < 0.1 else "volunteer"
        place = community()
        pid = f"P{i}"
        row = {"id": pid, "role": role, "capacity": rng.randint(1, 3)}
        if tile:
            row["tile"] = tile_of(place)
        provider_rows.append(row)
        by_place[(role, place)].append(pid)
    need_rows, edges = [], []
    for n in range(needs):
        place = community()
        slots = {"volunteer": rng.randint(1, 2)}
        if rng.random() < 0.3:
            slots["social_worker"] = 1
        emergency = rng.random() < 0.05
        row = {"id": f"N{n}", "slots": slots, "unfilled_cost": 10000 if emergency else 1000}
        if tile:
            row["tile"] = tile_of(place)
        need_rows.append(row)
        seen = set()
        for role in slots:
            want = degree if role == "volunteer" else max(2, degree // 5)
            found = 0  # edges of this role so far (the same draws as counting `seen`)
            for _ in range(want * 3):
                if found >= want:
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
                found += 1
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


def engine(path: Path, **options):
    """Read, validate, solve: (solution, problem, total seconds, solve seconds)."""
    started = time.perf_counter()
    problem = parse_problem(json.loads(path.read_text(encoding="utf-8")))
    solving = time.perf_counter()
    solution = solve(problem, **options)
    done = time.perf_counter()
    return solution, problem, done - started, done - solving


def write(data: dict) -> tuple[Path, int]:
    """The instance in a temporary file, and its number of edges."""
    path = Path(tempfile.mkdtemp()) / "problem.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path, len(data["edges"])


def district(needs: int, providers: int, seed: int, args) -> tuple[int, float]:
    """Engine against bare flow and greedy; (edges, engine seconds). The engine must reach
    the bare optimum."""
    path, edges = write(generate(needs, providers, args.degree, seed))
    bare_runs, engine_runs = [], []
    for _ in range(args.repeat):  # in turn, so a busy moment hits both sides alike
        started = time.perf_counter()
        optimum = bare_flow(path)
        bare_runs.append(time.perf_counter() - started)
        solution, problem, total, solving = engine(path)
        engine_runs.append((total, solving))
    bare_s = min(bare_runs)
    engine_s, solve_s = min(engine_runs)
    started = time.perf_counter()
    fcfs = greedy(problem)
    greedy_s = time.perf_counter() - started

    print(f"{needs} needs × {providers} providers, {edges} edges (best of {args.repeat})")
    print(f"  bare OR-Tools flow:  objective {optimum}, {bare_s:.2f} s")
    print(
        f"  engine:              objective {solution.objective} ({solution.status}), "
        f"{engine_s:.2f} s (read + validation {engine_s - solve_s:.2f} s) "
        f"= {engine_s / bare_s:.2f}× bare"
    )
    print(
        f"  greedy (FCFS):       objective {fcfs} = {fcfs / optimum:.3f}× the optimum, "
        f"{greedy_s:.2f} s"
    )
    assert solution.objective == optimum, "the engine must reach the optimum"
    return edges, engine_s


def city(needs: int, providers: int, seed: int, args) -> tuple[int, float]:
    """Tiled against whole (whole skipped with --tiled); (edges, tiled seconds). Both
    objectives must equal their recomputation by objective_of."""
    path, edges = write(generate(needs, providers, args.degree, seed, tile=args.tile))
    print(f"{needs} needs × {providers} providers, {edges} edges, tiles of {args.tile}²")
    tiled, problem, tiled_s, tiled_solve_s = engine(path, tiled=True, passes=args.passes)
    tiles = len(problem.arrays.tiles)
    assert objective_of(problem, tiled.assignments) == tiled.objective
    del problem
    print(
        f"  tiled ({tiles} tiles):    objective {tiled.objective} ({tiled.status}), "
        f"{tiled_s:.2f} s (solve {tiled_solve_s:.2f} s)"
    )
    if args.tiled:
        return edges, tiled_s
    whole, problem, whole_s, whole_solve_s = engine(path)
    assert objective_of(problem, whole.assignments) == whole.objective
    assert tiled.objective >= whole.objective, "the whole solve is the exact optimum"
    del problem
    print(
        f"  whole:               objective {whole.objective} ({whole.status}), "
        f"{whole_s:.2f} s (solve {whole_solve_s:.2f} s)"
    )
    print(
        f"  tiled / whole:       time {tiled_s / whole_s:.2f}× end to end, "
        f"{tiled_solve_s / whole_solve_s:.2f}× solve alone; "
        f"cost {tiled.objective / whole.objective:.6f}× the optimum"
    )
    return edges, tiled_s


def main() -> None:
    """Parse the options, run each size, print the growth exponent over sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", action="store_true", help="tiled against whole (city)")
    parser.add_argument("--tiled", action="store_true", help="time the tiled engine only")
    parser.add_argument("--needs", type=int, help="10 000 (district) or 100 000 (city)")
    parser.add_argument("--providers", type=int, help="50 000 (district) or 1 000 000 (city)")
    parser.add_argument("--degree", type=int, default=30)
    parser.add_argument("--tile", type=int, default=10, help="tile side in communities")
    parser.add_argument("--passes", type=int, default=1, help="passes of the tiled solve")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--sizes", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="district runs; best counts")
    args = parser.parse_args()
    large = args.city or args.tiled
    needs = args.needs or (100_000 if large else 10_000)
    providers = args.providers or (1_000_000 if large else 50_000)
    run = city if large else district
    points = []
    for k in reversed(range(args.sizes)):
        scale = 2**k
        points.append(run(needs // scale, providers // scale, args.seed + k, args))
    if len(points) > 1:
        (e0, t0), (e1, t1) = points[0], points[-1]
        what = "tiled engine" if large else "engine"
        exponent = math.log(t1 / t0) / math.log(e1 / e0)
        print(f"{what} time growth exponent over edges: {exponent:.2f}")


if __name__ == "__main__":
    main()
