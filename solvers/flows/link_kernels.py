"""Compiled per-link BPR kernels shared by the assignment solvers.

The cost of link ``a`` at flow ``v`` is ``fft * (1 + b * (v / cap) ** power) + fixed`` (user
equilibrium) or its marginal social cost ``fft * (1 + (power + 1) * b * (v / cap) ** power) +
fixed`` (system optimum); see :mod:`planner.assignment`. These kernels evaluate one link at a
time so solvers can update costs in place inside compiled loops. ``cap`` must be the network's
safe capacity (1 where the capacity is not positive, which :class:`AssignmentProblem` allows
only with ``b = 0``).
"""

from __future__ import annotations

import numba
import numpy as np

from planner.assignment import AssignmentProblem


@numba.njit(cache=True, nogil=True, inline="always")
def link_cost(v: float, fft: float, b: float, power: float, cap: float, fixed: float, so: bool) -> float:
    """Cost of one link at flow ``v`` (marginal cost when ``so``)."""
    if b == 0.0:
        return fft + fixed
    t = b * (v / cap) ** power
    if so:
        t *= power + 1.0
    return fft * (1.0 + t) + fixed


@numba.njit(cache=True, nogil=True, inline="always")
def link_cost_derivative(v: float, fft: float, b: float, power: float, cap: float, so: bool) -> float:
    """Derivative of :func:`link_cost` with respect to the flow (0 where it is undefined at 0)."""
    if b == 0.0 or power == 0.0 or fft == 0.0:
        return 0.0
    if v > 0.0:
        d = fft * b * power * (v / cap) ** (power - 1.0) / cap
    elif power == 1.0:
        d = fft * b / cap
    else:
        return 0.0
    if so:
        d *= power + 1.0
    return d


@numba.njit(cache=True, nogil=True)
def costs_into(x: np.ndarray, fft: np.ndarray, b: np.ndarray, power: np.ndarray, cap: np.ndarray,
               fixed: np.ndarray, so: bool, out: np.ndarray) -> None:
    """``out[a] = link_cost(x[a])`` for every link."""
    for a in range(x.size):
        out[a] = link_cost(x[a], fft[a], b[a], power[a], cap[a], fixed[a], so)


@numba.njit(cache=True, nogil=True)
def derivatives_into(x: np.ndarray, fft: np.ndarray, b: np.ndarray, power: np.ndarray, cap: np.ndarray,
                     so: bool, out: np.ndarray) -> None:
    """``out[a] = link_cost_derivative(x[a])`` for every link."""
    for a in range(x.size):
        out[a] = link_cost_derivative(x[a], fft[a], b[a], power[a], cap[a], so)


@numba.njit(cache=True, nogil=True)
def directional_derivative(alpha: float, x: np.ndarray, d: np.ndarray, fft: np.ndarray, b: np.ndarray,
                           power: np.ndarray, cap: np.ndarray, fixed: np.ndarray, so: bool) -> float:
    """Derivative of the objective at ``x + alpha * d`` along ``d``: ``sum_a d_a c_a(x_a + alpha d_a)``."""
    total = 0.0
    for a in range(x.size):
        da = d[a]
        if da == 0.0:
            continue
        v = x[a] + alpha * da
        if v < 0.0:
            v = 0.0
        total += da * link_cost(v, fft[a], b[a], power[a], cap[a], fixed[a], so)
    return total


@numba.njit(cache=True, nogil=True)
def exact_line_search(x: np.ndarray, d: np.ndarray, fft: np.ndarray, b: np.ndarray, power: np.ndarray,
                      cap: np.ndarray, fixed: np.ndarray, so: bool, max_halvings: int) -> float:
    """Step ``alpha`` in ``[0, 1]`` minimising the (convex) objective along ``d`` from ``x``:
    bisection on the directional derivative, to ``2 ** -max_halvings``."""
    if directional_derivative(1.0, x, d, fft, b, power, cap, fixed, so) <= 0.0:
        return 1.0
    if directional_derivative(0.0, x, d, fft, b, power, cap, fixed, so) >= 0.0:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(max_halvings):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if directional_derivative(mid, x, d, fft, b, power, cap, fixed, so) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def link_parameters(problem: AssignmentProblem) -> tuple[np.ndarray, ...]:
    """``(fft, b, power, cap, fixed)`` of the problem's links as contiguous float arrays,
    ``cap`` made safe (1 where not positive)."""
    net = problem.network
    return tuple(np.ascontiguousarray(a, dtype=np.float64) for a in (
        net.free_flow_time, net.bpr_b, net.bpr_power, net._safe_capacity, net.fixed_cost))
