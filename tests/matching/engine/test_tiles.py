"""Tiled solving: every capacity, slot count and all-or-nothing need respected, the reported
objective equal to the one recomputed, never below the optimum, equal to it with one tile,
further passes never worse, deterministic; and `python -m matching solve --tiled`."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.engine import objective_of, parse_problem, solve, solve_tiled
from tests.matching.engine.test_engine import ROLES, ROOT, feasible

TILES = [None, "A", "B", "C"]


@st.composite
def tiled_problems(draw, teams=False, tiles=TILES):
    needs = []
    for n in range(draw(st.integers(1, 7))):
        slots = {role: draw(st.integers(0, 2)) for role in ROLES}
        if not any(slots.values()):
            slots["volunteer"] = 1
        need = {"id": f"N{n}", "slots": slots, "unfilled_cost": draw(st.integers(0, 40))}
        tile = draw(st.sampled_from(tiles))
        if tile is not None:
            need["tile"] = tile
        if teams and draw(st.booleans()):
            need["complete_only"] = True
        needs.append(need)
    providers = []
    for p in range(draw(st.integers(1, 6))):
        provider = {
            "id": f"P{p}",
            "role": draw(st.sampled_from(ROLES)),
            "capacity": draw(st.integers(0, 2)),
        }
        tile = draw(st.sampled_from(tiles))
        if tile is not None:
            provider["tile"] = tile
        providers.append(provider)
    pairs = [(n["id"], p["id"]) for n in needs for p in providers]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=16))
    edges = [
        {"need": need, "provider": provider, "cost": draw(st.integers(-5, 30))}
        for need, provider in chosen
    ]
    return {"version": 1, "needs": needs, "providers": providers, "edges": edges}


def _check(problem, solution):
    assert solution.status == "FEASIBLE" and solution.method == "tiled"
    assert feasible(problem, list(solution.assignments))
    assert objective_of(problem, solution.assignments) == solution.objective
    assert list(solution.assignments) == sorted(
        solution.assignments, key=lambda a: (a.need, a.provider)
    )


@settings(max_examples=200, deadline=None)
@given(tiled_problems())
def test_tiled_flow_is_feasible_and_never_below_the_optimum(data):
    problem = parse_problem(data)
    optimum = solve(problem)
    one = solve_tiled(problem)
    _check(problem, one)
    assert one.objective >= optimum.objective
    two = solve(problem, tiled=True, passes=3)
    _check(problem, two)
    assert optimum.objective <= two.objective <= one.objective
    assert solve_tiled(problem).as_json() == one.as_json()


@settings(max_examples=100, deadline=None)
@given(tiled_problems(tiles=[None]), st.sampled_from([None, "A"]))
def test_a_single_tile_is_the_optimum(data, tile):
    for need in data["needs"]:
        if tile is not None:
            need["tile"] = tile
    problem = parse_problem(data)
    tiled = solve_tiled(problem)
    _check(problem, tiled)
    assert tiled.objective == solve(problem).objective


@settings(max_examples=80, deadline=None)
@given(tiled_problems(teams=True))
def test_tiles_with_all_or_nothing_needs_go_to_cp_sat(data):
    problem = parse_problem(data)
    tiled = solve_tiled(problem, time_limit_s=10)
    _check(problem, tiled)  # feasible() refuses a half-filled complete_only need
    assert tiled.objective >= solve(problem, time_limit_s=10).objective


def _district(needs, providers, tiles, seed):
    """A small city: communities on a torus, tiles of tile × tile communities."""
    rng = random.Random(seed)
    side = 8
    place = [(rng.randrange(side), rng.randrange(side)) for _ in range(needs + providers)]
    tile_of = lambda xy: f"{xy[0] * tiles // side}-{xy[1] * tiles // side}"  # noqa: E731
    data = {"version": 1, "needs": [], "providers": [], "edges": []}
    for p in range(providers):
        xy = place[needs + p]
        data["providers"].append(
            {"id": f"P{p}", "role": "volunteer", "capacity": rng.randint(0, 2), "tile": tile_of(xy)}
        )
    for n in range(needs):
        xy = place[n]
        data["needs"].append(
            {
                "id": f"N{n}",
                "slots": {"volunteer": rng.randint(1, 3)},
                "unfilled_cost": rng.choice([60, 600]),
                "tile": tile_of(xy),
            }
        )
        for p in range(providers):
            other = place[needs + p]
            dx = min((xy[0] - other[0]) % side, (other[0] - xy[0]) % side)
            dy = min((xy[1] - other[1]) % side, (other[1] - xy[1]) % side)
            if max(dx, dy) <= 1:
                data["edges"].append(
                    {"need": f"N{n}", "provider": f"P{p}", "cost": 10 * max(dx, dy) + p % 7}
                )
    return data


def test_a_contested_small_city_stays_close_to_the_optimum():
    # Capacity is short (many needs per provider), so tiles compete at their borders.
    problem = parse_problem(_district(needs=240, providers=160, tiles=4, seed=3))
    assert len(problem.arrays.tiles) == 16
    optimum = solve(problem).objective
    first = solve_tiled(problem)
    _check(problem, first)
    more = solve_tiled(problem, passes=3)
    _check(problem, more)
    assert optimum < first.objective <= optimum * 1.01  # the first pass loses a little
    assert optimum <= more.objective < first.objective  # and later passes win some back
    assert more.objective <= optimum * 1.001


def _cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "matching", "solve", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line_solves_tile_by_tile(tmp_path):
    data = _district(needs=40, providers=30, tiles=2, seed=5)
    path = tmp_path / "city.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    done = _cli("--tiled", str(path))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    problem = parse_problem(data)
    assert printed == solve_tiled(problem).as_json()
    assert printed["status"] == "FEASIBLE" and printed["method"] == "tiled"
    assert printed["objective"] >= solve(problem).objective
    done = _cli("--tiled", "--passes", "2", "-", stdin=json.dumps(data))
    assert done.returncode == 0 and json.loads(done.stdout)["objective"] <= printed["objective"]
    done = _cli("--tiled", "--passes", "0", str(path))
    assert done.returncode == 2 and "不小于 1" in done.stderr and not done.stdout
