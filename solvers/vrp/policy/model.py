"""The policy network: a graph encoder (torch-geometric) over the k-nearest-neighbour graph of
:mod:`~solvers.vrp.policy.features`, and the attention decoder of
:mod:`~solvers.vrp.policy.decoder`.

Encoder layer: a graph transformer convolution (``TransformerConv``, edge features added to the
keys and values) with a residual connection and layer norm, then a feed-forward block with a
residual connection and layer norm (as in the attention model of Kool et al. 2019, but
attending over graph neighbours only, so it scales to large instances).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import TransformerConv

from planner.errors import ValidationError
from solvers.vrp.policy.decoder import AttentionDecoder
from solvers.vrp.policy.features import EDGE_FEATURES, NODE_FEATURES, InstanceArrays


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture of the policy.

    Parameters
    ----------
    embed_dim
        Width of node embeddings.
    n_layers
        Encoder layers.
    n_heads
        Attention heads (encoder and decoder).
    ff_dim
        Hidden width of the feed-forward blocks.
    knn
        Nearest neighbours per node in the message graph.
    tanh_clip
        Logits are ``tanh_clip * tanh(.)``.
    """

    embed_dim: int = 64
    n_layers: int = 3
    n_heads: int = 4
    ff_dim: int = 128
    knn: int = 16
    tanh_clip: float = 10.0

    def __post_init__(self) -> None:
        for name in ("embed_dim", "n_layers", "n_heads", "ff_dim", "knn"):
            if int(getattr(self, name)) < 1:
                raise ValidationError(name, f"must be at least 1 ({getattr(self, name)})")
        if self.embed_dim % self.n_heads:
            raise ValidationError("embed_dim", f"{self.embed_dim} is not a multiple of n_heads {self.n_heads}")
        if not self.tanh_clip > 0:
            raise ValidationError("tanh_clip", f"must be positive ({self.tanh_clip})")

    def to_dict(self) -> dict[str, float]:
        """Plain values, for checkpoints."""
        return asdict(self)


class EncoderLayer(nn.Module):
    """Graph attention over neighbours with edge features, then a feed-forward block."""

    def __init__(self, config: PolicyConfig):
        super().__init__()
        d, h = config.embed_dim, config.n_heads
        self.conv = TransformerConv(d, d // h, heads=h, edge_dim=EDGE_FEATURES, concat=True, root_weight=True)
        self.norm1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, config.ff_dim), nn.ReLU(), nn.Linear(config.ff_dim, d))
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.conv(x, edge_index, edge_attr))
        return self.norm2(x + self.ff(x))


class GraphEncoder(nn.Module):
    """Node embeddings of a batch of instances of equal size."""

    def __init__(self, config: PolicyConfig):
        super().__init__()
        self.embed = nn.Linear(NODE_FEATURES, config.embed_dim)
        self.embed_depot = nn.Linear(NODE_FEATURES, config.embed_dim)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layers))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor,
                batch_size: int) -> torch.Tensor:
        """``x``: ``(B*(n+1), F)`` stacked node features; returns ``(B, n+1, d)``."""
        m = x.shape[0] // batch_size
        is_depot = torch.zeros(x.shape[0], 1, dtype=torch.bool, device=x.device)
        is_depot[::m] = True
        h = torch.where(is_depot, self.embed_depot(x), self.embed(x))
        for layer in self.layers:
            h = layer(h, edge_index, edge_attr)
        return h.view(batch_size, m, -1)


class PolicyModel(nn.Module):
    """Encoder plus decoder; see :func:`solvers.vrp.policy.decoder.rollout` for decoding."""

    def __init__(self, config: PolicyConfig | None = None):
        super().__init__()
        self.config = config if config is not None else PolicyConfig()
        self.encoder = GraphEncoder(self.config)
        self.decoder = AttentionDecoder(self.config.embed_dim, self.config.n_heads, self.config.tanh_clip)

    def encode(self, instances: Sequence[InstanceArrays]) -> torch.Tensor:
        """``(B, n+1, d)`` embeddings of instances that all have the same number of nodes.

        Raises
        ------
        ValidationError
            If the instances differ in size.
        """
        sizes = {a.n_nodes for a in instances}
        if len(sizes) != 1:
            raise ValidationError("instances", f"a batch must have one size (got {sorted(sizes)})")
        m = sizes.pop()
        device = next(self.parameters()).device
        x = torch.from_numpy(_stack([a.node_features for a in instances])).to(device)
        edge_index = torch.from_numpy(_stack([a.edge_index + k * m for k, a in enumerate(instances)], axis=1)).to(
            device)
        edge_attr = torch.from_numpy(_stack([a.edge_features for a in instances])).to(device)
        return self.encoder(x, edge_index, edge_attr, len(instances))

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def _stack(arrays: Sequence[np.ndarray], axis: int = 0) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate(list(arrays), axis=axis))
