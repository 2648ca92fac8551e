"""`python -m matching solve PROBLEM.json`: print the exact solution of a problem file as JSON
(exit 0), or say why the problem is malformed (exit 2). With `--tiled`, solve a large
problem tile by tile (needs grouped by their "tile" field) instead of as a whole."""

from __future__ import annotations

import argparse
import json
import sys

from matching.engine import ProblemError, parse_problem, solve


def positive_int(text: str) -> int:
    """An argument that must be a whole number ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"应为不小于 1 的整数，实际是 {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the command line. Exit code 0 with the solution as JSON on standard output, or 2
    with the reason on standard error when the file cannot be read or the problem is
    malformed (nothing on standard output then)."""
    parser = argparse.ArgumentParser(prog="python -m matching", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    solve_cmd = commands.add_parser("solve", help="求解问题文件（JSON，格式版本 1）")
    solve_cmd.add_argument("problem", help="问题文件路径，或 - 表示标准输入")
    solve_cmd.add_argument(
        "--time-limit", type=float, default=30.0, help="团队需求的求解时限（秒，分块时为每块）"
    )
    solve_cmd.add_argument(
        "--tiled", action="store_true", help="按需求的“tile”字段分块逐块求解（适合全市规模）"
    )
    solve_cmd.add_argument(
        "--passes",
        type=positive_int,
        default=1,
        help="分块求解的轮数（默认 1；多一轮结果不会更差）",
    )
    args = parser.parse_args(argv)
    try:
        if args.problem == "-":
            data = json.load(sys.stdin)
        else:
            with open(args.problem, encoding="utf-8") as handle:
                data = json.load(handle)
    except OSError as exc:
        print(f"无法读取问题文件：{exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"问题文件不是有效的 JSON：{exc}", file=sys.stderr)
        return 2
    try:
        problem = parse_problem(data)
    except ProblemError as exc:
        print(f"问题格式有误：{exc}", file=sys.stderr)
        return 2
    solution = solve(problem, time_limit_s=args.time_limit, tiled=args.tiled, passes=args.passes)
    json.dump(solution.as_json(), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
