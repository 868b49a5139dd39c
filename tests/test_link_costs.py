"""Link-cost models and reweighting: the cost formula by hand on a tiny road network, and
customised CCH queries against scipy's Dijkstra on the model's costs (Heidelberg); routing from
snapped points against a hand computation; far points are clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datasets.osm import read_osm
from planner.errors import ValidationError
from planner.graph import Graph
from planner.graph.road import RoadNetwork
from planner.graph.spatial import SpatialIndex
from solvers.paths.cch import CustomizableHierarchy
from solvers.paths.ch import ContractionHierarchy
from solvers.paths.dijkstra import DijkstraRouter
from solvers.paths.link_costs import AVOID_FACTOR, MIX_SECONDS_PER_METRE, LinkCostModel, junction_heads
from solvers.paths.snapped import route_between_points
from tests.conftest import requires_data

# A -- B -> C, A <-> B two-way (straight), B -> C one-way (straight), C -> A over a northern arc.
LAT = 41.0
LON = {"A": -8.600, "B": -8.590, "C": -8.580}


def tiny_network() -> RoadNetwork:
    tails, heads = [0, 1, 1, 2], [1, 0, 2, 0]  # A->B, B->A, B->C, C->A
    attrs = {
        "length": [840.0, 840.0, 840.0, 3000.0],
        "travel_time": [10.0, 10.0, 20.0, 100.0],
        "highway": np.array([0, 0, 1, 2], dtype=np.uint8),
        "toll": np.array([False, False, True, False]),
    }
    coords = np.array([[LON["A"], LAT], [LON["B"], LAT], [LON["C"], LAT]])
    graph, order = Graph.from_edges_with_order(3, tails, heads, attrs, coords=coords, name="tiny")
    shapes = {
        0: [[LON["A"], LAT], [LON["B"], LAT]],
        1: [[LON["B"], LAT], [LON["A"], LAT]],
        2: [[LON["B"], LAT], [LON["C"], LAT]],
        3: [[LON["C"], LAT], [LON["B"], LAT + 0.01], [LON["A"], LAT]],
    }
    pieces = [np.asarray(shapes[int(i)]) for i in order]
    offsets = np.concatenate([[0], np.cumsum([p.shape[0] for p in pieces])])
    return RoadNetwork(graph, ("motorway", "primary", "residential"), offsets, np.concatenate(pieces))


def _edge(network: RoadNetwork, tail: int, head: int) -> int:
    g = network.graph
    return int(np.flatnonzero((g.tails == tail) & (g.indices == head))[0])


def test_cost_formula_by_hand() -> None:
    road = tiny_network()
    ab, bc, ca = _edge(road, 0, 1), _edge(road, 1, 2), _edge(road, 2, 0)
    assert LinkCostModel().costs(road)[ab] == 10.0
    mix = LinkCostModel.from_request("mix").costs(road)
    assert mix[ca] == pytest.approx(100.0 + MIX_SECONDS_PER_METRE * 3000.0)
    avoid = LinkCostModel.from_request("time", ["motorway", "toll"]).costs(road)
    assert avoid[ab] == 10.0 * AVOID_FACTOR and avoid[bc] == 20.0 * AVOID_FACTOR and avoid[ca] == 100.0
    # every node of the triangle has two distinct neighbours: no junctions
    assert not junction_heads(road).any()
    model = LinkCostModel(time_weight=0.5, length_weight=0.01, class_factors={"primary": 2.0}, toll_penalty_s=7.0)
    assert model.costs(road)[bc] == pytest.approx(2.0 * (0.5 * 20.0 + 0.01 * 840.0) + 7.0)
    with pytest.raises(ValidationError, match="cost"):
        LinkCostModel.from_request("fastest")
    with pytest.raises(ValidationError, match="class_factors"):
        LinkCostModel(class_factors={"autobahn": 2.0}).costs(road)
    with pytest.raises(ValidationError, match="time_weight"):
        LinkCostModel(time_weight=0.0, length_weight=0.0)


def test_edge_snapping_cost_equals_hand_computation() -> None:
    road = tiny_network()
    index = SpatialIndex(road)
    ch = ContractionHierarchy.build(road.graph, "travel_time")
    north = 0.0001  # about 11 m north of the A-B-C line

    def at(a: str, b: str, f: float) -> tuple[float, float]:
        return LAT + north, LON[a] + f * (LON[b] - LON[a])

    # 30 % along A->B to 60 % along B->C: the rest of A->B, then 60 % of B->C
    r = route_between_points(road, ch, index, at("A", "B", 0.3), at("B", "C", 0.6))
    assert r.cost == pytest.approx(0.7 * 10.0 + 0.6 * 20.0, rel=1e-6)
    assert r.first_fraction == pytest.approx(0.3, abs=1e-6) and r.last_fraction == pytest.approx(0.6, abs=1e-6)
    # half-way along B->C back to half-way A-B: on to C, C->A, half of A->B
    r = route_between_points(road, ch, index, at("B", "C", 0.5), at("A", "B", 0.5))
    assert r.cost == pytest.approx(0.5 * 20.0 + 100.0 + 0.5 * 10.0, rel=1e-6)
    # both points on the two-way street: directly, in either direction
    assert route_between_points(road, ch, index, at("A", "B", 0.2), at("A", "B", 0.7)).cost == pytest.approx(5.0)
    back = route_between_points(road, ch, index, at("A", "B", 0.7), at("A", "B", 0.2))
    assert back.direct and back.cost == pytest.approx(5.0) and back.first_edge == _edge(road, 1, 0)
    coords = back.coordinates(road)
    assert coords[0, 0] == pytest.approx(LON["A"] + 0.7 * 0.01, abs=1e-6)
    assert coords[-1, 0] == pytest.approx(LON["A"] + 0.2 * 0.01, abs=1e-6)
    with pytest.raises(ValidationError, match=r"^from: .*km from the nearest road"):
        route_between_points(road, ch, index, (LAT + 1.0, LON["A"]), at("A", "B", 0.5))
    with pytest.raises(ValidationError, match=r"^to: "):
        route_between_points(road, ch, index, at("A", "B", 0.5), (LAT, LON["A"] + 1.0))


@requires_data("osm", "heidelberg.drive.osm.bz2")
def test_customised_costs_equal_dijkstra_on_heidelberg() -> None:
    road = read_osm("heidelberg", simplify=False)
    graph = road.graph
    cch = CustomizableHierarchy.build(graph)
    rng = np.random.default_rng(11)
    sources, targets = rng.integers(0, graph.n_nodes, 12), rng.integers(0, graph.n_nodes, 15)
    models = [LinkCostModel.from_request("time", ["motorway"]), LinkCostModel.from_request("length"),
              LinkCostModel.from_request("mix", ["primary", "toll"], junction_penalty_s=3.0)]
    for model in models:
        costs = model.costs(road)
        custom = cch.customize(costs)
        want = DijkstraRouter(graph.with_edge_attrs(model_cost=costs), "model_cost").distance_matrix(sources, targets)
        got = np.array([[custom.distance(int(s), int(t)) for t in targets] for s in sources])
        np.testing.assert_allclose(got, want, rtol=1e-9)
        np.testing.assert_allclose(custom.distance_matrix(sources, targets), want, rtol=1e-9)
        for i in range(5):
            if math.isfinite(want[i, i]):
                route = custom.shortest_path(int(sources[i]), int(targets[i]))
                assert route.cost == pytest.approx(want[i, i], rel=1e-9)
                assert route.cost == pytest.approx(float(costs[route.edges].sum()), rel=1e-12)
    # avoiding motorways really moves routes off them where another road exists
    motorway = np.isin(road.highway_names(), ["motorway", "motorway_link"])
    plain = ContractionHierarchy.build(graph)
    avoid = cch.customize(models[0].costs(road))
    used_plain = used_avoid = 0
    for s, t in zip(sources, targets, strict=False):
        if math.isfinite(plain.distance(int(s), int(t))):
            used_plain += int(motorway[plain.shortest_path(int(s), int(t)).edges].sum())
            used_avoid += int(motorway[avoid.shortest_path(int(s), int(t)).edges].sum())
    assert used_avoid <= used_plain
