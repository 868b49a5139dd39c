"""DRL+GNN demand-routing agent (Almasan et al.): environment, baselines, GNN Q-network, DQN."""

from pathlib import Path

#: The checkpoint shipped with the package (named here, where no torch is imported).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "routing-agent.pt"
