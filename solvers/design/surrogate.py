"""GNN surrogate of the user-equilibrium assignment of a design (Madadi & Correia 2024, in spirit).

Model
-----
Edge-conditioned message passing over the road network, in plain torch on a batch of designs
of one fixed graph:

* link features (per design): lanes under the design over base lanes, the added-lane bit, the
  reversal change (-1, 0, +1 lanes), ``log`` design capacity, free-flow time and length over
  their means, the base-case equilibrium flow over base capacity and over the mean flow, and
  the BPR time factor ``1 + b (x_base / cap)^p`` (log) at the base flow under the base and the
  design capacity, and the base flow times the change of that time as a share of base TSTT;
* node features (fixed): demand produced and attracted over the mean, a zone flag;
* ``layers`` rounds of: nodes take the mean of their incoming and of their outgoing link
  states (``index_add`` over the links, times the inverse degree: torch-geometric's scatter-mean
  broadcasts its index over the batch and feature dimensions and is several times slower here);
  links update from their state and their tail's and head's states (residual MLPs with layer
  norm; the first layer's tail and head parts are applied per node, then gathered);
* two heads: per link the equilibrium flow over base capacity (softplus), and per graph the
  log ratio of the design's TSTT to the base TSTT (MLP over the mean and the sum of link states,
  standardised by the mean and spread of the training targets, kept as model buffers).

The surrogate's fitness is ``base_tstt * exp(log-ratio head)``. The features depend on the
design only through the per-link lanes, added bits and reversal changes, so a surrogate trained
on a network serves any candidate set and budget on it with the same base lanes.

Checkpoints are ``torch.save`` dictionaries read with ``weights_only=True``: ``kind``,
``format``, ``config``, ``model`` (state dict), ``network`` (fingerprint, base lanes, base flows
and TSTT, node features) and ``meta`` (training data, time, held-out error).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from planner.checkpoints import load_weights, read_torch, save_torch
from planner.errors import DataFormatError, PlannerError, ValidationError
from solvers.design.problem import NetworkDesignProblem

CHECKPOINT_KIND = "routeplanner-design-surrogate"
CHECKPOINT_FORMAT = 1
#: Folder of the shipped checkpoints, one per network: ``<network key>.pt``.
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"

#: Number of link features.
N_LINK_FEATURES = 11
#: Number of node features.
N_NODE_FEATURES = 3


@dataclass(frozen=True)
class SurrogateConfig:
    """Architecture of the surrogate.

    Parameters
    ----------
    hidden
        Width of link and node states.
    layers
        Message-passing rounds.
    """

    hidden: int = 32
    layers: int = 2

    def __post_init__(self) -> None:
        if not 4 <= self.hidden <= 1024:
            raise ValidationError("hidden", f"must be in 4..1024 ({self.hidden})")
        if not 1 <= self.layers <= 16:
            raise ValidationError("layers", f"must be in 1..16 ({self.layers})")


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out))


class SurrogateModel(nn.Module):
    """The GNN: link features ``(B, E, F)`` -> flow over base capacity ``(B, E)`` and log TSTT
    ratio ``(B,)``.

    Parameters
    ----------
    config
        Architecture.
    tails, heads
        Tail and head node index of every link (graph edge order).
    node_features
        ``(N, N_NODE_FEATURES)`` fixed node features.
    """

    def __init__(self, config: SurrogateConfig, tails: torch.Tensor, heads: torch.Tensor,
                 node_features: torch.Tensor):
        super().__init__()
        self.config = config
        h = config.hidden
        self.register_buffer("tails", tails.long())
        self.register_buffer("heads", heads.long())
        self.register_buffer("node_features", node_features.float())
        self.n_nodes = int(node_features.shape[0])
        # mean aggregation = index_add (a sum over the links into / out of each node) times the
        # inverse degree: the numbers of a scatter-mean, without broadcasting the index over the
        # batch and feature dimensions (several times faster for a batch of designs on one graph)
        for name, index in (("inv_in_degree", self.heads), ("inv_out_degree", self.tails)):
            degree = torch.bincount(index, minlength=self.n_nodes).float().clamp(min=1.0)
            self.register_buffer(name, (1.0 / degree).view(1, -1, 1), persistent=False)
        self.link_in = _mlp(N_LINK_FEATURES, h, h)
        self.node_in = _mlp(N_NODE_FEATURES, h, h)
        self.node_updates = nn.ModuleList(_mlp(3 * h, h, h) for _ in range(config.layers))
        self.link_updates = nn.ModuleList(_mlp(3 * h, h, h) for _ in range(config.layers))
        self.node_norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.layers))
        self.link_norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.layers))
        self.flow_head = _mlp(h, h, 1)
        self.tstt_head = _mlp(2 * h, h, 1)
        # the log TSTT ratio is ``target_mean + target_scale * head``: set from the training data
        # so the head learns a standardised target (ratios vary by a few percent only)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_scale", torch.ones(()))

    def _link_update(self, k: int, e: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``link_updates[k](cat[e, v[tails], v[heads]])`` with the first layer split by input:
        its tail and head parts act on the (fewer) nodes before the gather."""
        first, act, second = self.link_updates[k]
        h = e.shape[-1]
        w = first.weight
        node_t = torch.matmul(v, w[:, h:2 * h].T)
        node_h = torch.matmul(v, w[:, 2 * h:].T)
        pre = torch.addmm(first.bias, e.reshape(-1, h), w[:, :h].T).reshape(e.shape[0], e.shape[1], -1)
        return second(act(pre + torch.index_select(node_t, 1, self.tails) + torch.index_select(node_h, 1, self.heads)))

    def forward(self, links: torch.Tensor, with_flows: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Predicted flows over base capacity ``(B, E)`` (``None`` unless ``with_flows``) and log
        TSTT ratios ``(B,)``."""
        batch = links.shape[0]
        e = self.link_in(links)
        v = self.node_in(self.node_features).unsqueeze(0).expand(batch, -1, -1)
        n = self.n_nodes
        for k in range(self.config.layers):
            zeros = e.new_zeros(batch, n, e.shape[-1])
            into = zeros.index_add(1, self.heads, e) * self.inv_in_degree
            out_of = zeros.index_add(1, self.tails, e) * self.inv_out_degree
            v = self.node_norms[k](v + self.node_updates[k](torch.cat([v, into, out_of], dim=-1)))
            e = self.link_norms[k](e + self._link_update(k, e, v))
        flows = nn.functional.softplus(self.flow_head(e)).squeeze(-1) if with_flows else None
        pooled = torch.cat([e.mean(dim=1), e.sum(dim=1) / math.sqrt(e.shape[1])], dim=-1)
        return flows, self.target_mean + self.target_scale * self.tstt_head(pooled).squeeze(-1)


@dataclass(frozen=True, eq=False)
class NetworkContext:
    """What the surrogate knows about its network, independent of any design.

    Parameters
    ----------
    fingerprint
        Hash of the network's links (ends, capacity, free-flow time, BPR) and demand.
    lanes
        Base lanes per link (file row order).
    base_flows
        Equilibrium flows of the base network (graph edge order).
    base_tstt
        Total system travel time of the base network.
    name
        Network name.
    """

    fingerprint: str
    lanes: np.ndarray
    base_flows: np.ndarray
    base_tstt: float
    name: str


def network_fingerprint(problem: NetworkDesignProblem) -> str:
    """Hash of the network (link ends, capacity, free-flow time, length, BPR) and demand."""
    net = problem.assignment.network
    h = hashlib.sha256()
    for arr in (net.tail_ids, net.head_ids, net.capacity, net.free_flow_time, net.length, net.bpr_b,
                net.bpr_power, problem.assignment.demand.matrix):
        h.update(np.ascontiguousarray(np.asarray(arr, dtype=np.float64)).tobytes())
    return h.hexdigest()[:16]


def node_features(problem: NetworkDesignProblem) -> np.ndarray:
    """``(n_nodes, N_NODE_FEATURES)``: demand produced and attracted over the mean zone total,
    zone flag."""
    net = problem.assignment.network
    dem = problem.assignment.demand
    out = np.zeros((net.n_nodes, N_NODE_FEATURES))
    produced, attracted = dem.origin_totals(), dem.destination_totals()
    scale = max(float(produced.mean()), 1e-12)
    out[:net.n_zones, 0] = produced / scale
    out[:net.n_zones, 1] = attracted / scale
    out[:net.n_zones, 2] = 1.0
    return out


def link_features(problem: NetworkDesignProblem, context: NetworkContext, genomes: np.ndarray) -> np.ndarray:
    """``(n, n_links, N_LINK_FEATURES)`` float32 features of ``genomes`` (graph edge order)."""
    net = problem.assignment.network
    genomes = np.atleast_2d(np.asarray(genomes))
    n = genomes.shape[0]
    m = net.n_links
    base_lanes = net.from_file_order(context.lanes).astype(np.float64)
    cap0 = np.asarray(net.capacity, dtype=np.float64)
    safe0 = np.where(cap0 > 0, cap0, 1.0)
    fft = np.asarray(net.free_flow_time, dtype=np.float64)
    length = np.asarray(net.length, dtype=np.float64)
    b = np.asarray(net.bpr_b, dtype=np.float64)
    p = np.asarray(net.bpr_power, dtype=np.float64)
    x0 = context.base_flows
    lanes = problem.lanes_of_many(genomes)[:, net.link_order].astype(np.float64)
    added = np.zeros((n, m))
    added[:, net.edge_of_link[problem.add_links]] = genomes[:, :problem.n_additions]
    ratio = lanes / base_lanes
    reversal = lanes - base_lanes - added
    cap = safe0 * ratio
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        t0 = 1.0 + b * np.power(x0 / safe0, p)
        t1 = 1.0 + b * np.power(x0 / cap, p)
    t0 = np.where(b == 0, 1.0, t0)
    t1 = np.where(b == 0, 1.0, t1)
    delta = x0 * fft * (t1 - t0) / max(context.base_tstt, 1e-12) * m
    feats = np.empty((n, m, N_LINK_FEATURES), dtype=np.float32)
    feats[..., 0] = ratio
    feats[..., 1] = added
    feats[..., 2] = reversal
    feats[..., 3] = np.log(cap / max(float(safe0.mean()), 1e-12))
    feats[..., 4] = fft / max(float(fft.mean()), 1e-12)
    feats[..., 5] = length / max(float(length.mean()), 1e-12)
    feats[..., 6] = x0 / safe0
    feats[..., 7] = x0 / max(float(x0.mean()), 1e-12)
    feats[..., 8] = np.log(t0)
    feats[..., 9] = np.log(t1)
    feats[..., 10] = np.clip(delta, -50.0, 50.0)
    return feats


class Surrogate:
    """A trained surrogate bound to one design problem: batched TSTT and flow predictions.

    Parameters
    ----------
    problem
        The design problem (its network must be the one the model was trained on).
    model
        The trained GNN.
    context
        The network context the model was trained with.
    meta
        Training information (data, time, held-out error).
    batch_size
        Designs per forward pass.

    Raises
    ------
    ValidationError
        ``surrogate: trained on network ...`` when the problem's network, demand or base lanes
        differ from the model's.
    """

    def __init__(self, problem: NetworkDesignProblem, model: SurrogateModel, context: NetworkContext,
                 meta: dict[str, Any] | None = None, batch_size: int = 256):
        if network_fingerprint(problem) != context.fingerprint:
            raise ValidationError("surrogate", f"trained on network {context.name!r} with fingerprint "
                                  f"{context.fingerprint}, not this problem's ({network_fingerprint(problem)})")
        if not np.array_equal(problem.lanes, context.lanes):
            raise ValidationError("surrogate", "trained with other base lanes (another lane_capacity?)")
        self.problem = problem
        self.model = model.eval()
        self.context = context
        self.meta = dict(meta or {})
        self.batch_size = batch_size
        self.predictions = 0

    def predict(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted TSTT ``(n,)`` and link flows ``(n, n_links)`` (graph edge order)."""
        return self._run(genomes, True)

    def __call__(self, genomes: np.ndarray) -> np.ndarray:
        """Predicted TSTT of every genome (the GA's fitness; the flow head is skipped)."""
        return self._run(genomes, False)[0]

    def _run(self, genomes: np.ndarray, with_flows: bool) -> tuple[np.ndarray, np.ndarray]:
        genomes = np.atleast_2d(np.asarray(genomes))
        cap0 = np.asarray(self.problem.assignment.network.capacity, dtype=np.float64)
        tstt = np.empty(genomes.shape[0])
        flows = np.empty((genomes.shape[0], self.problem.n_links) if with_flows else (0, 0))
        with torch.inference_mode():
            for s in range(0, genomes.shape[0], self.batch_size):
                chunk = genomes[s:s + self.batch_size]
                feats = torch.from_numpy(link_features(self.problem, self.context, chunk))
                f, r = self.model(feats, with_flows)
                tstt[s:s + chunk.shape[0]] = self.context.base_tstt * np.exp(r.double().numpy())
                if f is not None:
                    flows[s:s + chunk.shape[0]] = f.double().numpy() * cap0
        self.predictions += genomes.shape[0]
        return tstt, flows


def build_model(problem: NetworkDesignProblem, config: SurrogateConfig, seed: int) -> SurrogateModel:
    """A freshly initialised model for the problem's network (weights drawn under ``seed``)."""
    g = problem.assignment.network.graph
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SurrogateModel(config, torch.from_numpy(np.asarray(g.tails, dtype=np.int64)),
                              torch.from_numpy(np.asarray(g.indices, dtype=np.int64)),
                              torch.from_numpy(node_features(problem)).float())


def default_checkpoint(network_name: str) -> Path:
    """Path of the shipped checkpoint of a network (``checkpoints/siouxfalls.pt``)."""
    from datasets.tntp import network_key

    return CHECKPOINT_DIR / f"{network_key(network_name)}.pt"


def save_surrogate(path: str | Path, surrogate: Surrogate) -> Path:
    """Write a surrogate to ``path`` atomically (temporary file, then rename)."""
    ctx = surrogate.context
    payload = {
        "kind": CHECKPOINT_KIND,
        "format": CHECKPOINT_FORMAT,
        "config": asdict(surrogate.model.config),
        "model": surrogate.model.state_dict(),
        "network": {"fingerprint": ctx.fingerprint, "lanes": torch.from_numpy(np.asarray(ctx.lanes)),
                    "base_flows": torch.from_numpy(np.asarray(ctx.base_flows, dtype=np.float64)),
                    "base_tstt": float(ctx.base_tstt), "name": ctx.name},
        "meta": surrogate.meta,
    }
    return save_torch(path, payload)


def load_surrogate(problem: NetworkDesignProblem, path: str | Path | None = None) -> Surrogate:
    """Read a surrogate for ``problem`` (default: the shipped checkpoint of its network).

    Raises
    ------
    DataNotFoundError
        No such file (train one with ``routeplanner train design-surrogate NETWORK``).
    DataFormatError
        Not a design-surrogate checkpoint, or weights that do not fit the architecture.
    ValidationError
        The checkpoint was trained on another network, demand or lane split.
    """
    path = Path(path) if path is not None else default_checkpoint(problem.assignment.network.name or problem.name)
    payload = read_torch(path, CHECKPOINT_KIND, what="design-surrogate", format=CHECKPOINT_FORMAT,
                         hint="Train one with `routeplanner train design-surrogate NETWORK`.")
    try:
        config = SurrogateConfig(**payload["config"])
        net = payload["network"]
        context = NetworkContext(str(net["fingerprint"]), net["lanes"].numpy().astype(np.int64),
                                 net["base_flows"].numpy().astype(np.float64), float(net["base_tstt"]),
                                 str(net["name"]))
    except (TypeError, KeyError, AttributeError, PlannerError) as exc:
        raise DataFormatError(path, f"bad checkpoint contents ({exc})") from exc
    if network_fingerprint(problem) != context.fingerprint:
        raise ValidationError("surrogate", f"{path.name} was trained on network {context.name!r} (fingerprint "
                              f"{context.fingerprint}), not this problem's ({network_fingerprint(problem)})")
    model = build_model(problem, config, seed=0)
    load_weights(model, payload.get("model"), path)
    return Surrogate(problem, model, context, dict(payload.get("meta") or {}))
