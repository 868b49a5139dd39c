"""Alternative routes by correctional boosting: Dijkstra (A*) on penalised link costs in a corridor.

The method, in the spirit of GenMRP's "correctional boosting" and of the penalty method of
Bader et al. / Kobitzsch:

1. **Corridor** ("skeleton to capillary"). Exact distances from the source and to the target
   for every node come from two PHAST sweeps over the contraction hierarchy (one upward search
   and one linear sweep each). Only nodes with ``d(s, v) + d(v, t) <= max_stretch * d(s, t)``
   can lie on a route that meets the stretch limit, so the search network is the sub-network
   they induce (a compact CSR, built in numba).
2. **Boosting.** Each next route is the cheapest path on the corridor under costs corrected
   where earlier routes went: every edge of a route found so far costs ``penalty`` times its
   base cost more (cumulative), and every other edge that leaves or joins such a route pays a
   rejoin penalty of ``rejoin_penalty * d(s, t)`` (half at each end that touches the route),
   which stops the search from making tiny detours. The search is A* with the exact distance
   to the target as potential: penalties only raise costs, so it stays consistent, and the
   search explores little more than the corridor's penalised neighbourhood of the route.
3. **Repair.** A route that fails the local-optimality window test
   (:meth:`RouteCriteria.failing_window`) has its first failing window replaced by the shortest
   path between the window's ends (a CH query), any cycle this closes cut out, up to
   ``repairs`` times. Repairs only lower the cost. (Measured on Porto: without repairs most
   penalised routes fail local optimality; with them k = 3 succeeds about twice as often.)
4. **Filters.** A route is accepted only if (a) its stretch is at most ``max_stretch``,
   (b) its *sharing* — the base cost of its edges that lie on earlier accepted routes
   (the optimum included), divided by its own base cost — is at most ``max_sharing``, and
   (c) it is locally optimal by the window test of :meth:`RouteCriteria.locally_optimal`.
   Every route found is penalised, accepted or not, so the loop moves on.

Costs are those of the hierarchy (``travel_time`` by default, or a customised cost vector):
stretch and sharing are measured in them.

Baselines for the benchmark: the same loop without corridor, rejoin penalty or filters
(``AlternativeParameters.plain()``, a plain penalty loop), and the via-node method
(:meth:`AlternativeRouter.via_node`, X-BDV / OSRM style).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from planner.errors import InfeasibleError, ValidationError
from planner.paths import Route, ShortestPathProblem, node_label, route_from_edges
from solvers.paths import _alternative_kernels as kernels
from solvers.paths.ch import ContractionHierarchy

#: Relative tolerance under which a window's cost equals the exact distance (float summation).
COST_RTOL = 1e-9


@dataclass(frozen=True)
class AlternativeParameters:
    """Settings of the alternative-route search.

    Parameters
    ----------
    k
        Routes wanted, the optimum included.
    max_stretch
        Largest cost of an alternative relative to the optimum.
    max_sharing
        Largest fraction of an alternative's cost on edges of earlier accepted routes.
    local_optimality
        ``T`` as a fraction of the route's cost: every sub-path of cost up to ``T`` must be a
        shortest path.
    penalty
        Cost added to an edge per earlier route through it, as a multiple of its base cost.
    rejoin_penalty
        Cost added (as a fraction of the optimum) to an edge that leaves and rejoins a route.
    max_iterations
        Most penalised searches per query.
    repairs
        Most windows of a route that fails the local-optimality test replaced by the shortest
        path between their ends before the route is given up (0: reject at once).
    corridor
        Search on the corridor sub-network (else on the whole graph).
    filters
        Apply the three criteria; without them every new distinct route is returned
        (the plain penalty loop).
    """

    k: int = 3
    max_stretch: float = 1.25
    max_sharing: float = 0.75
    local_optimality: float = 0.25
    penalty: float = 0.5
    rejoin_penalty: float = 0.02
    max_iterations: int = 10
    repairs: int = 6
    corridor: bool = True
    filters: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.k, int) and self.k >= 1):
            raise ValidationError("k", f"must be a positive integer ({self.k!r})")
        if not self.max_stretch >= 1.0:
            raise ValidationError("max_stretch", f"must be at least 1 ({self.max_stretch!r})")
        for name in ("max_sharing", "local_optimality"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValidationError(name, f"must be within [0, 1] ({value!r})")
        for name in ("penalty", "rejoin_penalty"):
            value = getattr(self, name)
            if not (value >= 0.0 and math.isfinite(value)):
                raise ValidationError(name, f"must be a non-negative finite number ({value!r})")
        if not (isinstance(self.repairs, int) and self.repairs >= 0):
            raise ValidationError("repairs", f"must be a non-negative integer ({self.repairs!r})")
        if not (isinstance(self.max_iterations, int) and self.max_iterations >= 0):
            raise ValidationError("max_iterations", f"must be a non-negative integer ({self.max_iterations!r})")

    @classmethod
    def plain(cls, k: int = 3, penalty: float = 0.5, max_iterations: int = 10) -> AlternativeParameters:
        """The plain penalty loop: whole graph, no rejoin penalty, no filters."""
        return cls(k=k, penalty=penalty, rejoin_penalty=0.0, max_iterations=max_iterations, repairs=0,
                   corridor=False, filters=False)


@dataclass(frozen=True, eq=False)
class AlternativeRoutes:
    """Routes between one pair, the optimum first.

    Parameters
    ----------
    routes
        The optimum, then the alternatives in the order found.
    optimum
        Cost of the optimum.
    stretch
        Cost of each route over the optimum (1 for the optimum).
    sharing
        For each route, the fraction of its cost on edges of the routes before it (0 for the
        optimum).
    locally_optimal
        Whether each route passed the window test (the optimum always does).
    iterations
        Penalised searches run.
    corridor_nodes
        Nodes of the search network.
    wall_s
        Seconds the query took.
    method
        ``boosting``, ``penalty-loop`` or ``via-node``.
    rejected
        Routes found but not returned, by reason (``duplicate``, ``stretch``, ``sharing``,
        ``local_optimality``).
    """

    routes: tuple[Route, ...]
    optimum: float
    stretch: np.ndarray
    sharing: np.ndarray
    locally_optimal: np.ndarray
    iterations: int
    corridor_nodes: int
    wall_s: float = 0.0
    method: str = field(default="boosting")
    rejected: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.routes)


class RouteCriteria:
    """The three quality criteria of alternative routes, checked with exact distances.

    Parameters
    ----------
    hierarchy
        Exact point-to-point distances in the costs the routes are measured in.
    costs
        Cost of every graph edge (default: the hierarchy's costs or its weight attribute).
    """

    def __init__(self, hierarchy: ContractionHierarchy, costs: np.ndarray | None = None) -> None:
        self.hierarchy = hierarchy
        graph = hierarchy.graph
        if costs is None:
            costs = hierarchy.costs if hierarchy.costs is not None else graph.edge_attr(hierarchy.weight)
        self.costs = np.asarray(costs, dtype=np.float64)
        if self.costs.shape != (graph.n_edges,):
            raise ValidationError("costs", f"need one value per edge ({graph.n_edges}), got {self.costs.shape}")

    def cost(self, edges: np.ndarray) -> float:
        """Cost of a route given by its edges."""
        return float(np.sum(self.costs[edges], dtype=np.float64))

    def sharing(self, edges: np.ndarray, earlier: list[np.ndarray]) -> float:
        """Fraction of the route's cost on edges of any of the ``earlier`` routes."""
        total = self.cost(edges)
        if not earlier or total <= 0.0:
            return 0.0
        shared = np.isin(edges, np.concatenate(earlier))
        return float(np.sum(self.costs[edges[shared]], dtype=np.float64)) / total

    def locally_optimal(self, nodes: np.ndarray, edges: np.ndarray, fraction: float,
                        from_source: np.ndarray | None = None, to_target: np.ndarray | None = None) -> bool:
        """Whether the route passes the window test of :meth:`failing_window`."""
        return self.failing_window(nodes, edges, fraction, from_source, to_target) is None

    def failing_window(self, nodes: np.ndarray, edges: np.ndarray, fraction: float,
                       from_source: np.ndarray | None = None, to_target: np.ndarray | None = None
                       ) -> tuple[int, int] | None:
        """The first window (node positions ``(i, j)``) that is not a shortest path, or ``None``.

        Window test of T-local optimality, ``T = fraction * cost(route)``.

        The exact check: with ``delta = T / 4``, for every grid point ``x = m * delta`` along the
        route (``m = 0, 1, ...``), the window from the last node at cost ``<= x`` to the first
        node at cost ``>= x + T + delta`` (or the route's end) must be a shortest path — its
        cost equals the exact distance between its ends (a CH query). Every sub-path of cost at
        most ``T`` lies inside one such window, and a sub-path of a shortest path is a shortest
        path, so a route that passes is T-locally optimal (the test is sufficient, slightly
        stricter than the definition). Windows inside the route's prefix that is a shortest
        path from the source (``from_source[v]``, exact distances from the source, equal to the
        prefix cost) or inside its suffix that is a shortest path to the target are certified
        without a query.
        """
        total = self.cost(edges)
        if edges.size <= 1 or total <= 0.0:
            return None
        prefix = np.concatenate([[0.0], np.cumsum(self.costs[edges])])
        last = nodes.size - 1
        certified_prefix, certified_suffix = 0, last
        if from_source is not None:
            ok = np.isclose(prefix, from_source[nodes], rtol=COST_RTOL, atol=1e-9)
            certified_prefix = int(np.flatnonzero(ok).max(initial=0))
        if to_target is not None:
            suffix = prefix[-1] - prefix
            ok = np.isclose(suffix, to_target[nodes], rtol=COST_RTOL, atol=1e-9)
            certified_suffix = int(np.flatnonzero(ok).min(initial=last))
        if certified_prefix >= last or certified_suffix <= 0:
            return None
        window = fraction * total
        delta = window / 4.0
        grid = np.arange(0.0, total + delta, delta) if delta > 0 else np.zeros(1)
        starts = np.searchsorted(prefix, grid, side="right") - 1
        ends = np.minimum(np.searchsorted(prefix, grid + window + delta, side="left"), last)
        previous_end = -1
        for i, j in zip(starts.tolist(), ends.tolist(), strict=True):
            if j <= previous_end or j <= certified_prefix or i >= certified_suffix or j <= i:
                continue  # inside an earlier window, or certified by a shortest-path tree
            want = self.hierarchy.distance(int(nodes[i]), int(nodes[j]))
            have = prefix[j] - prefix[i]
            if have > want * (1.0 + COST_RTOL) + 1e-9:
                return i, j
            previous_end = j
        return None

    def evaluate(self, routes: list[Route] | tuple[Route, ...], optimum: float, fraction: float = 0.25,
                 from_source: np.ndarray | None = None, to_target: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stretch, sharing with the routes before it, and local optimality of every route."""
        stretch, sharing, local = [], [], []
        earlier: list[np.ndarray] = []
        for route in routes:
            c = self.cost(route.edges)
            stretch.append(c / optimum if optimum > 0 else 1.0)
            sharing.append(self.sharing(route.edges, earlier))
            local.append(self.locally_optimal(route.nodes, route.edges, fraction, from_source, to_target))
            earlier.append(route.edges)
        return np.asarray(stretch), np.asarray(sharing), np.asarray(local, dtype=bool)


class AlternativeRouter:
    """Alternative routes on one graph and cost vector.

    Parameters
    ----------
    hierarchy
        A contraction hierarchy (or customised CCH) of the costs to route on.
    parameters
        Search settings (default :class:`AlternativeParameters`).

    Notes
    -----
    Instances reuse work arrays: one instance serves one thread at a time.
    """

    def __init__(self, hierarchy: ContractionHierarchy, parameters: AlternativeParameters | None = None) -> None:
        self.hierarchy = hierarchy
        self.parameters = parameters or AlternativeParameters()
        self.graph = hierarchy.graph
        self.criteria = RouteCriteria(hierarchy)
        self.costs = self.criteria.costs
        n = self.graph.n_nodes
        self._rank = hierarchy.arcs.rank
        self._dist_r = np.empty(n)
        self._touched = np.empty(n, np.int64)
        self._heap = (np.empty(n), np.empty(n, np.int64), np.full(n, -1, np.int64))
        self._space = np.empty(n, np.int64)
        self._space_d = np.empty(n)
        self._dist = np.full(n, np.inf)
        self._pred = np.full(n, -1, np.int64)
        self._on_path = np.zeros(n, np.bool_)
        self._all_nodes = np.arange(n, dtype=np.int64)

    # ------------------------------------------------------------------ distances
    def distances_from(self, source: int) -> np.ndarray:
        """Exact cost from ``source`` to every node (PHAST), indexed by node."""
        f_ptr, f_head, f_w, _ = self.hierarchy._f
        b_ptr, b_head, b_w, _ = self.hierarchy._b
        kernels.phast(int(self._rank[source]), f_ptr, f_head, f_w, b_ptr, b_head, b_w, self._dist_r, self._touched,
                      *self._heap, self._space, self._space_d)
        return self._dist_r[self._rank]

    def distances_to(self, target: int) -> np.ndarray:
        """Exact cost from every node to ``target`` (PHAST), indexed by node."""
        f_ptr, f_head, f_w, _ = self.hierarchy._f
        b_ptr, b_head, b_w, _ = self.hierarchy._b
        kernels.phast(int(self._rank[target]), b_ptr, b_head, b_w, f_ptr, f_head, f_w, self._dist_r, self._touched,
                      *self._heap, self._space, self._space_d)
        return self._dist_r[self._rank]

    # ------------------------------------------------------------------ boosting
    def alternatives(self, source: int, target: int) -> AlternativeRoutes:
        """The optimum and up to ``k - 1`` alternatives from ``source`` to ``target`` (dense
        node indices).

        Raises
        ------
        ValidationError
            If a node index is out of range.
        InfeasibleError
            If ``target`` cannot be reached from ``source``.
        """
        start = time.perf_counter()
        p = self.parameters
        problem = ShortestPathProblem(self.graph, source, target, self.hierarchy.weight)
        s, t = problem.source, problem.target
        d_from = self.distances_from(s)
        d_to = self.distances_to(t)
        optimum = float(d_from[t])
        if not math.isfinite(optimum):
            raise InfeasibleError(problem.describe_pair(),
                                  f"no path from node {node_label(self.graph, s)} to node {node_label(self.graph, t)}")
        best = self.hierarchy.shortest_path(s, t)
        best = Route(best.nodes, best.edges, self.criteria.cost(best.edges), best.weight, best.length_m,
                     best.travel_time_s)
        routes, stretch, sharing, local = [best], [1.0], [0.0], [True]
        if p.k == 1 or s == t:
            return self._result(routes, optimum, stretch, sharing, local, 0, 0, start)
        if p.corridor:
            inside = d_from + d_to <= p.max_stretch * optimum * (1.0 + COST_RTOL)
            nodes = np.flatnonzero(inside)
        else:
            nodes = self._all_nodes
        local_of = np.full(self.graph.n_nodes, -1, np.int64)
        local_of[nodes] = np.arange(nodes.size)
        ptr, head, edge = kernels.corridor_csr(nodes, local_of, self.graph.indptr, self.graph.indices, self.costs)
        base = self.costs[edge]
        cost = base.copy()
        potential = d_to[nodes]
        n_local = nodes.size
        dist, pred, touched = self._dist[:n_local], self._pred[:n_local], self._touched[:n_local]
        hk, hn, hpos = (a[:n_local] for a in self._heap)
        on_path = self._on_path[:n_local]
        ls, lt = int(local_of[s]), int(local_of[t])
        rejoin = p.rejoin_penalty * optimum
        accepted_edges = [best.edges]
        seen: set[bytes] = {best.edges.tobytes()}
        path = kernels.local_edges(best.edges, local_of, self.graph.tails, ptr, edge)
        kernels.penalise(path, ptr, head, base, cost, on_path, p.penalty, rejoin)
        iterations = 0
        rejected = dict.fromkeys(("duplicate", "stretch", "sharing", "local_optimality"), 0)
        while len(routes) < p.k and iterations < p.max_iterations:
            iterations += 1
            path = kernels.astar(ls, lt, ptr, head, cost, potential, dist, pred, touched, hk, hn, hpos)
            if path.size == 0:
                break
            kernels.penalise(path, ptr, head, base, cost, on_path, p.penalty, rejoin)
            edges = edge[path]
            key = edges.tobytes()
            if key in seen:
                rejected["duplicate"] += 1
                continue
            seen.add(key)
            route = route_from_edges(self.graph, s, edges, self.hierarchy.weight)
            c = self.criteria.cost(edges)
            route = Route(route.nodes, route.edges, c, route.weight, route.length_m, route.travel_time_s)
            st = c / optimum if optimum > 0 else 1.0
            sh = self.criteria.sharing(edges, accepted_edges)
            if p.filters:
                if p.repairs > 0:  # repairing only lowers the cost: it can also cure the stretch
                    edges = self._repaired(route.nodes, edges, d_from, d_to)
                    if edges is None:
                        rejected["local_optimality"] += 1
                        continue
                    if edges.tobytes() != key:
                        if edges.tobytes() in seen:
                            rejected["duplicate"] += 1
                            continue
                        seen.add(edges.tobytes())
                        route = route_from_edges(self.graph, s, edges, self.hierarchy.weight)
                        c = self.criteria.cost(edges)
                        route = Route(route.nodes, route.edges, c, route.weight, route.length_m,
                                      route.travel_time_s)
                        st = c / optimum if optimum > 0 else 1.0
                        sh = self.criteria.sharing(edges, accepted_edges)
                elif not self.criteria.locally_optimal(route.nodes, edges, p.local_optimality, d_from, d_to):
                    rejected["local_optimality"] += 1
                    continue
                if st > p.max_stretch * (1.0 + COST_RTOL):
                    rejected["stretch"] += 1
                    continue
                if sh > p.max_sharing:
                    rejected["sharing"] += 1
                    continue
                lo = True
            else:
                lo = self.criteria.locally_optimal(route.nodes, edges, p.local_optimality, d_from, d_to)
            routes.append(route)
            stretch.append(st)
            sharing.append(sh)
            local.append(lo)
            accepted_edges.append(edges)
        result = self._result(routes, optimum, stretch, sharing, local, iterations, n_local, start)
        result.rejected.update(rejected)
        return result

    def _repaired(self, nodes: np.ndarray, edges: np.ndarray, d_from: np.ndarray, d_to: np.ndarray
                  ) -> np.ndarray | None:
        """The route made locally optimal by replacing failing windows with shortest paths
        (at most ``repairs`` times), cutting out any cycle a replacement closes; ``None`` if it
        still fails. Costs only go down."""
        p = self.parameters
        for _ in range(p.repairs + 1):
            window = self.criteria.failing_window(nodes, edges, p.local_optimality, d_from, d_to)
            if window is None:
                return edges
            i, j = window
            middle = self.hierarchy.shortest_path(int(nodes[i]), int(nodes[j])).edges
            edges = np.concatenate([edges[:i], middle, edges[j:]])
            nodes = np.concatenate([nodes[:1], self.graph.indices[edges]])
            if np.unique(nodes).size != nodes.size:
                nodes, edges = _without_cycles(nodes, edges)
        return None

    # ------------------------------------------------------------------ via-node baseline
    def via_node(self, source: int, target: int, max_candidates: int = 64) -> AlternativeRoutes:
        """Via-node alternatives (X-BDV, the OSRM family): shortest-path trees from the source and
        to the target on the corridor; candidate via nodes ``v`` in order of
        ``d(s, v) + d(v, t)``; the route ``s -> v -> t`` of tree paths is accepted when it is
        simple and passes the same three criteria. Nodes of every evaluated route are skipped
        as later candidates (they would give the same route).

        Raises
        ------
        InfeasibleError
            If ``target`` cannot be reached from ``source``.
        """
        start = time.perf_counter()
        p = self.parameters
        problem = ShortestPathProblem(self.graph, source, target, self.hierarchy.weight)
        s, t = problem.source, problem.target
        d_from = self.distances_from(s)
        d_to = self.distances_to(t)
        optimum = float(d_from[t])
        if not math.isfinite(optimum):
            raise InfeasibleError(problem.describe_pair(),
                                  f"no path from node {node_label(self.graph, s)} to node {node_label(self.graph, t)}")
        best = self.hierarchy.shortest_path(s, t)
        routes, stretch, sharing, local = [best], [1.0], [0.0], [True]
        if p.k == 1 or s == t:
            return self._result(routes, optimum, stretch, sharing, local, 0, 0, start, "via-node")
        score = d_from + d_to
        nodes = np.flatnonzero(score <= p.max_stretch * optimum * (1.0 + COST_RTOL))
        local_of = np.full(self.graph.n_nodes, -1, np.int64)
        local_of[nodes] = np.arange(nodes.size)
        ptr, head, edge = kernels.corridor_csr(nodes, local_of, self.graph.indptr, self.graph.indices, self.costs)
        # reverse corridor: edges grouped by head
        order = np.argsort(head, kind="stable")
        tails_local = np.repeat(np.arange(nodes.size), np.diff(ptr))
        r_ptr = np.zeros(nodes.size + 1, np.int64)
        np.cumsum(np.bincount(head, minlength=nodes.size), out=r_ptr[1:])
        r_head, r_edge = tails_local[order], edge[order]
        n_local = nodes.size
        hk, hn, hpos = (a[:n_local] for a in self._heap)
        dist_f, pred_f = np.empty(n_local), np.empty(n_local, np.int64)
        dist_b, pred_b = np.empty(n_local), np.empty(n_local, np.int64)
        kernels.dijkstra_tree(int(local_of[s]), ptr, head, self.costs[edge], dist_f, pred_f, hk, hn, hpos)
        kernels.dijkstra_tree(int(local_of[t]), r_ptr, r_head, self.costs[r_edge], dist_b, pred_b, hk, hn, hpos)
        covered = np.zeros(n_local, bool)
        covered[local_of[best.nodes]] = True
        accepted = [best.edges]
        candidates = np.argsort(dist_f + dist_b, kind="stable")
        evaluated = 0
        for v in candidates.tolist():
            if len(routes) >= p.k or evaluated >= max_candidates:
                break
            if covered[v] or not math.isfinite(dist_f[v] + dist_b[v]):
                continue
            evaluated += 1
            up: list[int] = []
            x = v
            while pred_f[x] >= 0:
                up.append(int(edge[pred_f[x]]))
                x = int(kernels.tail_of(pred_f[x], ptr))
            down: list[int] = []
            x = v
            while pred_b[x] >= 0:
                down.append(int(r_edge[pred_b[x]]))
                x = int(kernels.tail_of(pred_b[x], r_ptr))
            edges = np.asarray(up[::-1] + down, dtype=np.int64)
            route_nodes = np.concatenate([[s], self.graph.indices[edges]])
            covered[local_of[route_nodes]] = True
            if np.unique(route_nodes).size != route_nodes.size:
                continue  # not a simple path
            st = self.criteria.cost(edges) / optimum if optimum > 0 else 1.0
            sh = self.criteria.sharing(edges, accepted)
            if st > p.max_stretch * (1.0 + COST_RTOL) or sh > p.max_sharing:
                continue
            if not self.criteria.locally_optimal(route_nodes, edges, p.local_optimality, d_from, d_to):
                continue
            route = route_from_edges(self.graph, s, edges, self.hierarchy.weight)
            routes.append(Route(route.nodes, route.edges, self.criteria.cost(edges), route.weight, route.length_m,
                                route.travel_time_s))
            stretch.append(st)
            sharing.append(sh)
            local.append(True)
            accepted.append(edges)
        return self._result(routes, optimum, stretch, sharing, local, evaluated, n_local, start, "via-node")

    def _result(self, routes: list[Route], optimum: float, stretch: list[float], sharing: list[float],
                local: list[bool], iterations: int, corridor_nodes: int, start: float,
                method: str | None = None) -> AlternativeRoutes:
        if method is None:
            method = "boosting" if self.parameters.filters else "penalty-loop"
        return AlternativeRoutes(tuple(routes), optimum, np.asarray(stretch), np.asarray(sharing),
                                 np.asarray(local, dtype=bool), iterations, corridor_nodes,
                                 time.perf_counter() - start, method)


def _without_cycles(nodes: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The route with every cycle cut out (a node visited twice keeps only the part after its
    last visit), so it is a simple path no more expensive than before."""
    last = {int(v): i for i, v in enumerate(nodes.tolist())}
    keep_nodes, keep_edges = [int(nodes[0])], []
    i = last[int(nodes[0])]
    while i < nodes.size - 1:
        keep_edges.append(int(edges[i]))
        i = last[int(nodes[i + 1])]
        keep_nodes.append(int(nodes[i]))
    return np.asarray(keep_nodes, dtype=np.int64), np.asarray(keep_edges, dtype=np.int64)


def alternative_routes(hierarchy: ContractionHierarchy, source: int, target: int,
                       parameters: AlternativeParameters | None = None) -> AlternativeRoutes:
    """The optimum and up to ``k - 1`` alternatives between two nodes; see :class:`AlternativeRouter`."""
    return AlternativeRouter(hierarchy, parameters).alternatives(source, target)
