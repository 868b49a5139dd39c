"""The discrete network design problem: which links get an extra lane within a budget, and which
two-way links have a lane reversed (Madadi & Correia 2024).

Lanes
-----
TNTP files give link capacities, not lanes. A link's lane count is derived from its capacity
and a per-lane capacity (``lane_capacity``, default 1,800 vehicles per hour, the HCM base
saturation flow of one freeway lane): ``lanes = max(1, round(capacity / lane_capacity))``. Every
lane of a link carries ``capacity / lanes``, so adding a lane raises the capacity by that
amount, and moving a lane to the opposite direction lowers the donor's capacity by its per-lane
capacity and raises the receiver's by the receiver's per-lane capacity. The BPR parameters,
free-flow time and length of a link never change.

Decisions
---------
* Lane addition: each candidate link may get one extra lane at a cost (default
  ``cost_per_lane_length * length``); the total cost of a design may not exceed the budget.
* Lane reversal: each candidate pair of opposite links ``(i, j)`` (``i: u -> v``, ``j: v -> u``)
  may move one lane from ``j`` to ``i`` or from ``i`` to ``j``. The donor must have at least two
  lanes in the base network so that at least one lane stays in each direction. Reversals cost
  nothing (re-striping and signals, not construction) and are not limited by the budget.

A design is a *genome*: an ``int8`` vector of length ``n_additions + n_reversals``; the first
``n_additions`` genes are 0/1 (no lane / one extra lane on ``add_links[k]``), the rest are 0
(no change), 1 (move a lane from the second link of ``reversal_pairs[k]`` to the first) or 2
(from the first to the second).

Links are named by their 0-based row in the TNTP net file, as in every error message of
:mod:`planner.assignment` (``links[12]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from planner.assignment import AssignmentProblem
from planner.errors import ValidationError

#: Default capacity of one lane (vehicles per hour; HCM base saturation flow of a freeway lane).
DEFAULT_LANE_CAPACITY = 1800.0

#: Default relative gap every exact user-equilibrium assignment of a design is solved to.
DEFAULT_TARGET_GAP = 1e-4


@dataclass(frozen=True)
class Design:
    """A design in words: which links get a lane and which lanes are reversed.

    Parameters
    ----------
    added_lanes
        File rows of the links that get an extra lane.
    reversals
        ``(from_link, to_link)`` file rows: one lane of ``from_link`` now serves ``to_link``.
    cost
        Total cost of the added lanes.
    """

    added_lanes: tuple[int, ...]
    reversals: tuple[tuple[int, int], ...]
    cost: float


@dataclass(frozen=True, eq=False)
class NetworkDesignProblem:
    """A discrete network design problem over a user-equilibrium assignment problem.

    Parameters
    ----------
    assignment
        The base assignment problem (objective ``"ue"``: users route selfishly in the lower
        level; the upper level minimises total system travel time).
    lanes
        Lanes of every link in the base network, file row order (``>= 1``).
    add_links
        File rows of the links that may get one extra lane (distinct).
    add_costs
        Cost of the extra lane on each ``add_links`` entry (finite, ``>= 0``).
    budget
        Most the added lanes of a design may cost together (finite, ``>= 0``).
    reversal_pairs
        ``(k, 2)`` file rows of opposite links ``(i, j)`` whose lanes may be reversed; a link is
        in at most one pair and at least one link of a pair has two or more lanes.
    target_gap
        Relative gap every exact assignment of a design is solved to.
    name
        Name of the instance.

    Raises
    ------
    ValidationError
        Naming the field: ``budget: negative (-1.0)``, ``add_links[3]: unknown link 999 (links
        are 0..75)``, ``reversal_pairs[0]: links 4 (2->6) and 7 (3->2) are not opposite``, ...
    """

    assignment: AssignmentProblem
    lanes: np.ndarray
    add_links: np.ndarray
    add_costs: np.ndarray
    budget: float
    reversal_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    target_gap: float = DEFAULT_TARGET_GAP
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.assignment, AssignmentProblem):
            raise ValidationError("assignment", f"must be an AssignmentProblem, got {type(self.assignment).__name__}")
        if self.assignment.objective != "ue":
            raise ValidationError("assignment.objective", f"must be 'ue' (got {self.assignment.objective!r})")
        net = self.assignment.network
        m = net.n_links
        lanes = _int_array("lanes", self.lanes)
        if lanes.shape != (m,):
            raise ValidationError("lanes", f"shape {lanes.shape} != ({m},) links")
        if (lanes < 1).any():
            k = int(np.flatnonzero(lanes < 1)[0])
            raise ValidationError(f"lanes[{k}]", f"must be at least 1 ({lanes[k]})")
        add = _int_array("add_links", self.add_links).ravel()
        _check_link_ids("add_links", add, m)
        _, first = np.unique(add, return_index=True)
        if first.size != add.size:
            k = int(np.setdiff1d(np.arange(add.size), first)[0])
            raise ValidationError(f"add_links[{k}]", f"link {add[k]} listed twice")
        try:
            costs = np.array(self.add_costs, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise ValidationError("add_costs", f"not numeric ({exc})") from None
        if costs.shape != add.shape:
            raise ValidationError("add_costs", f"{costs.size} costs for {add.size} add_links")
        bad = ~np.isfinite(costs) | (costs < 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValidationError(f"add_costs[{k}]", f"must be finite and non-negative ({costs[k]})")
        budget = _number("budget", self.budget)
        if not math.isfinite(budget):
            raise ValidationError("budget", f"not finite ({budget})")
        if budget < 0:
            raise ValidationError("budget", f"negative ({budget})")
        pairs = _int_array("reversal_pairs", self.reversal_pairs)
        if pairs.size == 0:
            pairs = np.zeros((0, 2), dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValidationError("reversal_pairs", f"must have shape (k, 2), got {pairs.shape}")
        tails = net.to_file_order(net.tail_ids)
        heads = net.to_file_order(net.head_ids)
        seen: dict[int, int] = {}
        for k, (i, j) in enumerate(pairs.tolist()):
            _check_link_ids(f"reversal_pairs[{k}]", np.array([i, j]), m)
            if not (tails[i] == heads[j] and heads[i] == tails[j]) or i == j:
                raise ValidationError(f"reversal_pairs[{k}]", f"links {i} ({tails[i]}->{heads[i]}) and {j} "
                                      f"({tails[j]}->{heads[j]}) are not opposite")
            for link in (i, j):
                if link in seen:
                    raise ValidationError(f"reversal_pairs[{k}]",
                                          f"link {link} is already in reversal_pairs[{seen[link]}]")
                seen[link] = k
            if lanes[i] < 2 and lanes[j] < 2:
                raise ValidationError(f"reversal_pairs[{k}]", f"links {i} and {j} have one lane each: "
                                      "a reversal would leave a direction without a lane")
        gap = _number("target_gap", self.target_gap)
        if not (math.isfinite(gap) and 0 < gap < 1):
            raise ValidationError("target_gap", f"must be in (0, 1) ({gap})")
        for name, value in (("lanes", lanes), ("add_links", add), ("add_costs", costs), ("reversal_pairs", pairs)):
            value = value.copy()
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "budget", budget)
        object.__setattr__(self, "target_gap", gap)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_assignment(
        cls,
        assignment: AssignmentProblem,
        *,
        budget: float | None = None,
        budget_share: float = 0.1,
        lane_capacity: float = DEFAULT_LANE_CAPACITY,
        cost_per_lane_length: float = 1.0,
        add_links: Sequence[int] | np.ndarray | None = None,
        reversal_links: Sequence[int] | np.ndarray | None = None,
        reversal: bool = True,
        target_gap: float = DEFAULT_TARGET_GAP,
        name: str = "",
    ) -> NetworkDesignProblem:
        """The design problem of a network with lanes derived from capacities.

        Parameters
        ----------
        assignment
            Base user-equilibrium problem.
        budget
            Budget in cost units; ``None`` takes ``budget_share`` of the cost of adding a lane
            to every candidate link.
        budget_share
            Share used when ``budget`` is ``None`` (in ``[0, 1]``).
        lane_capacity
            Capacity of one lane; ``lanes = max(1, round(capacity / lane_capacity))``.
        cost_per_lane_length
            Cost of one extra lane per unit of link length.
        add_links
            File rows that may get a lane (default: every link).
        reversal_links
            File rows whose lanes may be reversed; each is paired with its opposite link
            (default: every two-way link with a donor lane to spare).
        reversal
            ``False`` disables lane reversal.
        target_gap
            Relative gap of every exact assignment.
        name
            Instance name (default: the network's name).

        Raises
        ------
        ValidationError
            ``budget: negative (-5.0)``, ``add_links[0]: unknown link 999 (links are 0..75)``,
            ``reversal_links[0]: link 5 (2->6) is one-way: no link 6->2`` and the like.
        """
        if not isinstance(assignment, AssignmentProblem):
            raise ValidationError("assignment", f"must be an AssignmentProblem, got {type(assignment).__name__}")
        net = assignment.network
        m = net.n_links
        lane_capacity = _number("lane_capacity", lane_capacity)
        if not (math.isfinite(lane_capacity) and lane_capacity > 0):
            raise ValidationError("lane_capacity", f"must be positive and finite ({lane_capacity})")
        unit = _number("cost_per_lane_length", cost_per_lane_length)
        if not (math.isfinite(unit) and unit >= 0):
            raise ValidationError("cost_per_lane_length", f"must be finite and non-negative ({unit})")
        capacity = net.to_file_order(np.asarray(net.capacity, dtype=np.float64))
        lanes = np.maximum(1, np.rint(capacity / lane_capacity)).astype(np.int64)
        if add_links is None:
            add = np.arange(m, dtype=np.int64)
        else:
            add = _int_array("add_links", add_links).ravel()
            _check_link_ids("add_links", add, m)
        length = net.to_file_order(np.asarray(net.length, dtype=np.float64))
        costs = unit * length[add]
        if budget is None:
            share = _number("budget_share", budget_share)
            if not (math.isfinite(share) and 0 <= share <= 1):
                raise ValidationError("budget_share", f"must be in [0, 1] ({share})")
            budget = share * float(costs.sum())
        pairs = reversal_pairs_of(assignment, lanes, reversal_links) if reversal else np.zeros((0, 2), np.int64)
        return cls(assignment, lanes, add, costs, budget, pairs, target_gap, name or net.name)

    # ------------------------------------------------------------------ sizes
    @property
    def n_additions(self) -> int:
        """Number of lane-addition candidates."""
        return int(self.add_links.size)

    @property
    def n_reversals(self) -> int:
        """Number of lane-reversal candidate pairs."""
        return int(self.reversal_pairs.shape[0])

    @property
    def n_genes(self) -> int:
        """Length of a genome."""
        return self.n_additions + self.n_reversals

    @property
    def n_links(self) -> int:
        """Number of links of the network."""
        return self.assignment.network.n_links

    def empty_genome(self) -> np.ndarray:
        """The do-nothing design."""
        return np.zeros(self.n_genes, dtype=np.int8)

    # ------------------------------------------------------------------ genomes
    def reversal_options(self) -> np.ndarray:
        """``(n_reversals, 3)`` booleans (read-only): which gene values (0, 1, 2) each pair
        allows (a donor needs two lanes)."""
        return self._reversal_options

    @cached_property
    def _reversal_options(self) -> np.ndarray:
        lanes = self.lanes
        pairs = self.reversal_pairs
        out = np.ones((pairs.shape[0], 3), dtype=bool)
        out[:, 1] = lanes[pairs[:, 1]] >= 2  # lane from the second link to the first
        out[:, 2] = lanes[pairs[:, 0]] >= 2
        out.setflags(write=False)
        return out

    def check_genome(self, genome: np.ndarray, field_name: str = "genome") -> np.ndarray:
        """``genome`` as a validated ``int8`` vector.

        Raises
        ------
        ValidationError
            Wrong length, a gene out of range, a reversal taking the only lane of a link, or a
            design over budget (``genome: cost 1250.0 exceeds the budget 1000.0``).
        """
        try:
            g = np.asarray(genome)
            if g.dtype.kind not in "iub":
                raise TypeError(f"dtype {g.dtype}")
            g = g.astype(np.int8).ravel()
        except (TypeError, ValueError) as exc:
            raise ValidationError(field_name, f"not an integer vector ({exc})") from None
        if g.size != self.n_genes:
            raise ValidationError(field_name, f"length {g.size} != {self.n_genes} genes")
        a = g[:self.n_additions]
        if ((a < 0) | (a > 1)).any():
            k = int(np.flatnonzero((a < 0) | (a > 1))[0])
            raise ValidationError(f"{field_name}[{k}]", f"lane addition gene must be 0 or 1 ({a[k]})")
        r = g[self.n_additions:]
        if ((r < 0) | (r > 2)).any():
            k = int(np.flatnonzero((r < 0) | (r > 2))[0])
            raise ValidationError(f"{field_name}[{self.n_additions + k}]", f"reversal gene must be 0, 1 or 2 ({r[k]})")
        allowed = self.reversal_options()[np.arange(r.size), r]
        if not allowed.all():
            k = int(np.flatnonzero(~allowed)[0])
            raise ValidationError(f"{field_name}[{self.n_additions + k}]",
                                  "the donor link has one lane; it must keep it")
        cost = self.cost(g)
        if cost > self.budget * (1 + 1e-12):
            raise ValidationError(field_name, f"cost {cost} exceeds the budget {self.budget}")
        return g

    def cost(self, genome: np.ndarray) -> float:
        """Cost of the lanes a genome adds."""
        return float(self.add_costs @ (np.asarray(genome[:self.n_additions]) > 0))

    def lanes_of(self, genome: np.ndarray) -> np.ndarray:
        """Lanes of every link (file row order) under a design."""
        lanes = self.lanes.copy()
        lanes[self.add_links] += np.asarray(genome[:self.n_additions], dtype=np.int64)
        r = np.asarray(genome[self.n_additions:], dtype=np.int64)
        pairs = self.reversal_pairs
        first, second = pairs[r == 1], pairs[r == 2]
        np.add.at(lanes, first[:, 0], 1)
        np.add.at(lanes, first[:, 1], -1)
        np.add.at(lanes, second[:, 1], 1)
        np.add.at(lanes, second[:, 0], -1)
        return lanes

    def lanes_of_many(self, genomes: np.ndarray) -> np.ndarray:
        """``(n, n_links)`` lanes (file row order) of a batch of designs (a link is in at most
        one candidate list entry and one reversal pair, so the updates never collide)."""
        g = np.atleast_2d(np.asarray(genomes)).astype(np.int64)
        lanes = np.repeat(self.lanes[None, :], g.shape[0], axis=0)
        lanes[:, self.add_links] += g[:, :self.n_additions]
        if self.n_reversals:
            r = g[:, self.n_additions:]
            shift = (r == 1).astype(np.int64) - (r == 2)
            lanes[:, self.reversal_pairs[:, 0]] += shift
            lanes[:, self.reversal_pairs[:, 1]] -= shift
        return lanes

    def capacities(self, genome: np.ndarray) -> np.ndarray:
        """Link capacities (graph edge order) under a design: per-lane capacity times lanes."""
        net = self.assignment.network
        base = np.asarray(net.capacity, dtype=np.float64)
        lanes_edge = net.from_file_order(self.lanes)
        new_edge = net.from_file_order(self.lanes_of(genome))
        return base / lanes_edge * new_edge

    def describe(self, genome: np.ndarray) -> Design:
        """A genome in words (file rows)."""
        g = np.asarray(genome)
        added = tuple(int(x) for x in self.add_links[g[:self.n_additions] > 0])
        rev = []
        for k, gene in enumerate(g[self.n_additions:].tolist()):
            i, j = (int(x) for x in self.reversal_pairs[k])
            if gene == 1:
                rev.append((j, i))
            elif gene == 2:
                rev.append((i, j))
        return Design(added, tuple(rev), self.cost(g))


def reversal_pairs_of(assignment: AssignmentProblem, lanes: np.ndarray,
                      links: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Pairs of opposite links whose lanes may be reversed (file rows, ``(k, 2)``).

    Every listed link (default: every link) is paired with the first not yet paired link in the
    opposite direction; pairs where neither link has a lane to spare are left out when the
    links were not listed explicitly.

    Raises
    ------
    ValidationError
        ``reversal_links[0]: link 5 (2->6) is one-way: no link 6->2``, an unknown link, or an
        explicitly listed pair where both links have one lane.
    """
    net = assignment.network
    m = net.n_links
    tails = net.to_file_order(net.tail_ids).tolist()
    heads = net.to_file_order(net.head_ids).tolist()
    explicit = links is not None
    rows = np.arange(m, dtype=np.int64) if links is None else _int_array("reversal_links", links).ravel()
    if explicit:
        _check_link_ids("reversal_links", rows, m)
    by_pair: dict[tuple[int, int], list[int]] = {}
    for row in range(m):
        by_pair.setdefault((tails[row], heads[row]), []).append(row)
    paired: set[int] = set()
    out: list[tuple[int, int]] = []
    for k, row in enumerate(rows.tolist()):
        if row in paired:
            continue
        opposite = [r for r in by_pair.get((heads[row], tails[row]), []) if r not in paired]
        if not opposite:
            if explicit:
                raise ValidationError(f"reversal_links[{k}]", f"link {row} ({tails[row]}->{heads[row]}) is one-way: "
                                      f"no (unpaired) link {heads[row]}->{tails[row]}")
            continue
        partner = opposite[0]
        if lanes[row] < 2 and lanes[partner] < 2:
            if explicit:
                raise ValidationError(f"reversal_links[{k}]", f"links {row} and {partner} have one lane each: "
                                      "a reversal would leave a direction without a lane")
            continue
        paired.update((row, partner))
        out.append((row, partner))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def _int_array(name: str, value: object) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(name, f"not an integer array ({exc})") from None
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and np.all(arr == np.rint(arr))):
            raise ValidationError(name, "must hold integers")
    elif arr.dtype.kind not in "iu":
        raise ValidationError(name, f"must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_link_ids(name: str, ids: np.ndarray, m: int) -> None:
    bad = (ids < 0) | (ids >= m)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        field_name = name if name.endswith("]") else f"{name}[{k}]"
        raise ValidationError(field_name, f"unknown link {ids[k]} (links are 0..{m - 1})")


def _number(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise ValidationError(name, f"must be a number ({value!r})")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(name, f"must be a number ({value!r})") from None
    if math.isnan(out):
        raise ValidationError(name, "not a number (nan)")
    return out
