"""Snapping coordinates to a road network: nearest node and nearest edge.

Points are (lat, lon) in degrees. They are projected to a local equirectangular plane in metres
centred on the network (accurate to well under 1 % over a city), where a KD-tree
(``scipy.spatial.cKDTree``) finds candidates and exact point-to-segment distances decide.

Nearest edge: every segment of every edge shape is sampled at both ends and at most
``sample_spacing_m`` apart. If the best candidate segment lies at distance ``D``, the true
nearest segment has a sample within ``D + spacing / 2``, so checking every segment with a sample
in that radius is exact (not a heuristic). The ``k`` nearest samples usually settle it; points
where they do not are finished with a radius query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from planner.errors import FieldViolation, ValidationError
from planner.graph.road import RoadNetwork

#: Mean Earth radius in metres (IUGG), the sphere osmnx's great-circle lengths use.
EARTH_RADIUS_M = 6_371_009.0

_TIE_M = 1e-6  # segments this close to the best count as tied; the lowest edge index wins


@dataclass(frozen=True)
class EdgeSnap:
    """Where one point meets the network.

    Parameters
    ----------
    edge
        Edge index (CSR order of the network's graph).
    fraction
        Position of the snapped point along the edge shape, 0 at the tail node, 1 at the head.
    lat, lon
        The snapped point on the edge, in degrees.
    distance_m
        Distance from the input point to the snapped point, metres.
    """

    edge: int
    fraction: float
    lat: float
    lon: float
    distance_m: float


@dataclass(frozen=True, eq=False)
class EdgeSnaps:
    """Many :class:`EdgeSnap` as aligned arrays (see :class:`EdgeSnap` for the fields)."""

    edges: np.ndarray
    fractions: np.ndarray
    lats: np.ndarray
    lons: np.ndarray
    distances_m: np.ndarray

    def __len__(self) -> int:
        return int(self.edges.size)

    def __getitem__(self, i: int) -> EdgeSnap:
        return EdgeSnap(int(self.edges[i]), float(self.fractions[i]), float(self.lats[i]), float(self.lons[i]),
                        float(self.distances_m[i]))


class SpatialIndex:
    """Nearest node and nearest edge of a :class:`RoadNetwork` for (lat, lon) points.

    Parameters
    ----------
    network
        The road network; edge shapes are followed, so a point beside a curved road snaps onto
        the curve.
    max_distance_m
        Default limit: a point farther than this from the network raises
        :class:`~planner.errors.ValidationError`.
    sample_spacing_m
        Largest gap between KD-tree samples along a segment (memory against candidate count;
        the answer is exact whatever it is).

    Examples
    --------
    >>> index = SpatialIndex(network)                         # doctest: +SKIP
    >>> snap = index.nearest_edge(43.7384, 7.4246)            # doctest: +SKIP
    >>> snap.edge, snap.fraction, snap.distance_m             # doctest: +SKIP
    """

    def __init__(self, network: RoadNetwork, *, max_distance_m: float = 1000.0,
                 sample_spacing_m: float = 50.0) -> None:
        _check_positive("max_distance_m", max_distance_m)
        _check_positive("sample_spacing_m", sample_spacing_m)
        self.network = network
        self.max_distance_m = float(max_distance_m)
        lonlat = network.graph.coords
        self._lon0 = float(0.5 * (lonlat[:, 0].min() + lonlat[:, 0].max()))
        self._lat0 = float(0.5 * (lonlat[:, 1].min() + lonlat[:, 1].max()))
        self._ky = EARTH_RADIUS_M * math.pi / 180.0
        self._kx = self._ky * math.cos(math.radians(self._lat0))
        self._node_tree = cKDTree(self._project(lonlat[:, 1], lonlat[:, 0]))

        # segments of every edge shape
        offsets = network.geometry_offsets
        points = self._project(network.geometry_coords[:, 1], network.geometry_coords[:, 0])
        n_points = points.shape[0]
        starts = np.delete(np.arange(n_points - 1), offsets[1:-1] - 1)
        self._a = points[starts]
        self._b = points[starts + 1]
        self._seg_edge = np.repeat(np.arange(network.n_edges), np.diff(offsets) - 1)
        seg_len = np.hypot(*(self._b - self._a).T)
        self._seg_len = seg_len
        cum = np.cumsum(seg_len)
        first_seg = offsets[:-1] - np.arange(network.n_edges)  # index of each edge's first segment
        edge_start = np.concatenate([[0.0], cum])[first_seg]
        self._seg_before = np.concatenate([[0.0], cum[:-1]]) - edge_start[self._seg_edge]
        self._edge_len = np.bincount(self._seg_edge, weights=seg_len, minlength=network.n_edges)

        # KD-tree samples: segment ends and interior points at most sample_spacing_m apart
        pieces = np.maximum(1, np.ceil(seg_len / sample_spacing_m)).astype(np.int64)
        per_seg = pieces + 1
        seg_of_sample = np.repeat(np.arange(seg_len.size), per_seg)
        first = np.zeros(seg_len.size, dtype=np.int64)
        np.cumsum(per_seg[:-1], out=first[1:])
        t = (np.arange(seg_of_sample.size) - first[seg_of_sample]) / pieces[seg_of_sample]
        samples = self._a[seg_of_sample] + t[:, None] * (self._b - self._a)[seg_of_sample]
        self._sample_seg = seg_of_sample
        self._half_gap = float(np.max(seg_len / pieces) / 2.0) if seg_len.size else 0.0
        self._sample_tree = cKDTree(samples)

    # ------------------------------------------------------------------ projection
    def _project(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.column_stack([(np.asarray(lon) - self._lon0) * self._kx, (np.asarray(lat) - self._lat0) * self._ky])

    def _unproject(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return xy[:, 1] / self._ky + self._lat0, xy[:, 0] / self._kx + self._lon0

    # ------------------------------------------------------------------ nodes
    def nearest_nodes(self, points: np.ndarray, *, max_distance_m: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of every point.

        Parameters
        ----------
        points
            ``(n, 2)`` array-like of (lat, lon) degrees.
        max_distance_m
            Limit for this call (default the index's).

        Returns
        -------
        nodes
            Dense node indices (``network.graph.node_ids[nodes]`` are the OSM ids).
        distances_m
            Distances to them in metres.

        Raises
        ------
        ValidationError
            For an invalid coordinate, or a point farther than the limit from every node.
        """
        xy = self._validated(points, "points")
        distances, nodes = self._node_tree.query(xy)
        self._check_distance(distances, max_distance_m, "points", "node")
        return nodes.astype(np.int64), distances

    def nearest_node(self, lat: float, lon: float, *, max_distance_m: float | None = None) -> int:
        """Dense index of the node nearest to (lat, lon); see :meth:`nearest_nodes`."""
        xy = self._validated([[lat, lon]], "point")
        distances, nodes = self._node_tree.query(xy)
        self._check_distance(distances, max_distance_m, "point", "node")
        return int(nodes[0])

    # ------------------------------------------------------------------ edges
    def nearest_edges(self, points: np.ndarray, *, max_distance_m: float | None = None, k: int = 16) -> EdgeSnaps:
        """Nearest edge of every point, with the snapped point and its fraction along the edge.

        Of two edges at the same distance (the two directions of a two-way street) the one
        with the lower index is returned.

        Parameters
        ----------
        points
            ``(n, 2)`` array-like of (lat, lon) degrees.
        max_distance_m
            Limit for this call (default the index's).
        k
            KD-tree candidates tried first per point (speed only; the result is exact).

        Raises
        ------
        ValidationError
            For an invalid coordinate, or a point farther than the limit from every road; the
            message names the point, e.g. ``points[3]: 52.1 km from the nearest road (max 1.0 km)``.
        """
        return self._nearest_edges(self._validated(points, "points"), max_distance_m, k, "points")

    def nearest_edge(self, lat: float, lon: float, *, max_distance_m: float | None = None) -> EdgeSnap:
        """The edge nearest to (lat, lon); see :meth:`nearest_edges`."""
        return self._nearest_edges(self._validated([[lat, lon]], "point"), max_distance_m, 16, "point")[0]

    def _nearest_edges(self, xy: np.ndarray, max_distance_m: float | None, k: int, field: str) -> EdgeSnaps:
        n = xy.shape[0]
        k = int(min(max(k, 1), self._sample_tree.n))
        sample_d, sample_i = self._sample_tree.query(xy, k=k)
        sample_d, sample_i = sample_d.reshape(n, k), sample_i.reshape(n, k)
        segments = self._sample_seg[sample_i]
        seg, dist, t = self._best_segment(xy, segments)
        # exactness: every segment with a sample within dist + half_gap must have been seen
        unsure = np.flatnonzero((k < self._sample_tree.n) & (sample_d[:, -1] <= dist + self._half_gap))
        for i in unsure:
            found = self._sample_tree.query_ball_point(xy[i], r=dist[i] + self._half_gap + 1e-9)
            cand = np.unique(self._sample_seg[np.asarray(found, dtype=np.int64)])
            s, d, tt = self._best_segment(xy[i:i + 1], cand[None, :])
            seg[i], dist[i], t[i] = s[0], d[0], tt[0]
        self._check_distance(dist, max_distance_m, field, "road")
        edges = self._seg_edge[seg]
        along = self._seg_before[seg] + t * self._seg_len[seg]
        length = self._edge_len[edges]
        fractions = np.divide(along, length, out=np.zeros(n), where=length > 0)
        snapped = self._a[seg] + t[:, None] * (self._b[seg] - self._a[seg])
        lats, lons = self._unproject(snapped)
        return EdgeSnaps(edges.astype(np.int64), np.clip(fractions, 0.0, 1.0), lats, lons, dist)

    def _best_segment(self, xy: np.ndarray, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row, the closest of the candidate ``segments``: (segment, distance, parameter)."""
        a, b = self._a[segments], self._b[segments]
        ab = b - a
        aq = xy[:, None, :] - a
        denom = np.einsum("ijk,ijk->ij", ab, ab)
        t = np.clip(np.divide(np.einsum("ijk,ijk->ij", aq, ab), denom, out=np.zeros(denom.shape),
                              where=denom > 0), 0.0, 1.0)
        d = np.hypot(*(aq - t[..., None] * ab).transpose(2, 0, 1))
        best = d.min(axis=1)
        tied = d <= best[:, None] + _TIE_M
        pick = np.argmin(np.where(tied, self._seg_edge[segments], np.iinfo(np.int64).max), axis=1)
        rows = np.arange(xy.shape[0])
        return segments[rows, pick], d[rows, pick], t[rows, pick]

    # ------------------------------------------------------------------ checks
    def _validated(self, points: np.ndarray | list, field: str) -> np.ndarray:
        try:
            arr = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError(field, f"not numeric (lat, lon) pairs ({exc})") from exc
        if arr.ndim == 1 and arr.size == 2:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValidationError(field, f"expected an (n, 2) array of (lat, lon), got shape {arr.shape}")
        lat, lon = arr[:, 0], arr[:, 1]
        bad = np.flatnonzero(~(np.abs(lat) <= 90.0) | ~(np.abs(lon) <= 180.0))
        if bad.size:
            name = (lambda i: field) if field == "point" else (lambda i: f"{field}[{i}]")
            raise ValidationError([
                FieldViolation(name(i), f"invalid coordinate (lat {lat[i]}, lon {lon[i]}): "
                                        "latitude must be within ±90 and longitude within ±180")
                for i in bad[:10]
            ])
        return self._project(lat, lon)

    def _check_distance(self, distances: np.ndarray, max_distance_m: float | None, field: str, what: str) -> None:
        limit = self.max_distance_m if max_distance_m is None else float(max_distance_m)
        _check_positive("max_distance_m", limit)
        far = np.flatnonzero(~(distances <= limit))
        if far.size:
            name = (lambda i: field) if field == "point" else (lambda i: f"{field}[{i}]")
            violations = [
                FieldViolation(name(i), f"{_format_m(distances[i])} from the nearest {what} (max {_format_m(limit)})")
                for i in far[:10]
            ]
            if far.size > 10:
                violations.append(FieldViolation(field, f"{far.size - 10} more points farther than the limit"))
            raise ValidationError(violations)


def _check_positive(field: str, value: float) -> None:
    if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
        raise ValidationError(field, f"must be a positive finite number of metres ({value!r})")


def _format_m(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"
