"""Routes between coordinates: snap both points onto the nearest edge and route from the snapped
positions, with partial edge costs at both ends.

A point snapped at fraction ``f`` of edge ``e = (u, v)`` leaves along ``e`` to ``v`` at cost
``(1 - f) * cost(e)``, or, on a two-way street, along the reverse edge ``(v, u)`` (the edge with
the same shape reversed) to ``u`` at ``f * cost(reverse)``; a destination at fraction ``g`` of
``e`` is reached from ``u`` at ``g * cost(e)`` (or from ``v`` over the reverse edge). Costs are
spread uniformly along an edge's shape. When both points lie on the same edge, in driving order,
the direct piece ``(g - f) * cost(e)`` is a candidate too. The cheapest combination wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import InfeasibleError, ValidationError
from planner.graph.road import RoadNetwork
from planner.graph.spatial import EARTH_RADIUS_M, EdgeSnap, SpatialIndex
from planner.paths import Route, route_from_edges
from solvers.paths.ch import ContractionHierarchy


@dataclass(frozen=True, eq=False)
class PointRoute:
    """A route from a snapped origin to a snapped destination.

    Parameters
    ----------
    route
        The node-to-node part (a single node when the ends are adjacent; empty edges).
    first_edge, first_fraction
        Edge the route starts on and the fraction along it where it starts.
    last_edge, last_fraction
        Edge the route ends on and the fraction along it where it ends.
    cost
        Total cost: the partial first edge, the node-to-node part and the partial last edge.
    direct
        Whether origin and destination are on the same edge with no node between them (then
        ``route`` is unused and ``first_edge == last_edge``).
    origin, destination
        The snaps of the two input points.
    """

    route: Route
    first_edge: int
    first_fraction: float
    last_edge: int
    last_fraction: float
    cost: float
    direct: bool
    origin: EdgeSnap
    destination: EdgeSnap

    def coordinates(self, network: RoadNetwork) -> np.ndarray:
        """The route as ``(k, 2)`` (lon, lat) points, from the snapped origin to the snapped
        destination along the road shapes."""
        if self.direct:
            return edge_piece(network, self.first_edge, self.first_fraction, self.last_fraction)
        head = edge_piece(network, self.first_edge, self.first_fraction, 1.0)
        tail = edge_piece(network, self.last_edge, 0.0, self.last_fraction)
        middle = self.route.coordinates(network)
        return np.concatenate([head, middle[1:], tail[1:]])

    def to_geojson(self, network: RoadNetwork, properties: dict[str, Any] | None = None) -> dict[str, Any]:
        """A GeoJSON ``Feature`` (``LineString``, lon/lat) with the cost, length and time."""
        coords = self.coordinates(network)
        if coords.shape[0] == 1:
            coords = np.vstack([coords, coords])
        props: dict[str, Any] = {"cost": self.cost, "weight": self.route.weight}
        props.update(properties or {})
        return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords.tolist()},
                "properties": props}


def reverse_edge(network: RoadNetwork, edge: int) -> int:
    """The edge running the other way along the same shape (two-way street), or ``-1``."""
    graph = network.graph
    tail, head = int(graph.tails[edge]), int(graph.indices[edge])
    shape = network.edge_geometry(edge)[::-1]
    for e in range(graph.indptr[head], graph.indptr[head + 1]):
        if int(graph.indices[e]) == tail and e != edge:
            other = network.edge_geometry(e)
            if other.shape == shape.shape and np.allclose(other, shape, rtol=0.0, atol=1e-9):
                return e
    return -1


def edge_piece(network: RoadNetwork, edge: int, start: float, end: float) -> np.ndarray:
    """The (lon, lat) polyline of edge ``edge`` between fractions ``start <= end`` of its length."""
    shape = network.edge_geometry(edge)
    lat0 = math.radians(float(shape[:, 1].mean()))
    xy = np.column_stack([shape[:, 0] * math.cos(lat0), shape[:, 1]]) * (EARTH_RADIUS_M * math.pi / 180.0)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    total = cum[-1]
    if total <= 0.0:
        return shape[[0, -1]].copy()

    def point(fraction: float) -> np.ndarray:
        d = fraction * total
        i = int(np.clip(np.searchsorted(cum, d, side="right") - 1, 0, shape.shape[0] - 2))
        seg = cum[i + 1] - cum[i]
        t = 0.0 if seg <= 0 else (d - cum[i]) / seg
        return shape[i] + t * (shape[i + 1] - shape[i])

    inner = shape[(cum > start * total) & (cum < end * total)]
    return np.vstack([point(start), inner, point(end)])


@dataclass(frozen=True)
class RouteEnd:
    """One way to leave an origin (or reach a destination): the graph node, the partial-edge
    cost to (from) it, the edge and the fraction along it where the route starts (ends)."""

    node: int
    cost: float
    edge: int
    fraction: float


def _starts(network: RoadNetwork, snap: EdgeSnap, costs: np.ndarray) -> list[RouteEnd]:
    """Ways to leave a snapped origin: along its edge to the head, or along the reverse edge."""
    graph = network.graph
    ends = [RouteEnd(int(graph.indices[snap.edge]), (1.0 - snap.fraction) * costs[snap.edge], snap.edge, snap.fraction)]
    back = reverse_edge(network, snap.edge)
    if back >= 0:
        ends.append(RouteEnd(int(graph.indices[back]), snap.fraction * costs[back], back, 1.0 - snap.fraction))
    return [e for e in ends if math.isfinite(e.cost)]


def _finishes(network: RoadNetwork, snap: EdgeSnap, costs: np.ndarray) -> list[RouteEnd]:
    """Ways to reach a snapped destination: from its edge's tail, or over the reverse edge."""
    graph = network.graph
    ends = [RouteEnd(int(graph.tails[snap.edge]), snap.fraction * costs[snap.edge], snap.edge, snap.fraction)]
    back = reverse_edge(network, snap.edge)
    if back >= 0:
        ends.append(RouteEnd(int(graph.tails[back]), (1.0 - snap.fraction) * costs[back], back, 1.0 - snap.fraction))
    return [e for e in ends if math.isfinite(e.cost)]


