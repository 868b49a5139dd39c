"""The learned VRP policy and the EARLI hybrid: feasibility of every decoded solution (checked by
planner.vrp.check_feasibility), diversity and determinism of batched decoding, training steps,
checkpoints, and the seeding of the GA."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from datasets.generators.vrp import generate_cvrp, generate_vrptw
from planner.budget import Budget
from planner.errors import DataFormatError, DataNotFoundError
from planner.vrp import VrpInstance, VrpSolution, check_feasibility, solution_cost
from solvers.vrp.ga import solve_ga
from solvers.vrp.policy import PolicyParams, solve_earli, solve_policy, warm_up
from solvers.vrp.policy.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint
from solvers.vrp.policy.decoder import default_starts, rollout
from solvers.vrp.policy.features import instance_arrays
from solvers.vrp.policy.greedy_kernel import greedy_rollout
from solvers.vrp.policy.inference import decode
from solvers.vrp.policy.model import PolicyConfig, PolicyModel
from solvers.vrp.policy.train import TrainConfig, train

TINY = PolicyConfig(embed_dim=16, n_layers=1, n_heads=2, ff_dim=32, knn=6)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def model() -> PolicyModel:
    torch.manual_seed(7)
    return PolicyModel(TINY).eval()


@pytest.fixture()
def tiny_checkpoint(tmp_path, model):
    return str(save_checkpoint(tmp_path / "tiny.pt", model, step=0))


def _fleet_only(report) -> bool:
    """True when the only violations are more routes than the fleet (the mask does not limit it)."""
    return all(v.field == "routes" and "fleet" in v.reason for v in report.violations)


def _asymmetric(n: int, seed: int) -> VrpInstance:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, size=(n + 1, 2))
    base = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    dist = np.rint(base * rng.uniform(1.0, 1.6, size=base.shape))
    np.fill_diagonal(dist, 0)
    demands = np.concatenate(([0], rng.integers(1, 20, size=n)))
    return VrpInstance("asym", demands=demands, capacity=50, distances=dist)


INSTANCES = [
    pytest.param(lambda: generate_cvrp(5, seed=1, demand="large-tight"), id="cvrp-5"),
    pytest.param(lambda: generate_cvrp(23, distribution="clustered", seed=2, demand="skewed"), id="cvrp-23"),
    pytest.param(lambda: generate_cvrp(61, distribution="mixed", seed=3, depot="eccentric"), id="cvrp-61"),
    pytest.param(lambda: _asymmetric(30, 4), id="asymmetric-30"),
    pytest.param(lambda: generate_vrptw(25, seed=5), id="vrptw-25"),
    pytest.param(lambda: generate_vrptw(40, distribution="clustered", seed=6, window_width=20.0), id="vrptw-40"),
    pytest.param(lambda: VrpInstance("duration", demands=generate_cvrp(30, seed=7).demands,
                                     capacity=generate_cvrp(30, seed=7).capacity,
                                     coords=generate_cvrp(30, seed=7).coords, max_route_duration=1600.0),
                 id="max-duration-30"),
]


@pytest.mark.parametrize("make", INSTANCES)
@pytest.mark.parametrize("sample", [False, True])
def test_every_decoded_solution_is_feasible(model, make, sample):
    instance = make()
    n = instance.n_clients
    p = 12
    out = rollout(model, [instance_arrays(instance, TINY.knn)], p, starts=default_starts(n, 1, p), sample=sample,
                  generator=torch.Generator().manual_seed(3))
    for k in range(p):
        routes = out.routes(0, k)
        report = check_feasibility(instance, VrpSolution(routes, float(out.cost[0, k])))
        assert report.feasible or _fleet_only(report), str(report)
        assert report.objective == pytest.approx(solution_cost(instance, routes))


@pytest.mark.parametrize("make", INSTANCES)
def test_compiled_greedy_decoding_equals_the_torch_decoder(model, make):
    """The numba kernel chooses the same nodes as ``rollout`` (both in float64) and its solutions
    are feasible with their costs recomputed."""
    instance = make()
    n = instance.n_clients
    arrays = instance_arrays(instance, TINY.knn)
    model.decoder.double()
    p = 9
    starts = default_starts(n, 1, p)
    with torch.inference_mode():
        emb = model.encode([arrays]).double()
        reference = rollout(model, [arrays], p, starts=starts, emb=emb, with_log_prob=False)
    fast = greedy_rollout(model, arrays, starts[0].numpy(), emb=emb)
    assert torch.equal(fast.actions, reference.actions)
    np.testing.assert_allclose(fast.cost.numpy(), reference.cost.numpy(), rtol=1e-12)
    for k in range(p):
        report = check_feasibility(instance, VrpSolution(fast.routes(0, k), float(fast.cost[0, k])))
        assert report.feasible or _fleet_only(report), str(report)
        assert report.objective == pytest.approx(solution_cost(instance, fast.routes(0, k)))


def test_batch_of_instances_is_decoded_feasibly(model):
    instances = [generate_cvrp(20, seed=s, demand="unit" if s % 2 else "large") for s in range(4)]
    out = rollout(model, [instance_arrays(i, TINY.knn) for i in instances], 5, sample=True,
                  generator=torch.Generator().manual_seed(0))
    for b, instance in enumerate(instances):
        for k in range(5):
            assert check_feasibility(instance, VrpSolution(out.routes(b, k), float(out.cost[b, k]))).feasible


def test_batched_decoding_gives_distinct_solutions(model):
    instance = generate_cvrp(30, seed=11)
    arrays = instance_arrays(instance, TINY.knn)
    greedy = rollout(model, [arrays], 16, starts=default_starts(30, 1, 16))
    tours = {tuple(np.concatenate(greedy.routes(0, k))) for k in range(16)}
    assert len(tours) == 16
    sampled = rollout(model, [arrays], 16, sample=True, generator=torch.Generator().manual_seed(1))
    assert len({tuple(np.concatenate(sampled.routes(0, k))) for k in range(16)}) >= 12


def test_decoding_is_deterministic_under_a_seed(tiny_checkpoint):
    instance = generate_cvrp(40, seed=12)
    ck = load_checkpoint(tiny_checkpoint)
    a = decode(instance, ck, 10, seed=5, sample=True)
    b = decode(instance, load_checkpoint(tiny_checkpoint), 10, seed=5, sample=True)
    c = decode(instance, ck, 10, seed=6, sample=True)
    assert [np.concatenate(r).tolist() for r in a.routes] == [np.concatenate(r).tolist() for r in b.routes]
    assert [np.concatenate(r).tolist() for r in a.routes] != [np.concatenate(r).tolist() for r in c.routes]


def test_a_policy_gradient_step_lowers_the_loss_on_its_batch(model):
    instances = [instance_arrays(generate_cvrp(15, seed=s), TINY.knn) for s in range(3)]
    model.train()
    gen = torch.Generator().manual_seed(0)
    out = rollout(model, instances, 8, starts=default_starts(15, 3, 8), sample=True, generator=gen)
    scale = torch.tensor([a.scale for a in instances], dtype=torch.float64).view(-1, 1)
    cost = out.cost / scale
    advantage = (cost - cost.mean(dim=1, keepdim=True)).float()
    loss = (advantage * out.log_prob).mean()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with torch.no_grad():
        again = rollout(model, instances, 8, starts=default_starts(15, 3, 8), replay=out.actions)
    assert torch.allclose(again.cost, out.cost)
    assert float((advantage * again.log_prob).mean()) < float(loss.detach())


def test_checkpoint_round_trip(tmp_path, model):
    path = save_checkpoint(tmp_path / "m.pt", model, step=17, meta={"note": "x"})
    loaded = load_checkpoint(path)
    assert loaded.step == 17 and loaded.meta["note"] == "x" and loaded.model.config == TINY
    for (ka, va), (kb, vb) in zip(model.state_dict().items(), loaded.model.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    instance = generate_cvrp(25, seed=3)
    arrays = instance_arrays(instance, TINY.knn)
    with torch.no_grad():
        a = rollout(model, [arrays], 6, starts=default_starts(25, 1, 6))
        b = rollout(loaded.model, [arrays], 6, starts=default_starts(25, 1, 6))
    assert torch.equal(a.actions, b.actions)


def test_bad_checkpoints_give_clear_errors(tmp_path, model):
    with pytest.raises(DataNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataFormatError, match="not a readable"):
        load_checkpoint(corrupt)
    other = tmp_path / "other.pt"
    torch.save({"kind": "something-else", "model": {}}, other)
    with pytest.raises(DataFormatError, match="not a VRP policy checkpoint"):
        load_checkpoint(other)
    path = save_checkpoint(tmp_path / "m.pt", model, step=1)
    payload = torch.load(path, weights_only=True)
    payload["config"]["embed_dim"] = 32
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(DataFormatError, match="do not match"):
        load_checkpoint(tmp_path / "mismatch.pt")


def test_training_resumes_and_continues_the_step_count(tmp_path):
    config = TrainConfig(sizes=(8, 10), stage_steps=(2, 1), batch_size=4, validate_every=0,
                         validation_instances=1, model=TINY, seed=3)
    path = tmp_path / "run.pt"
    stop = threading.Event()
    first = train(config, path, resume=False, cancel=stop, progress=lambda p: stop.set())
    assert first.step == 1 and not first.finished  # cancelled after its first step
    saved = load_checkpoint(path)
    assert saved.step == 1 and saved.optimizer_state is not None
    steps = []
    second = train(config, path, progress=lambda p: steps.append((p.step, p.size)))
    assert second.finished and second.step == 3
    assert steps == [(2, 8), (3, 10)]
    assert [h["step"] for h in second.history] == [2, 3]  # validation at each stage end
    assert load_checkpoint(path).meta["train_seconds"] >= saved.meta["train_seconds"]
    assert not torch.equal(next(iter(saved.model.state_dict().values())),
                           next(iter(load_checkpoint(path).model.state_dict().values())))


def test_policy_solver_returns_feasible_best_of_n(tiny_checkpoint):
    instance = generate_cvrp(45, seed=21)
    solution = solve_policy(instance, Budget(seed=2), params=PolicyParams(checkpoint=tiny_checkpoint,
                                                                          n_solutions=20, chunk=8))
    report = check_feasibility(instance, solution)
    assert report.feasible and solution.meta["feasible"] and solution.meta["solutions"] == 20
    decoded = decode(instance, load_checkpoint(tiny_checkpoint), 20, seed=2, chunk=8)
    assert solution.objective == pytest.approx(decoded.costs.min())


def test_earli_is_feasible_within_a_time_limit_that_includes_the_policy(tiny_checkpoint):
    instance = generate_cvrp(60, seed=22, distribution="clustered")
    limit = 1.0
    warm_up(tiny_checkpoint)  # one-off costs (numba kernels, torch), as the benchmark does before timing
    solution = solve_earli(instance, Budget(time_limit=limit, seed=1),
                           params=PolicyParams(checkpoint=tiny_checkpoint, n_solutions=16, chunk=16))
    assert check_feasibility(instance, solution).feasible
    meta = solution.meta
    assert meta["policy_s"] + meta["polish_s"] <= solution.runtime_s
    assert solution.runtime_s < limit + 0.5  # the GA gets what the policy left, not the whole limit
    assert solution.objective <= meta["seed_best"] <= meta["policy_best"]


def test_earli_returns_the_best_seed_when_the_policy_used_the_whole_limit(tiny_checkpoint):
    instance = generate_cvrp(40, seed=24)
    solution = solve_earli(instance, Budget(time_limit=0.001, seed=1),
                           params=PolicyParams(checkpoint=tiny_checkpoint, n_solutions=4, chunk=4))
    assert check_feasibility(instance, solution).feasible
    assert solution.iterations == 0 and solution.objective == pytest.approx(solution.meta["seed_best"])


def test_seeded_ga_starts_from_the_policys_best(tiny_checkpoint):
    instance = generate_cvrp(50, seed=23)
    events = []
    solution = solve_earli(instance, Budget(max_iterations=30, seed=4, progress=events.append),
                           params=PolicyParams(checkpoint=tiny_checkpoint, n_solutions=16, n_seeds=6,
                                               ga_initial_size=10))
    assert events[0].objective == pytest.approx(solution.meta["seed_best"])
    assert events[0].iteration == 0
    assert solution.objective == pytest.approx(events[-1].objective)
    # the GA given the policy's raw solutions reports their best as its initial best
    decoded = decode(instance, load_checkpoint(tiny_checkpoint), 8, seed=4)
    given = [VrpSolution(tuple(r), solution_cost(instance, r)) for r in decoded.routes]
    ga_events = []
    solve_ga(instance, Budget(max_iterations=5, seed=1, progress=ga_events.append), initial=given)
    assert ga_events[0].objective == pytest.approx(min(s.objective for s in given))


def test_shipped_checkpoint_decodes_sizes_it_was_not_trained_on():
    checkpoint = load_checkpoint(DEFAULT_CHECKPOINT)
    assert DEFAULT_CHECKPOINT.stat().st_size < 10 * 2**20
    for instance in (generate_cvrp(7, seed=31), generate_cvrp(137, seed=32, distribution="clustered"),
                     generate_vrptw(30, seed=33)):
        decoded = decode(instance, checkpoint, 8, seed=0)
        for routes in decoded.routes:
            report = check_feasibility(instance, VrpSolution(routes, solution_cost(instance, routes)))
            assert report.feasible or _fleet_only(report), str(report)
