"""The matching engine without a database: exact optimum against brute force on tiny
instances (flows and teams), feasibility and the objective recomputed on every solution,
determinism, refusal of malformed problems, the command line, and the import contract (no
Django in the engine)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.engine import ProblemError, objective_of, parse_problem, solve

ROOT = Path(__file__).resolve().parents[3]
ROLES = ["social_worker", "volunteer"]


@st.composite
def problems(draw, teams=False):
    needs = []
    for n in range(draw(st.integers(1, 3))):
        slots = {role: draw(st.integers(0, 2)) for role in ROLES}
        if not any(slots.values()):
            slots["volunteer"] = 1
        need = {"id": f"N{n}", "slots": slots, "unfilled_cost": draw(st.integers(0, 30))}
        if teams and draw(st.booleans()):
            need["complete_only"] = True
        needs.append(need)
    providers = [
        {"id": f"P{p}", "role": draw(st.sampled_from(ROLES)), "capacity": draw(st.integers(0, 2))}
        for p in range(draw(st.integers(1, 3)))
    ]
    pairs = [(n["id"], p["id"]) for n in needs for p in providers]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=8)) if pairs else []
    edges = [
        {"need": need, "provider": provider, "cost": draw(st.integers(-5, 20))}
        for need, provider in chosen
    ]
    return {"needs": needs, "providers": providers, "edges": edges}


def feasible(problem, assignments) -> bool:
    roles = {p.id: p.role for p in problem.providers}
    capacity = {p.id: p.capacity for p in problem.providers}
    used = Counter(a.provider for a in assignments)
    if any(used[p] > capacity[p] for p in used):
        return False
    if len(set(assignments)) != len(assignments):
        return False
    filled = Counter((a.need, roles[a.provider]) for a in assignments)
    for need in problem.needs:
        counts = [(count, filled[(need.id, role)]) for role, count in need.slots]
        if any(got > count for count, got in counts):
            return False
        extra = sum(v for (n, r), v in filled.items() if n == need.id) - sum(
            got for _c, got in counts
        )
        if extra:
            return False
        partial = any(got for _c, got in counts) and any(got != c for c, got in counts)
        if need.complete_only and partial:
            return False
    return True


def brute_force(problem) -> int:
    from matching.engine import Assignment

    edges = [Assignment(e.need, e.provider) for e in problem.edges]
    best = None
    for k in range(len(edges) + 1):
        for subset in itertools.combinations(edges, k):
            if feasible(problem, list(subset)):
                value = objective_of(problem, subset)
                best = value if best is None else min(best, value)
    return best


@settings(max_examples=150, deadline=None)
@given(problems())
def test_flow_is_the_exact_optimum(data):
    problem = parse_problem(data)
    solution = solve(problem)
    assert solution.status == "OPTIMAL" and solution.method == "min_cost_flow"
    assert feasible(problem, list(solution.assignments))
    assert objective_of(problem, solution.assignments) == solution.objective
    assert solution.objective == brute_force(problem)


@settings(max_examples=100, deadline=None)
@given(problems(teams=True))
def test_teams_all_or_nothing_are_optimal_with_a_proven_bound(data):
    problem = parse_problem(data)
    solution = solve(problem, time_limit_s=10)
    assert feasible(problem, list(solution.assignments))
    assert objective_of(problem, solution.assignments) == solution.objective
    if problem.has_teams:
        assert solution.method == "cp_sat" and solution.status == "OPTIMAL"
        assert solution.bound == solution.objective and solution.gap == 0.0
    assert solution.objective == brute_force(problem)


def test_a_team_need_is_left_whole_rather_than_half_filled():
    data = {
        "needs": [
            {
                "id": "N1",
                "slots": {"social_worker": 1, "volunteer": 2},
                "unfilled_cost": 100,
                "complete_only": True,
            }
        ],
        "providers": [
            {"id": "S1", "role": "social_worker", "capacity": 1},
            {"id": "V1", "role": "volunteer", "capacity": 1},
        ],
        "edges": [
            {"need": "N1", "provider": "S1", "cost": 1},
            {"need": "N1", "provider": "V1", "cost": 1},
        ],
    }
    solution = solve(parse_problem(data))
    # Two volunteers are needed and only one exists: nobody is sent, all three slots unfilled.
    assert solution.assignments == () and solution.objective == 300
    assert solution.as_json()["bound"] == 300


def test_the_same_problem_gives_the_same_solution():
    data = {
        "needs": [
            {"id": f"N{i}", "slots": {"volunteer": 1}, "unfilled_cost": 50} for i in range(6)
        ],
        "providers": [{"id": f"P{i}", "role": "volunteer", "capacity": 2} for i in range(3)],
        "edges": [
            {"need": f"N{i}", "provider": f"P{j}", "cost": 10} for i in range(6) for j in range(3)
        ],
    }
    first = solve(parse_problem(data)).as_json()
    for _ in range(3):
        assert solve(parse_problem(data)).as_json() == first


GOOD = {
    "needs": [{"id": "N1", "slots": {"volunteer": 1}, "unfilled_cost": 10}],
    "providers": [{"id": "P1", "role": "volunteer", "capacity": 1}],
    "edges": [{"need": "N1", "provider": "P1", "cost": 3}],
}


def _with(path, value):
    data = json.loads(json.dumps(GOOD))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON 对象"),
        ({"needs": [], "providers": []}, "edges"),
        (_with(["version"], 2), "版本"),
        (_with(["edges", 0, "need"], "N9"), "未知的需求编号 N9"),
        (_with(["edges", 0, "provider"], "P9"), "未知的服务方编号 P9"),
        (_with(["providers", 0, "capacity"], -1), "不能小于 0"),
        (_with(["edges", 0, "cost"], 2.5), "应为整数"),
        (_with(["edges", 0, "cost"], True), "应为整数"),
        (_with(["needs", 0, "slots"], {"volunteer": -1}), "不能小于 0"),
        (_with(["needs", 0, "unfilled_cost"], "10"), "应为整数"),
        (_with(["providers", 0, "role"], "social_worker"), "没有“social_worker”角色的名额"),
        ({**GOOD, "edges": GOOD["edges"] * 2}, "重复"),
        ({**GOOD, "needs": GOOD["needs"] * 2}, "需求编号 N1 重复"),
        ({**GOOD, "providers": GOOD["providers"] * 2}, "服务方编号 P1 重复"),
        (_with(["needs", 0, "complete_only"], "yes"), "true 或 false"),
    ],
)
def test_malformed_problems_are_refused_with_the_reason(data, message):
    with pytest.raises(ProblemError) as exc:
        parse_problem(data)
    assert message in str(exc.value)


def _cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "matching", "solve", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line_prints_the_solution(tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")
    done = _cli(str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "status": "OPTIMAL",
        "objective": 3,
        "assignments": [{"need": "N1", "provider": "P1"}],
        "method": "min_cost_flow",
    }


def test_command_line_refuses_bad_input_with_exit_code_2(tmp_path):
    bad = _with(["edges", 0, "provider"], "P9")
    done = _cli("-", stdin=json.dumps(bad))
    assert done.returncode == 2 and "未知的服务方编号 P9" in done.stderr and not done.stdout
    done = _cli("-", stdin="{not json")
    assert done.returncode == 2 and "不是有效的 JSON" in done.stderr
    done = _cli(str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "无法读取" in done.stderr


def test_the_engine_imports_no_django():
    code = (
        "import sys, matching.engine, matching.__main__; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'marketplace', 'charity', 'volunteers', 'cms', 'search', 'config'}); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
