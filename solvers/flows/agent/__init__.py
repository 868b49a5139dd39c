"""DRL+GNN demand-routing agent (Almasan et al.): environment, baselines, GNN Q-network, DQN."""
