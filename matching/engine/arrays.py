"""A problem as read-only integer arrays indexed by position: what the solvers read.

Needs, providers and edges keep the order of the problem. A slot is one (need, role) pair
with a positive count, in need order and, within a need, in role-name order (the order of
`Need.slots`). Every edge knows the slot it can fill, or -1 when its need has no slot of the
provider's role (the edge is then never used, as a zero count allows nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matching.engine.problem import Need, Problem


def _frozen(values, dtype=np.int64) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class ProblemArrays:
    """Positions index `need_ids`, `provider_ids`, `roles`, `tiles` and the slot arrays;
    all arrays are int64 (bool for `need_complete`) and read-only."""

    need_ids: tuple[str, ...]
    provider_ids: tuple[str, ...]
    roles: tuple[str, ...]  # sorted by name
    tiles: tuple[str | None, ...]  # solving order: no tile first, then by name
    need_unfilled: np.ndarray
    need_complete: np.ndarray
    need_tile: np.ndarray
    slot_need: np.ndarray
    slot_role: np.ndarray
    slot_count: np.ndarray
    provider_role: np.ndarray
    provider_capacity: np.ndarray
    edge_need: np.ndarray
    edge_provider: np.ndarray
    edge_cost: np.ndarray
    edge_slot: np.ndarray

    @cached_property
    def need_index(self) -> dict[str, int]:
        """Need id → position."""
        return dict(zip(self.need_ids, range(len(self.need_ids)), strict=True))

    @cached_property
    def provider_index(self) -> dict[str, int]:
        """Provider id → position."""
        return dict(zip(self.provider_ids, range(len(self.provider_ids)), strict=True))

    @cached_property
    def _edge_keys(self) -> tuple[np.ndarray, np.ndarray]:
        keys = self.edge_need * len(self.provider_ids) + self.edge_provider
        order = np.argsort(keys, kind="stable")
        return keys[order], order

    def edge_at(self, need: np.ndarray, provider: np.ndarray) -> np.ndarray:
        """The edge position of each (need, provider) pair; KeyError naming the first pair
        that is not an edge."""
        keys, order = self._edge_keys
        wanted = np.asarray(need, dtype=np.int64) * len(self.provider_ids) + provider
        if not wanted.size:
            return np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
        found = keys[at] == wanted if keys.size else np.zeros(wanted.size, dtype=bool)
        if not found.all():
            need_at, provider_at = divmod(int(wanted[np.argmin(found)]), len(self.provider_ids))
            raise KeyError((self.need_ids[need_at], self.provider_ids[provider_at]))
        return order[at]

    @cached_property
    def edges_by_slot(self) -> np.ndarray:
        """Positions of the edges that can fill a slot, ordered by (slot, cost, position):
        the order the solvers take edges in, so a slot's cheapest edges come first."""
        usable = np.flatnonzero(self.edge_slot >= 0)
        slot, cost = self.edge_slot[usable], self.edge_cost[usable]
        if not usable.size:
            return _frozen(usable)
        low, span = int(cost.min()), int(cost.max()) - int(cost.min()) + 1
        if span * (self.slot_count.size + 1) < 2**62:
            # One integer key and a stable sort (radix for int64): far quicker than lexsort,
            # and stability keeps positions ascending among equal keys.
            order = np.argsort(slot * span + (cost - low), kind="stable")
        else:
            order = np.lexsort((usable, cost, slot))
        return _frozen(usable[order])

    @cached_property
    def slot_unfilled(self) -> np.ndarray:
        """The unfilled cost of each slot (its need's)."""
        return _frozen(self.need_unfilled[self.slot_need])

    @cached_property
    def _slot_finder(self) -> _SlotFinder:
        return _SlotFinder(self.slot_need, self.slot_role, len(self.roles))

    def slot_of(self, need: np.ndarray, role: np.ndarray) -> np.ndarray:
        """The slot position of each (need, role) pair, -1 where the need has no such slot."""
        return self._slot_finder(need, role)


