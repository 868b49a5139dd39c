"""Commands that train learned models: ``routeplanner train vrp-policy``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.commands._output import console, print_rows, split_list


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add the ``train`` group: ``vrp-policy``, ``routing-agent`` (+ ``-ensemble``), ``design-surrogate``."""
    train_app = typer.Typer(help="Train learned models.", no_args_is_help=True)
    train_app.command("vrp-policy")(train_vrp_policy_command)
    train_app.command("routing-agent")(train_routing_agent_command)
    train_app.command("routing-agent-ensemble")(train_routing_agent_ensemble_command)
    train_app.command("design-surrogate")(train_design_surrogate_command)
    app.add_typer(train_app, name="train")


def train_vrp_policy_command(
    checkpoint: Annotated[Path, typer.Option(help="Checkpoint to write (and resume from).")] = Path(
        "vrp-policy.pt"),
    sizes: Annotated[str, typer.Option(help="Curriculum: clients per stage, comma-separated.")] = "50,100,200",
    steps: Annotated[str, typer.Option(help="Steps per stage, comma-separated.")] = "700,150,40",
    batch_size: Annotated[int, typer.Option(help="Instances per step at the first size.")] = 16,
    max_starts: Annotated[int, typer.Option(help="Solutions (POMO starts) per instance, at most.")] = 100,
    learning_rate: Annotated[float, typer.Option(help="Adam step size.")] = 5e-4,
    road: Annotated[str | None, typer.Option(help="Road network (monaco, heidelberg, porto) for a share of "
                                                  "the instances.")] = None,
    road_share: Annotated[float, typer.Option(help="Share of road-network instances.")] = 0.25,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    minutes: Annotated[float | None, typer.Option(help="Stop (with a checkpoint) after this many minutes.")] = None,
    threads: Annotated[int, typer.Option(help="Torch threads.")] = 1,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over even if the checkpoint exists.")] = False,
    log_every: Annotated[int, typer.Option(help="Steps between log lines when not on a terminal.")] = 10,
) -> None:
    """Train the VRP construction policy (REINFORCE, POMO baseline, size curriculum); resumable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from solvers.vrp.policy.train import TrainConfig, TrainProgress, train

    config = TrainConfig(
        sizes=tuple(int(s) for s in split_list(sizes)), stage_steps=tuple(int(s) for s in split_list(steps)),
        batch_size=batch_size, max_starts=max_starts, learning_rate=learning_rate, road=road,
        road_share=road_share, seed=seed, threads=threads,
    )
    max_seconds = None if minutes is None else 60.0 * minutes
    columns = (TextColumn("[bold]n={task.fields[size]}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("mean cost {task.fields[cost]}"), TextColumn("val gap {task.fields[gap]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("train", total=config.total_steps, size="-", cost="-", gap="-")

        def on_progress(p: TrainProgress) -> None:
            gap = "-" if p.validation_gap_pct is None else f"{p.validation_gap_pct:+.2f} %"
            bar.update(task, completed=p.step, size=p.size, cost=f"{p.mean_cost:.4f}", gap=gap)
            if not console.is_terminal and (p.step % max(log_every, 1) == 0 or p.step == p.total_steps):
                console.print(f"step {p.step}/{p.total_steps} n={p.size} mean cost {p.mean_cost:.4f} "
                              f"loss {p.loss:+.4f} val gap vs savings {gap} {p.elapsed_s:.0f} s", highlight=False)

        result = train(config, checkpoint, resume=not fresh, max_seconds=max_seconds, progress=on_progress)
    if result.history:
        print_rows("validation (greedy multi-start vs savings)", [
            {"step": h["step"], "n": h["size"], "mean_cost": h["running_mean_cost"],
             "gap_vs_savings_pct": h["validation_gap_pct"], "train_s": h["train_seconds"]} for h in result.history])
    state = "finished" if result.finished else "stopped (resume with the same command)"
    console.print(f"{state} at step {result.step}/{result.total_steps}, {result.elapsed_s:.0f} s of training; "
                  f"checkpoint {result.checkpoint}")


def train_design_surrogate_command(
    network: Annotated[str, typer.Argument(help="TNTP network name or folder (SiouxFalls, Eastern-Massachusetts).")],
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint to write (default: the shipped one of the "
                                                         "network under solvers/design/checkpoints/).")] = None,
    samples: Annotated[int, typer.Option(help="Random designs solved exactly for training.")] = 800,
    epochs: Annotated[int, typer.Option(help="Training epochs of the first round.")] = 80,
    refine_rounds: Annotated[int, typer.Option(help="Rounds of surrogate GA + exact solves of its best designs.")] = 2,
    refine_epochs: Annotated[int, typer.Option(help="Training epochs per refinement round.")] = 40,
    budget_share: Annotated[float, typer.Option(help="Budget as a share of the cost of a lane on every link.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of designs, split, weights and batches.")] = 0,
    threads: Annotated[int, typer.Option(help="Torch threads.")] = 1,
) -> None:
    """Train the GNN surrogate of the network-design GA on exactly solved random designs."""
    import torch

    from datasets.tntp import read_assignment_problem
    from solvers.design.problem import NetworkDesignProblem
    from solvers.design.surrogate import default_checkpoint, save_surrogate
    from solvers.design.training import TrainingParams, train_surrogate

    torch.set_num_threads(max(1, threads))
    problem = NetworkDesignProblem.from_assignment(read_assignment_problem(network), budget_share=budget_share)
    params = TrainingParams(samples=samples, epochs=epochs, refine_rounds=refine_rounds,
                            refine_epochs=refine_epochs, seed=seed)
    surrogate, error = train_surrogate(problem, params, log=lambda line: console.print(line, highlight=False))
    path = save_surrogate(checkpoint or default_checkpoint(problem.assignment.network.name), surrogate)
    meta = surrogate.meta
    print_rows("held-out random designs", [{
        "network": problem.assignment.network.name, "designs": error.designs, "tstt_mape_pct": error.tstt_mape_pct,
        "tstt_max_ape_pct": error.tstt_max_ape_pct, "flow_wape_pct": error.flow_wape_pct,
        "flow_mape_pct": error.flow_mape_pct, "rank_correlation": error.rank_correlation,
        "data_s": meta["data_seconds"], "training_s": meta["training_seconds"]}])
    console.print(f"checkpoint {path}")


def train_routing_agent_command(
    checkpoint: Annotated[Path, typer.Option(help="Best model goes here; the resume state beside it "
                                                  "(.train.pt).")] = Path("routing-agent.pt"),
    topology: Annotated[str, typer.Option(help="Training topology.")] = "nsfnet",
    steps: Annotated[int, typer.Option(help="Learning steps in all.")] = 12_000,
    envs: Annotated[int, typer.Option(help="Episodes played side by side.")] = 16,
    batch_size: Annotated[int, typer.Option(help="Transitions per learning step.")] = 32,
    learning_rate: Annotated[float, typer.Option(help="Adam step size.")] = 1e-3,
    hidden: Annotated[int, typer.Option(help="Link state size.")] = 16,
    message_steps: Annotated[int, typer.Option(help="Message-passing rounds T.")] = 4,
    pooling: Annotated[str, typer.Option(help="Readout pooling: sum-max, mean-max or mean-max-path.")] = "mean-max",
    message: Annotated[str, typer.Option(help="Message function: neighbour or pairwise.")] = "neighbour",
    validate_every: Annotated[int, typer.Option(help="Learning steps between validations.")] = 500,
    validate_on: Annotated[str, typer.Option(help="Extra validation topologies, comma-separated; with any, the "
                                                  "model is selected on mean (agent - least-max-utilisation) "
                                                  "over the training topology and these.")] = "",
    capacity_jitter: Annotated[float, typer.Option(help="Training capacity drawn per episode from "
                                                        "200 * [1 - j, 1 + j] (0: off).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    minutes: Annotated[float | None, typer.Option(help="Stop (with a checkpoint) after this many minutes.")] = None,
    threads: Annotated[int, typer.Option(help="Torch threads.")] = 1,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over even if a resume state exists.")] = False,
) -> None:
    """Train the DRL+GNN demand-routing agent (double DQN, link message passing); resumable."""
    from solvers.flows.agent.dqn import LearnerConfig
    from solvers.flows.agent.gnn import GnnConfig
    from solvers.flows.agent.train import TrainConfig, TrainProgress, train

    config = TrainConfig(topology=topology, steps=steps, envs=envs, batch_size=batch_size, seed=seed,
                         threads=threads, validate_every=validate_every, capacity_jitter=capacity_jitter,
                         validation_topologies=tuple(t.strip() for t in validate_on.split(",") if t.strip()),
                         gnn=GnnConfig(hidden=hidden, steps=message_steps, pooling=pooling, message=message),
                         learner=LearnerConfig(learning_rate=learning_rate))

    def on_progress(p: TrainProgress) -> None:
        console.print(f"step {p.step}/{p.total_steps} episodes {p.episodes} eps {p.epsilon:.3f} loss {p.loss:.4f} "
                      f"train {p.mean_train_score:.2f} validation {p.validation_score:.3f} "
                      f"(best {p.best_validation_score:.3f}) {p.elapsed_s:.0f} s", highlight=False)

    max_seconds = None if minutes is None else 60.0 * minutes
    result = train(config, checkpoint, resume=not fresh, max_seconds=max_seconds, progress=on_progress)
    state = "finished" if result.finished else "stopped (resume with the same command)"
    console.print(f"{state} at step {result.step}/{result.total_steps}, {result.elapsed_s:.0f} s of training; "
                  f"best validation {result.best_validation_score}; checkpoint {result.checkpoint}")


def train_routing_agent_ensemble_command(
    members: Annotated[str, typer.Argument(help="Agent checkpoints to combine, comma-separated.")],
    checkpoint: Annotated[Path, typer.Option(help="Ensemble checkpoint to write.")] = Path("routing-agent.pt"),
) -> None:
    """Combine trained routing agents into one ensemble checkpoint (the mean of their Q-values)."""
    from solvers.flows.agent.checkpoint import combine_agents, load_agent

    out = combine_agents(split_list(members), checkpoint)
    model = load_agent(out).model
    console.print(f"wrote {out}: {len(model.members)} Q-networks, "
                  f"{sum(p.numel() for p in model.parameters()):,} parameters")
