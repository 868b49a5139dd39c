"""The message-passing Q-network over links (torch-geometric), after Almasan et al.

Every undirected link of the network is a graph node of the *line graph*; two links that share
an end node exchange messages. One state-action pair (the network's remaining capacities with
the current demand placed on one candidate path) is one line graph whose link features are

0. remaining capacity / capacity, before the action;
1. remaining capacity / capacity, after the action (differs only on the path's links);
2. the link's standardised betweenness (see :mod:`solvers.flows.agent.environment`);
3. 1 on the candidate path's links, else 0;
4. demand bandwidth / largest demand on the path's links, else 0;
5. 1 where the link has room for the demand, else 0.

The features are embedded to ``hidden`` units; ``steps`` rounds of message passing follow, each
summing an MLP message from every neighbouring link (the MLP of the neighbour's state, as a
sparse product with the line-graph adjacency; or, with ``message="pairwise"``, the paper's MLP
of the receiving and sending links' states side by side) and updating the link state with a GRU cell
(the paper's scheme); the link states of a graph are summed (the paper; ``pooling="sum-max"``) or averaged
(``"mean-max"``, the shipped model: the same scale on any network size) beside their maximum
(added: it shows bottleneck links directly), and an MLP reads out Q(s, a). With
``pooling="mean-max-path"`` the readout also gets the mean and maximum over the candidate
path's own links: a whole-network mean dilutes the one path that differs between two actions
by the network's size. :class:`QEnsemble` averages the Q-values of several trained networks (the
shipped agent is such an ensemble).
Features 0, 2, 3 and 4 are the paper's (capacity, betweenness, the action's demand); 1 and 5 are
added to speed up learning. Nothing in the network depends on the topology's size, so a trained
model runs on any connected topology.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import MessagePassing

from planner.errors import ValidationError
from solvers.flows.agent.environment import RoutingNetwork

#: Number of link features (see the module notes).
N_FEATURES = 6
#: Index of the on-path flag among the link features.
ON_PATH_FEATURE = 3
#: Graph readouts (see :class:`GnnConfig`).
POOLINGS = ("sum-max", "mean-max", "mean-max-path")


@dataclass(frozen=True)
class GnnConfig:
    """Sizes of the Q-network.

    Parameters
    ----------
    hidden
        Link state size (the paper: 20).
    steps
        Message-passing rounds T (the paper: 4).
    readout
        Hidden units of the two readout layers (the paper: 35).
    pooling
        Graph readout: the sum (``"sum-max"``, the paper) or the mean (``"mean-max"``) of the
        link states, each beside their maximum; ``"mean-max-path"`` adds the mean and the
        maximum over the candidate path's links (the action's own links), so the difference
        between two actions does not shrink as the network grows.
    message
        ``"neighbour"``: a message is an MLP of the sending link's state (the default, and what
        checkpoints without this field hold); ``"pairwise"``: an MLP of the receiving and the
        sending link's states side by side (the paper's message function).
    """

    hidden: int = 16
    steps: int = 4
    readout: int = 32
    pooling: str = "sum-max"
    message: str = "neighbour"

    def __post_init__(self) -> None:
        for name in ("hidden", "steps", "readout"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValidationError(name, f"must be a positive integer ({value!r})")
        if self.pooling not in POOLINGS:
            raise ValidationError("pooling", f"must be one of {', '.join(POOLINGS)} ({self.pooling!r})")
        if self.message not in ("neighbour", "pairwise"):
            raise ValidationError("message", f"must be 'neighbour' or 'pairwise' ({self.message!r})")

    def to_dict(self) -> dict[str, int | str]:
        """Plain values, for checkpoints."""
        return asdict(self)


class PairwiseLinkMessages(nn.Module):
    """Sum over neighbouring links ``j`` of ``MLP([h_i, h_j])`` (the paper's message function).

    The first layer is split into its receiver and sender halves, computed once per link; the
    hidden layer and the second layer run per line-graph edge, and the messages are summed into
    their receivers with ``index_add``.
    """

    def __init__(self, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SELU(), nn.Linear(hidden, hidden))

    def forward(self, h: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Aggregated messages ``(G, m, hidden)``; ``adjacency`` as for :class:`LinkMessages`."""
        hidden = h.shape[-1]
        receiver, sender = adjacency.indices()
        first, act, second = self.mlp
        w = first.weight
        to_receiver = h @ w[:, :hidden].T + first.bias
        from_sender = h @ w[:, hidden:].T
        per_edge = second(act(to_receiver[:, receiver] + from_sender[:, sender]))
        return torch.zeros_like(h).index_add_(1, receiver, per_edge)


class LinkMessages(MessagePassing):
    """Sum over neighbouring links of ``MLP(h_neighbour)``.

    The MLP runs once per link; the sum over neighbours is one sparse product of the line
    graph's ``(m, m)`` adjacency with the ``(m, G * hidden)`` states of all ``G`` graphs of a
    batch side by side (``message_and_aggregate``): every graph of a batch is the same network.
    """

    def __init__(self, hidden: int):
        super().__init__(aggr="add")
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SELU(), nn.Linear(hidden, hidden))

    def forward(self, h: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Aggregated messages ``(G, m, hidden)`` of link states ``h`` ``(G, m, hidden)``;
        ``adjacency`` is the sparse ``(receivers, senders)`` ``(m, m)`` matrix."""
        g, m, hidden = h.shape
        x = self.mlp(h).permute(1, 0, 2).reshape(m, g * hidden)
        return self.propagate(adjacency, x=x).reshape(m, g, hidden).permute(1, 0, 2)

    def message(self, x_j: torch.Tensor) -> torch.Tensor:
        """Message from neighbour ``j`` (already transformed)."""
        return x_j

    def message_and_aggregate(self, adj_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Sum of the neighbours' messages: a sparse-dense product."""
        return torch.sparse.mm(adj_t, x)


class LinkQNetwork(nn.Module):
    """Q(s, a) of a batch of state-action line graphs.

    Parameters
    ----------
    config
        Sizes, see :class:`GnnConfig`.
    """

    def __init__(self, config: GnnConfig | None = None):
        super().__init__()
        self.config = config or GnnConfig()
        h = self.config.hidden
        self.embed = nn.Sequential(nn.Linear(N_FEATURES, h), nn.SELU())
        self.messages = PairwiseLinkMessages(h) if self.config.message == "pairwise" else LinkMessages(h)
        self.update = nn.GRUCell(h, h)
        pooled = 4 * h if self.config.pooling == "mean-max-path" else 2 * h
        self.readout = nn.Sequential(
            nn.Linear(pooled, self.config.readout), nn.SELU(),
            nn.Linear(self.config.readout, self.config.readout), nn.SELU(),
            nn.Linear(self.config.readout, 1),
        )

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Q-values.

        Parameters
        ----------
        x
            ``(G, m, N_FEATURES)`` link features of ``G`` state-action graphs of one network.
        adjacency
            ``(m, m)`` sparse line-graph adjacency (receiver, sender), see :func:`line_adjacency`.

        Returns
        -------
        torch.Tensor
            ``(G,)``.
        """
        g, m, _ = x.shape
        h = self.embed(x)
        hidden = h.shape[-1]
        for _ in range(self.config.steps):
            messages = self.messages(h, adjacency)
            h = self.update(messages.reshape(g * m, hidden), h.reshape(g * m, hidden)).reshape(g, m, hidden)
        total = h.sum(dim=1) if self.config.pooling == "sum-max" else h.mean(dim=1)
        parts = [total, h.amax(dim=1)]
        if self.config.pooling == "mean-max-path":
            on_path = x[..., ON_PATH_FEATURE:ON_PATH_FEATURE + 1] > 0  # (G, m, 1)
            count = on_path.sum(dim=1).clamp(min=1)
            parts.append((h * on_path).sum(dim=1) / count)
            parts.append(h.masked_fill(~on_path, float("-inf")).amax(dim=1).clamp(min=-1e9))
        return self.readout(torch.cat(parts, dim=-1)).squeeze(-1)


class QEnsemble(nn.Module):
    """The mean Q-value of several independently trained Q-networks.

    Each member is a greedy policy whose choices on unseen topologies vary a lot from one
    training run (or even one checkpoint) to the next; averaging their Q-values keeps what they
    agree on (the usual variance reduction of ensembles, as in ensemble DQN). All members score
    the same state-action graphs, so they may differ in size and readout.

    Parameters
    ----------
    members
        The Q-networks (at least one).
    """

    def __init__(self, members: list[LinkQNetwork]):
        super().__init__()
        if not members:
            raise ValidationError("members", "an ensemble needs at least one Q-network")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """``(G,)`` mean Q-values; arguments as for :meth:`LinkQNetwork.forward`."""
        return torch.stack([member(x, adjacency) for member in self.members]).mean(dim=0)


#: Anything that maps state-action graphs to Q-values: one network or an ensemble.
QModel = LinkQNetwork | QEnsemble


class NetworkTensors:
    """Torch views of a :class:`RoutingNetwork` for batched Q evaluation.

    Holds the candidate-path link masks ``(n * n, k, m)``, the betweenness and the line graph
    (edge list and sparse adjacency).
    """

    def __init__(self, network: RoutingNetwork):
        self.network = network
        n, k, m = network.n_nodes, network.k, network.n_links
        mask = np.zeros((n * n, k, m), dtype=np.float32)
        pl = network.path_links
        p_idx, j_idx, h_idx = np.nonzero(pl >= 0)
        mask[p_idx, j_idx, pl[p_idx, j_idx, h_idx]] = 1.0
        self.path_mask = torch.from_numpy(mask)
        self.path_valid = torch.from_numpy(np.arange(k)[None, :] < network.path_count[:, None])
        self.betweenness = torch.from_numpy(network.betweenness.astype(np.float32))
        self.line_edges = torch.from_numpy(np.stack([network.line_src, network.line_dst]))
        self.adjacency = line_adjacency(self.line_edges, m)


def line_adjacency(edge_index: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Sparse (COO, coalesced) ``(receiver, sender)`` adjacency of line-graph edges
    ``(sender, receiver)``."""
    values = torch.ones(edge_index.shape[1])
    return torch.sparse_coo_tensor(edge_index.flip(0), values, (n_rows, n_rows), check_invariants=False).coalesce()


def state_action_features(tensors: NetworkTensors, remaining: torch.Tensor, pairs: torch.Tensor,
                          bandwidth: torch.Tensor, capacity: float, max_demand: float) -> torch.Tensor:
    """Link features of every candidate action of a batch of states.

    Parameters
    ----------
    tensors
        The network.
    remaining
        ``(B, m)`` remaining capacities.
    pairs
        ``(B,)`` pair index ``source * n + target`` of each state's demand.
    bandwidth
        ``(B,)`` demand bandwidths.
    capacity, max_demand
        Normalisers.

    Returns
    -------
    torch.Tensor
        ``(B, k, m, N_FEATURES)``.
    """
    on_path = tensors.path_mask[pairs]  # (B, k, m)
    b, k, m = on_path.shape
    rem = (remaining / capacity)[:, None, :].expand(b, k, m)
    bw = (bandwidth / capacity)[:, None, None]
    after = rem - on_path * bw
    between = tensors.betweenness[None, None, :].expand(b, k, m)
    demand = on_path * (bandwidth / max_demand)[:, None, None]
    room = (remaining >= bandwidth[:, None]).to(remaining.dtype)[:, None, :].expand(b, k, m)
    return torch.stack([rem, after, between, on_path, demand, room], dim=-1)


def q_of_graphs(model: QModel, tensors: NetworkTensors, features: torch.Tensor) -> torch.Tensor:
    """``(G,)`` Q-values of ``G`` state-action graphs given their ``(G, m, N_FEATURES)`` features."""
    return model(features, tensors.adjacency)


def q_values(model: QModel, tensors: NetworkTensors, remaining: torch.Tensor, pairs: torch.Tensor,
             bandwidth: torch.Tensor, capacity: float, max_demand: float) -> torch.Tensor:
    """``(B, k)`` Q-values of every candidate of a batch of states (``-inf`` where a pair has
    fewer than ``k`` candidates)."""
    feats = state_action_features(tensors, remaining, pairs, bandwidth, capacity, max_demand)
    b, k, m, f = feats.shape
    q = q_of_graphs(model, tensors, feats.reshape(b * k, m, f)).reshape(b, k)
    return q.masked_fill(~tensors.path_valid[pairs], float("-inf"))


def fitting_mask(tensors: NetworkTensors, remaining: torch.Tensor, pairs: torch.Tensor,
                 bandwidth: torch.Tensor) -> torch.Tensor:
    """``(B, k)`` whether each candidate exists and has room for its state's demand."""
    on_path = tensors.path_mask[pairs] > 0  # (B, k, m)
    short = (remaining < bandwidth[:, None])[:, None, :]  # (B, 1, m)
    return tensors.path_valid[pairs] & ~(on_path & short).any(dim=-1)
