"""The matching engine: a problem in, a solution with an explicit status out. Pure Python
over OR-Tools and numpy; no Django and no I/O (an import contract test keeps it so)."""

from matching.engine.problem import (
    Edge,
    EdgeTable,
    Need,
    Problem,
    ProblemError,
    Provider,
    parse_problem,
)
from matching.engine.solver import Assignment, Solution, objective_of, solve
from matching.engine.tiles import solve_tiled

__all__ = [
    "Assignment",
    "Edge",
    "EdgeTable",
    "Need",
    "Problem",
    "ProblemError",
    "Provider",
    "Solution",
    "objective_of",
    "parse_problem",
    "solve",
    "solve_tiled",
]
