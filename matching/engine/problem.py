"""The problem format (JSON, version 1) and its validation: plain data in, frozen
dataclasses out. A malformed problem is refused with the first reason found.

Validation runs in bulk first (columns pulled out of the edge list, ids looked up through
dicts, duplicates and roles checked on integer arrays), because a city-sized problem has
millions of edges and checking them one object at a time costs more than solving. The bulk
pass only answers "certainly valid"; on any doubt the problem is checked again item by item,
which finds the first reason and words it."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import TYPE_CHECKING, Any, overload

import numpy as np

if TYPE_CHECKING:
    from matching.engine.arrays import ProblemArrays

FORMAT_VERSION = 1


class ProblemError(ValueError):
    """The problem is malformed; the message says where and why."""


@dataclass(frozen=True)
class Need:
    id: str
    slots: tuple[tuple[str, int], ...]  # (role, count), sorted by role, counts > 0
    unfilled_cost: int
    complete_only: bool = False
    tile: str | None = None  # solved together with the other needs of its tile

    @property
    def total_slots(self) -> int:
        """All places of the need, over its roles."""
        return sum(count for _role, count in self.slots)

    def slots_for(self, role: str) -> int:
        """The places of `role` (0 when the need has none)."""
        return dict(self.slots).get(role, 0)


@dataclass(frozen=True)
class Provider:
    id: str
    role: str
    capacity: int
    tile: str | None = None  # where the provider is; its capacity is shared by all tiles


@dataclass(frozen=True)
class Edge:
    need: str
    provider: str
    cost: int


class EdgeTable(Sequence[Edge]):
    """An immutable sequence of edges kept as three parallel tuples (need ids, provider ids,
    costs). It compares and hashes like the tuple of `Edge` it stands for; an `Edge` object
    is made only when one is read, since a city has millions of edges and the solvers never
    need them as objects."""

    __slots__ = ("_costs", "_needs", "_providers")

    def __init__(self, needs: Sequence[str], providers: Sequence[str], costs: Sequence[int]):
        if not len(needs) == len(providers) == len(costs):
            raise ValueError("EdgeTable: columns of different lengths")
        self._needs = tuple(needs)
        self._providers = tuple(providers)
        self._costs = tuple(costs)

    @property
    def needs(self) -> tuple[str, ...]:
        """The need id of every edge, in edge order."""
        return self._needs

    @property
    def providers(self) -> tuple[str, ...]:
        """The provider id of every edge, in edge order."""
        return self._providers

    @property
    def costs(self) -> tuple[int, ...]:
        """The cost of every edge, in edge order."""
        return self._costs

    def __len__(self) -> int:
        return len(self._needs)

    @overload
    def __getitem__(self, index: int) -> Edge: ...
    @overload
    def __getitem__(self, index: slice) -> EdgeTable: ...
    def __getitem__(self, index):
        if isinstance(index, slice):
            return EdgeTable(self._needs[index], self._providers[index], self._costs[index])
        return Edge(self._needs[index], self._providers[index], self._costs[index])

    def __iter__(self) -> Iterator[Edge]:
        return map(Edge, self._needs, self._providers, self._costs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EdgeTable):
            return (self._needs, self._providers, self._costs) == (
                other._needs,
                other._providers,
                other._costs,
            )
        if isinstance(other, tuple | list):
            return len(other) == len(self) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        # Equal to the hash of the tuple of Edge, so a Problem hashes the same either way.
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"EdgeTable({len(self)} edges)"


@dataclass(frozen=True)
class Problem:
    needs: tuple[Need, ...]
    providers: tuple[Provider, ...]
    edges: Sequence[Edge]  # a tuple of Edge, or an EdgeTable from parse_problem

    @property
    def has_teams(self) -> bool:
        """Whether some need must be filled completely or not at all (not a flow then)."""
        return any(need.complete_only for need in self.needs)

    @cached_property
    def arrays(self) -> ProblemArrays:
        """The problem as integer arrays indexed by position (what the solvers read). Built
        once per problem; `parse_problem` hands over the arrays its validation made.
        Raises ProblemError when an edge names a need or provider the problem lacks."""
        from matching.engine.arrays import arrays_of

        return arrays_of(self)


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


def _tile(raw: dict, where: str) -> str | None:
    tile = raw.get("tile")
    return None if tile is None else _id(tile, f"{where}.tile")


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise ProblemError(f"缺少列表“{key}”")
    return value


def parse_problem(data: Any) -> Problem:
    """Validate a problem given as parsed JSON and return it as dataclasses. Refuses unknown
    ids, duplicate ids or edges, negative capacities or slots, non-integer costs, edges to a
    provider whose role the need has no slot for, blank tiles, and unknown versions; the
    message names the first offending item. Valid input gives the same `Problem` whichever
    way it was checked."""
    # Parsing a city allocates millions of acyclic objects; the cyclic collector would
    # rescan the whole input each time a generation fills, doubling the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse_bulk(data)
    except _Unsure:
        return _parse_itemwise(data)
    finally:
        if collecting:
            gc.enable()


class _Unsure(Exception):
    """The bulk pass cannot vouch for the problem; the item-by-item pass decides."""


def _strings(values: list) -> bool:
    """Every value is a non-blank str (exactly str: anything else goes item by item)."""
    return set(map(type, values)) <= {str} and all(map(str.strip, values))


def _parse_bulk(data: Any) -> Problem:
    if type(data) is not dict:
        raise _Unsure
    if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        raise _Unsure
    raw_needs, raw_providers, raw_edges = (data.get(k) for k in ("needs", "providers", "edges"))
    if not (type(raw_needs) is type(raw_providers) is type(raw_edges) is list):
        raise _Unsure
    for rows in (raw_needs, raw_providers, raw_edges):
        if set(map(type, rows)) - {dict}:
            raise _Unsure

    provider_ids = [row.get("id") for row in raw_providers]
    provider_roles = [row.get("role") for row in raw_providers]
    capacities = [row.get("capacity") for row in raw_providers]
    provider_tiles = [row.get("tile") for row in raw_providers]
    if not (_strings(provider_ids) and _strings(provider_roles)):
        raise _Unsure
    if set(map(type, capacities)) - {int} or (capacities and min(capacities) < 0):
        raise _Unsure
    if not _strings([t for t in provider_tiles if t is not None]):
        raise _Unsure
    provider_index = dict(zip(provider_ids, range(len(provider_ids)), strict=True))
    if len(provider_index) != len(provider_ids):
        raise _Unsure
    role_code: dict[str, int] = {}
    for role in provider_roles:
        role_code.setdefault(role, len(role_code))
    if len(role_code) > 62:  # the declared roles of a need are a bit mask in an int64
        raise _Unsure

    need_index: dict[str, int] = {}
    needs: list[Need] = []
    declared: list[int] = []
    for row in raw_needs:
        need_id, slots = row.get("id"), row.get("slots")
        unfilled, complete = row.get("unfilled_cost"), row.get("complete_only", False)
        tile = row.get("tile")
        if type(need_id) is not str or not need_id.strip() or need_id in need_index:
            raise _Unsure
        if type(slots) is not dict or not slots:
            raise _Unsure
        if type(unfilled) is not int or unfilled < 0 or type(complete) is not bool:
            raise _Unsure
        if tile is not None and (type(tile) is not str or not tile.strip()):
            raise _Unsure
        mask = 0
        for role, count in slots.items():
            if type(role) is not str or not role.strip() or type(count) is not int or count < 0:
                raise _Unsure
            if role in role_code:
                mask |= 1 << role_code[role]
        counted = tuple((role, count) for role, count in sorted(slots.items()) if count)
        need_index[need_id] = len(needs)
        needs.append(Need(need_id, counted, unfilled, complete, tile))
        declared.append(mask)

    try:
        edge_needs = list(map(itemgetter("need"), raw_edges))
        edge_providers = list(map(itemgetter("provider"), raw_edges))
        costs = list(map(itemgetter("cost"), raw_edges))
    except KeyError as exc:
        raise _Unsure from exc
    if set(map(type, costs)) - {int}:
        raise _Unsure
    try:
        # None, a non-string or an unknown id all fail the lookup: ids were checked above.
        edge_need = np.fromiter(map(need_index.__getitem__, edge_needs), np.int64, len(costs))
        edge_provider = np.fromiter(
            map(provider_index.__getitem__, edge_providers), np.int64, len(costs)
        )
        edge_cost = np.array(costs, dtype=np.int64)
    except (KeyError, TypeError, OverflowError) as exc:
        raise _Unsure from exc
    if len(costs):
        pairs = np.sort(edge_need * len(provider_ids) + edge_provider)
        if (pairs[1:] == pairs[:-1]).any():
            raise _Unsure
        role_of = np.fromiter(map(role_code.__getitem__, provider_roles), np.int64)
        masks = np.array(declared, dtype=np.int64)
        if not ((masks[edge_need] >> role_of[edge_provider]) & 1).all():
            raise _Unsure

    providers = tuple(map(Provider, provider_ids, provider_roles, capacities, provider_tiles))
    problem = Problem(
        needs=tuple(needs),
        providers=providers,
        edges=EdgeTable(edge_needs, edge_providers, costs),
    )
    from matching.engine.arrays import build_arrays

    try:
        arrays = build_arrays(
            needs, provider_ids, provider_roles, capacities, edge_need, edge_provider, edge_cost
        )
    except OverflowError as exc:  # a count beyond int64: valid JSON, left to the checks
        raise _Unsure from exc
    # The cached_property slot: the index arrays made for validation are the ones the
    # solvers need, so they are not rebuilt from the dataclasses.
    problem.__dict__["arrays"] = arrays
    arrays.__dict__.update(need_index=need_index, provider_index=provider_index)
    return problem


def _parse_itemwise(data: Any) -> Problem:
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
            tile=_tile(raw, where),
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
            tile=_tile(raw, where),
        )
    edge_needs: list[str] = []
    edge_providers: list[str] = []
    costs: list[int] = []
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
        edge_needs.append(need_id)
        edge_providers.append(provider_id)
        costs.append(_int(raw.get("cost"), f"{where}.cost"))
    return Problem(
        needs=tuple(needs.values()),
        providers=tuple(providers.values()),
        edges=EdgeTable(edge_needs, edge_providers, costs),
    )
