"""SolveNetworkDesign through a real server on a loopback port."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration

from tests._service_helpers import operations_service, violations, wait_done
from tests.conftest import requires_data

pytestmark = [requires_data("tntp", "SiouxFalls"), pytest.mark.slow]  # the server start takes ~25 s here


@pytest.fixture(scope="module")
def pb():
    from server.stubs import load

    return load()


@pytest.fixture(scope="module")
def stubs(tmp_path_factory, pb):
    with operations_service(tmp_path_factory.mktemp("service-design"), pb) as stubs:
        yield stubs


def test_design_operation_runs_to_done_and_its_tstt_checks_out(stubs, pb):
    from datasets.tntp import read_assignment_problem
    from planner.assignment import total_system_travel_time
    from solvers.design.problem import NetworkDesignProblem

    request = pb.optimization_pb2.SolveNetworkDesignRequest(
        network="SiouxFalls", budget_share=0.05, method=pb.assignment_pb2.NETWORK_DESIGN_METHOD_SURROGATE,
        generations=5, seed=2, time_limit=Duration(seconds=60))
    op = stubs.optimization.SolveNetworkDesign(request, timeout=30).operation
    assert op.kind == pb.operations_pb2.OPERATION_KIND_NETWORK_DESIGN
    final = wait_done(stubs, pb, op.name)
    assert final.state == pb.operations_pb2.OPERATION_STATE_DONE, final.error.message
    result = final.network_design_result
    assert result.solver == "design-ga-surrogate" and result.generations >= 1
    # recompute the design's capacities and TSTT here from the returned lanes and flows
    problem = NetworkDesignProblem.from_assignment(read_assignment_problem("SiouxFalls"), budget_share=0.05)
    net = problem.assignment.network
    assert result.budget == pytest.approx(problem.budget)
    length = net.to_file_order(np.asarray(net.length))
    assert result.cost == pytest.approx(length[list(result.added_lanes)].sum()) and result.cost <= result.budget
    lanes = problem.lanes.copy()
    lanes[list(result.added_lanes)] += 1
    for r in result.reversals:
        lanes[r.from_link] -= 1
        lanes[r.to_link] += 1
    assert lanes.min() >= 1
    base_cap = net.to_file_order(np.asarray(net.capacity))
    capacity = base_cap / problem.lanes * lanes
    assert np.allclose(result.link_capacities, capacity)
    flows = np.array(result.link_flows)
    fft = net.to_file_order(np.asarray(net.free_flow_time))
    b, p = net.to_file_order(np.asarray(net.bpr_b)), net.to_file_order(np.asarray(net.bpr_power))
    tstt = float(np.sum(flows * fft * (1 + b * (flows / capacity) ** p)))
    assert result.total_system_travel_time == pytest.approx(tstt, rel=1e-9)
    designed = net.graph.with_edge_attrs(capacity=net.from_file_order(capacity))
    import dataclasses

    assert total_system_travel_time(dataclasses.replace(net, graph=designed),
                                    net.from_file_order(flows)) == pytest.approx(tstt, rel=1e-9)
    assert result.total_system_travel_time < result.base_total_system_travel_time
    assert result.relative_gap <= 1e-4
    assert result.HasField("predicted_total_system_travel_time")


@pytest.mark.parametrize(("fields", "path"), [
    ({"budget": -5.0}, "budget"),
    ({"budget_share": 1.5}, "budget_share"),
    ({"generations": -1}, "generations"),
    ({"network": "../etc"}, "network"),
    ({"method": 7}, "method"),
])
def test_bad_design_requests_are_rejected_with_the_field(stubs, pb, fields, path):
    request = pb.optimization_pb2.SolveNetworkDesignRequest(network="SiouxFalls")
    for key, value in fields.items():
        setattr(request, key, value)
    with pytest.raises(grpc.RpcError) as info:
        stubs.optimization.SolveNetworkDesign(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert path in [f for f, _ in violations(info.value)]
