"""Commands that train learned models: ``routeplanner train vrp-policy``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.commands._output import console, print_rows, split_list


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add the ``train`` group with ``vrp-policy``."""
    train_app = typer.Typer(help="Train learned models.", no_args_is_help=True)
    train_app.command("vrp-policy")(train_vrp_policy_command)
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
