"""HFL-Net's interaction blocks: multi-head attention between two ROI feature maps.

Query, key and value are 1x1 convolutions (query from the query map, key and value from the key map);
attention is softmax(q k^T / sqrt(C / heads)) v (through `scaled_dot_product_attention`) without an output
projection; then a residual with the query tokens and a pre-norm MLP residual (there is no norm before
attention).
"""

import torch
import torch.nn.functional as F
from torch import nn

MLP_RATIO = 4


class FeedForward(nn.Module):
    """Linear(C, 4C) -> GELU -> Linear(4C, C)."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, MLP_RATIO * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(MLP_RATIO * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class MapAttentionLayer(nn.Module):
    """One attention layer over feature maps: query map attends to key map."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.encode_query = nn.Conv2d(dim, dim, 1)
        self.encode_key = nn.Conv2d(dim, dim, 1)
        self.encode_value = nn.Conv2d(dim, dim, 1)
        self.norm = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim)
        self.scale = (dim // num_heads) ** -0.5

    def _heads(self, feature_map: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, heads, H*W, C/heads), contiguous: with a strided last dimension
        `scaled_dot_product_attention` leaves its fused kernel for the unfused math path (6 % of the whole
        forward on a CPU)."""
        b, c = feature_map.shape[:2]
        tokens = feature_map.flatten(2).transpose(1, 2)
        return tokens.reshape(b, -1, self.num_heads, c // self.num_heads).transpose(1, 2).contiguous()

    def forward(self, query_map: torch.Tensor, key_map: torch.Tensor) -> torch.Tensor:
        """query_map, key_map: (B, C, H, W) -> (B, C, H, W) enhanced query map."""
        b, c, h, w = query_map.shape
        q = self._heads(self.encode_query(query_map))
        k = self._heads(self.encode_key(key_map))
        v = self._heads(self.encode_value(key_map))
        attended = F.scaled_dot_product_attention(q, k, v, scale=self.scale).transpose(1, 2).reshape(b, h * w, c)
        x = query_map.flatten(2).transpose(1, 2) + attended
        x = x + self.mlp(self.norm(x))
        return x.transpose(1, 2).reshape(b, c, h, w)


class MapAttention(nn.Module):
    """A stack of `depth` MapAttentionLayers; each layer refines the query map against the same key map."""

    def __init__(self, dim: int, num_heads: int = 4, depth: int = 1):
        super().__init__()
        self.layers = nn.ModuleList(MapAttentionLayer(dim, num_heads) for _ in range(depth))
        self.out_channels = dim

    def forward(self, query_map: torch.Tensor, key_map: torch.Tensor) -> torch.Tensor:
        """query_map, key_map: (B, C, H, W) -> (B, C, H, W); pass the same map twice for self-attention."""
        for layer in self.layers:
            query_map = layer(query_map, key_map)
        return query_map
