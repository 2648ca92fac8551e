"""The problem format (JSON, version 1) and its validation: plain data in, frozen
dataclasses out. A malformed problem is refused with the first reason found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMAT_VERSION = 1


class ProblemError(ValueError):
    """The problem is malformed; the message says where and why."""


@dataclass(frozen=True)
class Need:
    id: str
    slots: tuple[tuple[str, int], ...]  # (role, count), sorted by role, counts > 0
    unfilled_cost: int
    complete_only: bool = False

    @property
    def total_slots(self) -> int:
        return sum(count for _role, count in self.slots)

    def slots_for(self, role: str) -> int:
        return dict(self.slots).get(role, 0)


@dataclass(frozen=True)
class Provider:
    id: str
    role: str
    capacity: int


@dataclass(frozen=True)
class Edge:
    need: str
    provider: str
    cost: int


@dataclass(frozen=True)
class Problem:
    needs: tuple[Need, ...]
    providers: tuple[Provider, ...]
    edges: tuple[Edge, ...]

    @property
    def has_teams(self) -> bool:
        """Whether some need must be filled completely or not at all (not a flow then)."""
        return any(need.complete_only for need in self.needs)


def _int(value: Any, where: str, *, minimum: int | None = None) -> int:
    # bool is an int in Python; a JSON true is not a count or a cost.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(f"{where}：应为整数，实际是 {value!r}")
    if minimum is not None and value < minimum:
        raise ProblemError(f"{where}：不能小于 {minimum}，实际是 {value}")
    return value


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProblemError(f"{where}：应为非空字符串，实际是 {value!r}")
    return value


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise ProblemError(f"缺少列表“{key}”")
    return value


def parse_problem(data: Any) -> Problem:
    """Validate a problem given as parsed JSON and return it as dataclasses. Refuses unknown
    ids, duplicate ids or edges, negative capacities or slots, non-integer costs, edges to a
    provider whose role the need has no slot for, and unknown versions."""
    if not isinstance(data, dict):
        raise ProblemError("问题应为 JSON 对象")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ProblemError(f"不支持的格式版本 {version!r}（支持 {FORMAT_VERSION}）")
    needs: dict[str, Need] = {}
    declared_roles: dict[str, set[str]] = {}
    for i, raw in enumerate(_list(data, "needs")):
        where = f"needs[{i}]"
        if not isinstance(raw, dict):
            raise ProblemError(f"{where}：应为对象")
        need_id = _id(raw.get("id"), f"{where}.id")
        if need_id in needs:
            raise ProblemError(f"{where}：需求编号 {need_id} 重复")
        slots = raw.get("slots")
        if not isinstance(slots, dict) or not slots:
            raise ProblemError(f"{where}.slots：应为非空对象（角色 → 名额）")
        counted = []
        for role, count in sorted(slots.items()):
            _id(role, f"{where}.slots 的角色")
            if _int(count, f"{where}.slots.{role}", minimum=0):
                counted.append((role, count))
        complete_only = raw.get("complete_only", False)
        if not isinstance(complete_only, bool):
            raise ProblemError(f"{where}.complete_only：应为 true 或 false")
        declared_roles[need_id] = set(slots)
        needs[need_id] = Need(
            id=need_id,
            slots=tuple(counted),
            unfilled_cost=_int(raw.get("unfilled_cost"), f"{where}.unfilled_cost", minimum=0),
            complete_only=complete_only,
        )
    providers: dict[str, Provider] = {}
    for i, raw in enumerate(_list(data, "providers")):
        where = f"providers[{i}]"
        if not isinstance(raw, dict):
            raise ProblemError(f"{where}：应为对象")
        provider_id = _id(raw.get("id"), f"{where}.id")
        if provider_id in providers:
            raise ProblemError(f"{where}：服务方编号 {provider_id} 重复")
        providers[provider_id] = Provider(
            id=provider_id,
            role=_id(raw.get("role"), f"{where}.role"),
            capacity=_int(raw.get("capacity"), f"{where}.capacity", minimum=0),
        )
    edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(_list(data, "edges")):
        where = f"edges[{i}]"
        if not isinstance(raw, dict):
            raise ProblemError(f"{where}：应为对象")
        need_id = _id(raw.get("need"), f"{where}.need")
        provider_id = _id(raw.get("provider"), f"{where}.provider")
        if need_id not in needs:
            raise ProblemError(f"{where}：未知的需求编号 {need_id}")
        if provider_id not in providers:
            raise ProblemError(f"{where}：未知的服务方编号 {provider_id}")
        if (need_id, provider_id) in seen:
            raise ProblemError(f"{where}：需求 {need_id} 与服务方 {provider_id} 的边重复")
        role = providers[provider_id].role
        if role not in declared_roles[need_id]:
            raise ProblemError(
                f"{where}：需求 {need_id} 没有“{role}”角色的名额，服务方 {provider_id} 不能填补"
            )
        seen.add((need_id, provider_id))
        cost = _int(raw.get("cost"), f"{where}.cost")
        edges.append(Edge(need=need_id, provider=provider_id, cost=cost))
    return Problem(
        needs=tuple(needs.values()), providers=tuple(providers.values()), edges=tuple(edges)
    )
