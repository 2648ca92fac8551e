"""`python -m matching solve PROBLEM.json`: print the exact solution of a problem file as JSON
(exit 0), or say why the problem is malformed (exit 2)."""

from __future__ import annotations

import argparse
import json
import sys

from matching.engine import ProblemError, parse_problem, solve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    solve_cmd = commands.add_parser("solve", help="求解问题文件（JSON，格式版本 1）")
    solve_cmd.add_argument("problem", help="问题文件路径，或 - 表示标准输入")
    solve_cmd.add_argument(
        "--time-limit", type=float, default=30.0, help="团队需求的求解时限（秒）"
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
    solution = solve(problem, time_limit_s=args.time_limit)
    json.dump(solution.as_json(), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