class _SlotFinder:
    """(need, role) → slot position by binary search over the sorted slot keys: a dense
    need × role table would not scale with the number of roles."""

    def __init__(self, slot_need: np.ndarray, slot_role: np.ndarray, role_count: int):
        keys = np.asarray(slot_need, dtype=np.int64) * role_count + slot_role
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        self._roles = role_count

    def __call__(self, need: np.ndarray, role: np.ndarray) -> np.ndarray:
        if not self._keys.size:
            return np.full(np.shape(need), -1, dtype=np.int64)
        wanted = np.asarray(need, dtype=np.int64) * self._roles + role
        at = np.minimum(np.searchsorted(self._keys, wanted), self._keys.size - 1)
        return np.where(self._keys[at] == wanted, self._order[at], -1)


def build_arrays(
    needs: Sequence[Need],
    provider_ids: Sequence[str],
    provider_roles: Sequence[str],
    capacities: Sequence[int],
    edge_need: np.ndarray,
    edge_provider: np.ndarray,
    edge_cost: np.ndarray,
) -> ProblemArrays:
    """The arrays of a problem whose edges are already given as need and provider positions.
    The caller vouches that positions are in range."""
    slot_need: list[int] = []
    slot_role_name: list[str] = []
    slot_count: list[int] = []
    for i, need in enumerate(needs):
        for role, count in need.slots:
            if count > 0:
                slot_need.append(i)
                slot_role_name.append(role)
                slot_count.append(count)
    roles = tuple(sorted(set(provider_roles) | set(slot_role_name)))
    code = {role: i for i, role in enumerate(roles)}
    tile_names = {need.tile for need in needs}
    tiles = tuple(sorted(tile_names, key=lambda t: (t is not None, t or "")))
    tile_code = {tile: i for i, tile in enumerate(tiles)}
    provider_role = np.fromiter(map(code.__getitem__, provider_roles), np.int64, len(provider_ids))
    slot_role = np.array([code[role] for role in slot_role_name], dtype=np.int64)
    edge_slot = _SlotFinder(np.array(slot_need, dtype=np.int64), slot_role, len(roles))(
        edge_need, provider_role[edge_provider]
    )
    return ProblemArrays(
        need_ids=tuple(need.id for need in needs),
        provider_ids=tuple(provider_ids),
        roles=roles,
        tiles=tiles,
        need_unfilled=_frozen([need.unfilled_cost for need in needs]),
        need_complete=_frozen([need.complete_only for need in needs], dtype=bool),
        need_tile=_frozen([tile_code[need.tile] for need in needs]),
        slot_need=_frozen(slot_need),
        slot_role=_frozen(slot_role),
        slot_count=_frozen(slot_count),
        provider_role=_frozen(provider_role),
        provider_capacity=_frozen(capacities),
        edge_need=_frozen(edge_need),
        edge_provider=_frozen(edge_provider),
        edge_cost=_frozen(edge_cost),
        edge_slot=_frozen(edge_slot),
    )


def arrays_of(problem: Problem) -> ProblemArrays:
    """The arrays of a problem built from dataclasses (as a caller outside the JSON format
    does). Raises ProblemError for an edge to an unknown need or provider."""
    from matching.engine.problem import EdgeTable, ProblemError

    need_index = {need.id: i for i, need in enumerate(problem.needs)}
    provider_index = {provider.id: i for i, provider in enumerate(problem.providers)}
    edges = problem.edges
    if isinstance(edges, EdgeTable):
        needs, providers, costs = edges.needs, edges.providers, edges.costs
    else:
        needs = [edge.need for edge in edges]
        providers = [edge.provider for edge in edges]
        costs = [edge.cost for edge in edges]
    try:
        edge_need = np.fromiter(map(need_index.__getitem__, needs), np.int64, len(needs))
        edge_provider = np.fromiter(
            map(provider_index.__getitem__, providers), np.int64, len(providers)
        )
    except KeyError as exc:
        raise ProblemError(f"边引用了未知的编号 {exc.args[0]}") from None
    return build_arrays(
        problem.needs,
        [provider.id for provider in problem.providers],
        [provider.role for provider in problem.providers],
        [provider.capacity for provider in problem.providers],
        edge_need,
        edge_provider,
        np.array(costs, dtype=np.int64),
    )
