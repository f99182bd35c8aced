"""Building blocks of the temporal modules: patch-cube tokens, position encodings, blocks.

Token layout everywhere: ``(B, T', N, d)`` with ``T' = T / cube_frames`` temporal
slots and ``N = (h / cube_size) * (w / cube_size)`` spatial positions in row-major
order. Attention uses :func:`torch.nn.functional.scaled_dot_product_attention`
(exportable to ONNX, AMP-safe).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "sincos_2d",
    "patchify",
    "unpatchify",
    "CubeTokenizer",
    "DropPath",
    "Mlp",
    "Attention",
    "CrossAttention",
    "JointBlock",
    "DividedBlock",
]


def sincos_2d(dim: int, grid_h: int, grid_w: int) -> Tensor:
    """Fixed 2-D sine-cosine position encoding (MAE convention), shape (grid_h*grid_w, dim).

    Half of the channels encode the row, half the column; each half is
    ``[sin(p * w_k), cos(p * w_k)]`` with ``w_k = 10000^(-k / (dim/4))``.
    """
    if dim % 4:
        raise ValueError(f"sine-cosine encoding needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / (10000.0 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    ys, xs = torch.meshgrid(
        torch.arange(grid_h, dtype=torch.float64),
        torch.arange(grid_w, dtype=torch.float64),
        indexing="ij",
    )

    def enc(pos: Tensor) -> Tensor:
        out = pos.reshape(-1, 1) * omega.reshape(1, -1)
        return torch.cat([out.sin(), out.cos()], dim=1)

    return torch.cat([enc(ys), enc(xs)], dim=1).float()


def patchify(feats: Tensor, cube_size: int, cube_frames: int) -> Tensor:
    """(B, T, C, h, w) -> (B, T/cf, (h/cs)*(w/cs), cf*cs*cs*C) cubes (frame, row, col, channel)."""
    t, c, h, w = feats.shape[1:]
    cs, cf = cube_size, cube_frames
    x = feats.reshape(-1, t // cf, cf, c, h // cs, cs, w // cs, cs)
    x = x.permute(0, 1, 4, 6, 2, 5, 7, 3)
    return x.reshape(-1, t // cf, (h // cs) * (w // cs), cf * cs * cs * c)


def unpatchify(tokens: Tensor, grid: tuple[int, int], cube_size: int, cube_frames: int) -> Tensor:
    """Inverse of :func:`patchify`: (B, T', N, cf*cs*cs*C) -> (B, T'*cf, C, gh*cs, gw*cs)."""
    tp, _, dim = tokens.shape[1:]
    cs, cf = cube_size, cube_frames
    gh, gw = grid
    c = dim // (cf * cs * cs)
    x = tokens.reshape(-1, tp, gh, gw, cf, cs, cs, c)
    x = x.permute(0, 1, 4, 7, 2, 5, 3, 6)
    return x.reshape(-1, tp * cf, c, gh * cs, gw * cs)


class CubeTokenizer(nn.Module):
    """Feature maps of T frames -> projected patch-cube tokens + position encodings.

    Spatial PE: fixed 2-D sine-cosine over the token grid, shared by all frames.
    Temporal PE: learnable, one vector per temporal slot. Both are also what mask
    tokens receive (see :meth:`pos_embed`).
    """

    def __init__(
        self,
        in_channels: int,
        dim: int,
        grid: tuple[int, int],
        num_slots: int,
        cube_size: int,
        cube_frames: int,
    ) -> None:
        super().__init__()
        self.cube_size = cube_size
        self.cube_frames = cube_frames
        self.grid = grid
        self.cube_dim = in_channels * cube_size * cube_size * cube_frames
        self.proj = nn.Linear(self.cube_dim, dim)
        self.register_buffer("spatial_pe", sincos_2d(dim, *grid)[None, None], persistent=False)
        self.temporal_pe = nn.Parameter(torch.zeros(1, num_slots, 1, dim))
        nn.init.trunc_normal_(self.temporal_pe, std=0.02)

    def cubes(self, feats: Tensor) -> Tensor:
        """Raw cubes (B, T', N, cube_dim), the context-reconstruction target."""
        return patchify(feats, self.cube_size, self.cube_frames)

    def pos_embed(self) -> Tensor:
        """(1, T', N, d) sum of the spatial and temporal encodings."""
        return self.spatial_pe_tensor() + self.temporal_pe

    def spatial_pe_tensor(self) -> Tensor:
        """(1, 1, N, d) fixed spatial encoding."""
        pe: Tensor = self.get_buffer("spatial_pe")
        return pe

    def forward(self, feats: Tensor) -> Tensor:
        """(B, T, C, h, w) -> (B, T', N, d), without position encodings."""
        return self.proj(self.cubes(feats))


class DropPath(nn.Module):
    """Stochastic depth per sample (identity in eval mode)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Sequential):
    def __init__(self, dim: int, ratio: float) -> None:
        hidden = max(1, int(round(dim * ratio)))
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class Attention(nn.Module):
    """Multi-head self-attention over (B, L, d)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class CrossAttention(nn.Module):
    """Multi-head cross-attention: queries from ``x``, keys and values from ``ctx``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, ctx: Tensor) -> Tensor:
        b, n, d = x.shape
        m = ctx.shape[1]
        hd = d // self.heads
        q = self.q(x).reshape(b, n, self.heads, hd).transpose(1, 2)
        kv = self.kv(ctx).reshape(b, m, 2, self.heads, hd).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, kv[0], kv[1])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class JointBlock(nn.Module):
    """Pre-LN transformer block with joint space-time attention over all T'*N tokens."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T', N, d) -> same."""
        b, t, n, d = x.shape
        y = x.reshape(b, t * n, d)
        y = y + self.drop_path(self.attn(self.norm1(y)))
        y = y + self.drop_path(self.mlp(self.norm2(y)))
        return y.reshape(b, t, n, d)


class DividedBlock(nn.Module):
    """Pre-LN block with divided space-time attention (TimeSformer order).

    Temporal attention across the T' slots at each spatial position, then spatial
    attention among the N positions of each slot, then the MLP.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.norm_t = nn.LayerNorm(dim)
        self.attn_t = Attention(dim, heads)
        self.norm_s = nn.LayerNorm(dim)
        self.attn_s = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T', N, d) -> same."""
        b, t, n, d = x.shape
        xt = x.transpose(1, 2).reshape(b * n, t, d)
        xt = xt + self.drop_path(self.attn_t(self.norm_t(xt)))
        xs = xt.reshape(b, n, t, d).transpose(1, 2).reshape(b * t, n, d)
        xs = xs + self.drop_path(self.attn_s(self.norm_s(xs)))
        xs = xs + self.drop_path(self.mlp(self.norm2(xs)))
        return xs.reshape(b, t, n, d)


def drop_path_rates(total: float, depth: int) -> list[float]:
    """Linearly increasing stochastic-depth rates over ``depth`` blocks (0 .. total)."""
    if depth <= 1:
        return [total] * depth
    return [total * i / (depth - 1) for i in range(depth)]


def log2_int(value: int, what: str) -> int:
    """Exact base-2 logarithm of a power of two (for the number of 2x upsamplings)."""
    k = int(round(math.log2(value))) if value > 0 else -1
    if k < 0 or 2**k != value:
        raise ValueError(f"{what} must be a power of two, got {value}")
    return k