def best_ends(network: RoadNetwork, hierarchy: ContractionHierarchy, origin: EdgeSnap, destination: EdgeSnap
              ) -> tuple[float, RouteEnd | None, RouteEnd | None, bool]:
    """The cheapest way between two snaps: ``(cost, start, finish, direct)``."""
    costs = _costs(hierarchy)
    best = (math.inf, None, None, False)
    starts, finishes = _starts(network, origin, costs), _finishes(network, destination, costs)
    for a in starts:
        for b in finishes:
            if a.edge == b.edge and a.fraction <= b.fraction:
                direct = (b.fraction - a.fraction) * costs[a.edge]
                if direct < best[0]:
                    best = (direct, a, b, True)
            total = a.cost + hierarchy.distance(a.node, b.node) + b.cost
            if total < best[0]:
                best = (total, a, b, False)
    return best


def route_between_points(network: RoadNetwork, hierarchy: ContractionHierarchy, index: SpatialIndex,
                         origin: tuple[float, float], destination: tuple[float, float]) -> PointRoute:
    """The cheapest route between two (lat, lon) points, each snapped to its nearest edge.

    Raises
    ------
    ValidationError
        If a point is invalid or farther from the network than the index allows (field
        ``from`` or ``to``).
    InfeasibleError
        If the destination cannot be reached.
    """
    a = snap_point(index, origin, "from")
    b = snap_point(index, destination, "to")
    return point_route(network, hierarchy, a, b)


def snap_point(index: SpatialIndex, point: tuple[float, float], field: str) -> EdgeSnap:
    """Nearest-edge snap of ``point`` whose errors name ``field``."""
    try:
        return index.nearest_edge(*point)
    except ValidationError as exc:
        raise ValidationError(field, "; ".join(v.reason for v in exc.violations)) from None


def point_route(network: RoadNetwork, hierarchy: ContractionHierarchy, origin: EdgeSnap, destination: EdgeSnap,
                route: Route | None = None) -> PointRoute:
    """The :class:`PointRoute` between two snaps: the cheapest one, or the one through the
    node-to-node ``route`` (an alternative between the cheapest ends' nodes)."""
    cost, start, finish, direct = best_ends(network, hierarchy, origin, destination)
    if start is None or finish is None:
        raise InfeasibleError("to", "the destination cannot be reached from the origin")
    if route is None:
        if direct:
            route = route_from_edges(network.graph, start.node, np.zeros(0, np.int64), hierarchy.weight)
        else:
            route = hierarchy.shortest_path(start.node, finish.node)
    else:
        direct = False
        cost = start.cost + route.cost + finish.cost
    return PointRoute(route, start.edge, start.fraction, finish.edge, finish.fraction, float(cost), direct,
                      origin, destination)


def _costs(hierarchy: ContractionHierarchy) -> np.ndarray:
    if hierarchy.costs is not None:
        return hierarchy.costs
    return hierarchy.graph.edge_attr(hierarchy.weight).astype(np.float64)
