"""SolveDemandRouting through a real server on a loopback port."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration

from tests._service_helpers import operations_service, violations, wait_done
from tests.conftest import requires_data

pytestmark = [requires_data("topologies", "drl_gnn", "nsfnet_drlgnn.graphml"), pytest.mark.slow]


@pytest.fixture(scope="module")
def pb():
    from server.stubs import load

    return load()


@pytest.fixture(scope="module")
def stubs(tmp_path_factory, pb):
    with operations_service(tmp_path_factory.mktemp("service-demand-routing"), pb) as stubs:
        yield stubs


@pytest.mark.parametrize("policy", ["sap", "routing-agent"])
def test_demand_routing_operation_matches_episodes_played_here(stubs, pb, policy):
    from datasets.graphml import read_topology
    from solvers.flows.agent.baselines import ShortestAvailablePath
    from solvers.flows.agent.checkpoint import load_agent
    from solvers.flows.agent.environment import EnvConfig, RoutingNetwork
    from solvers.flows.agent.play import AgentPolicy, play_policy

    request = pb.optimization_pb2.SolveDemandRoutingRequest(topology="nsfnet", policy=policy, episodes=12, seed=5,
                                                           time_limit=Duration(seconds=120))
    op = stubs.optimization.SolveDemandRouting(request, timeout=30).operation
    assert op.kind == pb.operations_pb2.OPERATION_KIND_DEMAND_ROUTING
    final = wait_done(stubs, pb, op.name)
    assert final.state == pb.operations_pb2.OPERATION_STATE_DONE, final.error.message
    result = final.demand_routing_result
    assert (result.topology, result.policy, result.episodes, result.nodes, result.links) == ("nsfnet", policy, 12, 14,
                                                                                           21)
    # the same episodes, played here one demand at a time by the unbatched policies
    net = RoutingNetwork.from_graph(read_topology("nsfnet").graph, k=4, name="nsfnet")
    chooser = ShortestAvailablePath() if policy == "sap" else AgentPolicy(load_agent().model)
    here = play_policy(chooser, net, EnvConfig(), 5, range(12))
    np.testing.assert_allclose(result.episode_scores, here.score)
    np.testing.assert_array_equal(result.episode_demands_routed, here.routed)
    assert result.mean_score == pytest.approx(float(here.score.mean()))
    assert result.score_stderr == pytest.approx(float(here.score.std(ddof=1) / np.sqrt(12)))


@pytest.mark.parametrize(("fields", "path"), [
    ({"episodes": -1}, "episodes"),
    ({"episodes": 200_000}, "episodes"),
    ({"k": 17}, "k"),
    ({"capacity": -5.0}, "capacity"),
    ({"policy": "oracle"}, "policy"),
    ({"topology": "../etc/passwd"}, "topology"),
    ({"topology": ""}, "topology"),
    ({"seed": -3}, "seed"),
])
def test_bad_demand_routing_requests_are_rejected_with_the_field(stubs, pb, fields, path):
    request = pb.optimization_pb2.SolveDemandRoutingRequest(topology="nsfnet")
    for key, value in fields.items():
        setattr(request, key, value)
    with pytest.raises(grpc.RpcError) as info:
        stubs.optimization.SolveDemandRouting(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert path in [f for f, _ in violations(info.value)]


def test_unknown_topology_is_not_found_and_the_server_stays_up(stubs, pb):
    with pytest.raises(grpc.RpcError) as info:
        stubs.optimization.SolveDemandRouting(pb.optimization_pb2.SolveDemandRoutingRequest(
            topology="NoSuchNetwork"), timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    op = stubs.optimization.SolveDemandRouting(pb.optimization_pb2.SolveDemandRoutingRequest(
        topology="gbn", policy="least-max-util", episodes=3), timeout=30).operation
    assert wait_done(stubs, pb, op.name).state == pb.operations_pb2.OPERATION_STATE_DONE
