"""Per-request link costs over road features: "avoid motorways", shortest, or a personal mix.

A :class:`LinkCostModel` turns the edge attributes a :class:`~planner.graph.road.RoadNetwork`
keeps from OSM (``travel_time``, ``length``, ``highway`` class, ``toll``, and the degree of the
edge's head node as a count of junctions passed) into one cost per edge, in seconds-equivalent:

    cost(e) = class_factor[highway(e)] * (time_weight * travel_time(e) + length_weight * length(e))
              + toll_penalty_s * toll(e) + junction_penalty_s * [head of e is a junction]

A junction is a node with more than two distinct neighbours (a turn or crossing is possible).
Avoiding a class multiplies its edges' cost by :data:`AVOID_FACTOR`: the route uses them only
where nothing else connects (closing them could disconnect the network). The vector is applied
through a customizable CH (:meth:`solvers.paths.cch.CustomizableHierarchy.customize`), so a new
model costs one customisation, not a rebuild.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from planner.errors import ValidationError
from planner.graph.road import RoadNetwork

#: Cost multiplier of an avoided road class or feature.
AVOID_FACTOR = 100.0

#: What ``avoid`` understands besides road classes: ``motorway`` also covers its links,
#: ``toll`` is the toll tag.
AVOID_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "motorway": ("motorway", "motorway_link"),
    "trunk": ("trunk", "trunk_link"),
    "primary": ("primary", "primary_link"),
})

#: Seconds-equivalent per metre of the ``mix`` preset: a metre weighs what it takes at 36 km/h.
MIX_SECONDS_PER_METRE = 0.1


@dataclass(frozen=True)
class LinkCostModel:
    """Weights of road features in the cost of an edge (see the module notes for the formula).

    Parameters
    ----------
    time_weight
        Weight of ``travel_time`` (seconds per second).
    length_weight
        Weight of ``length`` (seconds-equivalent per metre).
    class_factors
        Multiplier per road class name (``{"motorway": 100}``); classes not named get 1.
    toll_penalty_s
        Added to every toll edge.
    junction_penalty_s
        Added to every edge that ends at a junction (a turns-count proxy).
    avoid_toll
        Multiply toll edges by :data:`AVOID_FACTOR` (after the toll penalty).
    """

    time_weight: float = 1.0
    length_weight: float = 0.0
    class_factors: Mapping[str, float] = field(default_factory=dict)
    toll_penalty_s: float = 0.0
    junction_penalty_s: float = 0.0
    avoid_toll: bool = False

    def __post_init__(self) -> None:
        for name in ("time_weight", "length_weight", "toll_penalty_s", "junction_penalty_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValidationError(name, f"must be a non-negative finite number ({value!r})")
        if self.time_weight == 0 and self.length_weight == 0:
            raise ValidationError("time_weight", "time_weight and length_weight cannot both be 0")
        factors = dict(self.class_factors)
        for key, value in factors.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValidationError(f"class_factors[{key!r}]", f"must be a positive finite factor ({value!r})")
        object.__setattr__(self, "class_factors", MappingProxyType(factors))

    @classmethod
    def from_request(cls, cost: str = "time", avoid: Iterable[str] = (), *,
                     junction_penalty_s: float = 0.0) -> LinkCostModel:
        """The model of a request: ``cost`` is ``time``, ``length`` or ``mix`` (time plus
        :data:`MIX_SECONDS_PER_METRE` per metre); ``avoid`` names road classes, groups of
        :data:`AVOID_GROUPS` or ``toll``.

        Raises
        ------
        ValidationError
            For an unknown cost name (field ``cost``).
        """
        presets = {"time": (1.0, 0.0), "length": (0.0, 1.0), "mix": (1.0, MIX_SECONDS_PER_METRE)}
        if cost not in presets:
            raise ValidationError("cost", f"unknown cost {cost!r} (known: {', '.join(presets)})")
        time_weight, length_weight = presets[cost]
        factors: dict[str, float] = {}
        avoid = list(avoid)
        for name in avoid:
            if name != "toll":
                for cls_name in AVOID_GROUPS.get(name, (name,)):
                    factors[cls_name] = AVOID_FACTOR
        return cls(time_weight, length_weight, factors, 0.0, junction_penalty_s, "toll" in avoid)

    def costs(self, network: RoadNetwork) -> np.ndarray:
        """One non-negative cost per edge of ``network``.

        Raises
        ------
        ValidationError
            If a class factor names a road class the network does not have (field
            ``class_factors``), or the network lacks an attribute the model weighs.
        """
        graph = network.graph
        cost = np.zeros(graph.n_edges)
        if self.time_weight:
            cost += self.time_weight * graph.edge_attr("travel_time")
        if self.length_weight:
            cost += self.length_weight * graph.edge_attr("length")
        if self.class_factors:
            known = set(network.highway_classes)
            table = np.ones(len(network.highway_classes))
            for name, factor in self.class_factors.items():
                if name not in known and name not in _ALL_GROUPED:
                    raise ValidationError("class_factors", f"no road class {name!r} in {network.name} "
                                                           f"(has: {', '.join(sorted(known))})")
                if name in known:
                    table[network.highway_classes.index(name)] = factor
            cost *= table[graph.edge_attrs["highway"]]
        if (self.toll_penalty_s or self.avoid_toll) and "toll" in graph.edge_attrs:
            toll = graph.edge_attrs["toll"].astype(bool)
            cost[toll] += self.toll_penalty_s
            if self.avoid_toll:
                cost[toll] *= AVOID_FACTOR
        if self.junction_penalty_s:
            cost += self.junction_penalty_s * junction_heads(network)
        return cost


_ALL_GROUPED = frozenset(c for group in AVOID_GROUPS.values() for c in group)


def junction_heads(network: RoadNetwork) -> np.ndarray:
    """``1.0`` for every edge whose head has more than two distinct neighbours, else ``0.0``."""
    graph = network.graph
    n = graph.n_nodes
    tails, heads = graph.tails, graph.indices
    keep = tails != heads
    lo = np.minimum(tails[keep], heads[keep])
    hi = np.maximum(tails[keep], heads[keep])
    keys = np.unique(lo * n + hi)
    degree = np.bincount(keys // n, minlength=n) + np.bincount(keys % n, minlength=n)
    return (degree[heads] > 2).astype(np.float64)
