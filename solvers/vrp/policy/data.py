"""Training instances: generated CVRP (uniform, clustered, mixed; X-like demands and route sizes)
and CVRP on a real road network's travel-time matrix.

Road instances: ``n + 1`` distinct nodes of the network's largest strongly connected component
drawn at random (the first is the depot), travel times between them by the contraction
hierarchy's many-to-many search (:mod:`solvers.paths.ch`, asymmetric, seconds, rounded to
integers), coordinates projected to metres, and demands and capacity drawn as the X generator
does (:func:`datasets.generators.vrp.generate_cvrp`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from datasets.generators.vrp import DEMANDS, DEPOTS, DISTRIBUTIONS, generate_cvrp
from planner.errors import ValidationError
from planner.vrp import VrpInstance

#: Road networks known by name (files of the data directory's ``osm`` folder).
ROAD_NETWORKS = ("monaco", "heidelberg", "porto")


def random_generated_instance(n_clients: int, rng: np.random.Generator,
                              distributions: Sequence[str] = DISTRIBUTIONS) -> VrpInstance:
    """A generated CVRP instance with random distribution, depot position, demand law and route size."""
    for d in distributions:
        if d not in DISTRIBUTIONS:
            raise ValidationError("distributions", f"unknown {d!r} (known: {', '.join(DISTRIBUTIONS)})")
    return generate_cvrp(
        n_clients,
        distribution=str(rng.choice(list(distributions))),
        seed=int(rng.integers(0, 2**31 - 1)),
        depot=str(rng.choice(list(DEPOTS))),
        demand=str(rng.choice(list(DEMANDS))),
    )


class RoadInstanceSampler:
    """CVRP instances on one road network's travel-time matrix (see the module notes).

    Parameters
    ----------
    network
        A name of :data:`ROAD_NETWORKS` (read from the data directory) or a path to an OSM XML
        file.

    Raises
    ------
    DataNotFoundError
        If the network's file is missing.
    """

    def __init__(self, network: str):
        from datasets.location import data_path
        from planner.graph.road import build_road_network
        from solvers.paths.ch import load_or_build

        path = data_path("osm", f"{network}.drive.osm.bz2") if network in ROAD_NETWORKS else network
        self.network = build_road_network(path)
        self.name = self.network.name
        self.hierarchy = load_or_build(self.network.graph, "travel_time")
        coords = np.asarray(self.network.graph.coords, dtype=np.float64)
        lat0 = math.radians(float(coords[:, 1].mean()))
        self.xy = np.column_stack((coords[:, 0] * 111_320.0 * math.cos(lat0), coords[:, 1] * 110_540.0))

    def sample(self, n_clients: int, rng: np.random.Generator) -> VrpInstance:
        """One instance with ``n_clients`` clients.

        Raises
        ------
        ValidationError
            If the network has fewer than ``n_clients + 1`` nodes.
        """
        total = self.network.graph.n_nodes
        if n_clients + 1 > total:
            raise ValidationError("n_clients", f"{n_clients} clients need more nodes than {self.name} has ({total})")
        nodes = rng.choice(total, size=n_clients + 1, replace=False)
        times = np.rint(self.hierarchy.distance_matrix(nodes))
        np.fill_diagonal(times, 0.0)
        template = generate_cvrp(n_clients, seed=int(rng.integers(0, 2**31 - 1)),
                                 demand=str(rng.choice(list(DEMANDS))))
        return VrpInstance(
            name=f"road-{self.name}-n{n_clients}",
            demands=template.demands,
            capacity=template.capacity,
            coords=self.xy[nodes],
            distances=times,
            rounding="none",
        )
