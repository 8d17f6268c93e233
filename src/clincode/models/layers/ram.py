"""Recalibrated Aggregation Module (RAM) of MARN (Sun et al. 2022; docs/methods.md section 4.2).

A block = Conv1d(k=3, pad=1, no bias) -> BatchNorm -> tanh -> Conv1d(k=3, pad=1, no bias) -> BatchNorm;
the sequence length never changes, only channels. With C input channels (600 in MARN):
D1 = down(C -> C/2)(H), D2 = down(C/2 -> C/4)(D1), L = lateral(C/4 -> C/4)(D2),
U1 = up(C/4 -> C/2)(L) + D1, U2 = up(C/2 -> C)(U1) * H, O = dropout(tanh(U2)).
"Up" blocks use ConvTranspose1d (the paper's deconvolution) for both convolutions [ours: the
paper does not say which of the two is transposed; the parameter count is the same].

Padding [ours]: features at padding positions are set to zero before every convolution, so a
padded position looks exactly like the convolution's own zero padding and appending PAD tokens
does not change the output at real positions (in eval mode). BatchNorm statistics in training
mode still include padded positions, as in the authors' description.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class RAMBlock(nn.Module):
    """Two length-preserving k=3 convolutions with BatchNorm and tanh between: [B, C_in, T] -> [B, C_out, T]."""

    def __init__(self, in_channels: int, out_channels: int, transposed: bool = False) -> None:
        super().__init__()
        conv = nn.ConvTranspose1d if transposed else nn.Conv1d
        # stride 1, k=3, padding=1 keeps the length for both Conv1d and ConvTranspose1d.
        self.conv1 = conv(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = conv(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)

    @staticmethod
    def _conv(conv: nn.Module, x: Tensor) -> Tensor:
        """Apply ``conv`` (k=3, stride 1, padding 1, no bias); [B, C_in, T] -> [B, C_out, T].

        A stride-1 ConvTranspose1d with padding p equals a Conv1d with padding k - 1 - p (= 1 here)
        and the kernel flipped along time with in / out channels swapped. PyTorch's CPU backward
        pass of ConvTranspose1d is about twice as slow as Conv1d's at MARN's sizes (600 channels,
        4,000 tokens), so the transposed blocks are computed through conv1d; the parameters stay
        those of the ConvTranspose1d module.
        """
        if isinstance(conv, nn.ConvTranspose1d):
            return F.conv1d(x, conv.weight.flip(-1).transpose(0, 1), padding=1)
        return conv(x)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x [B, C_in, T], mask [B, 1, T] (float 0/1) -> [B, C_out, T], zero at padding."""
        x = self.bn1(self._conv(self.conv1, x * mask))
        x = self.bn2(self._conv(self.conv2, x.tanh() * mask))
        return x * mask


class RAM(nn.Module):
    """RAM: features [B, T, C] + mask [B, T] -> recalibrated features [B, T, C]; C divisible by 4."""

    def __init__(self, channels: int = 600, dropout: float = 0.2) -> None:
        super().__init__()
        if channels <= 0 or channels % 4:
            raise ValueError(f"RAM channels must be a positive multiple of 4, got {channels}")
        half, quarter = channels // 2, channels // 4
        self.down1 = RAMBlock(channels, half)
        self.down2 = RAMBlock(half, quarter)
        self.lateral = RAMBlock(quarter, quarter)
        self.up1 = RAMBlock(quarter, half, transposed=True)
        self.up2 = RAMBlock(half, channels, transposed=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        """h [B, T, C], mask [B, T] bool -> O [B, T, C] (zero at padding before dropout)."""
        if h.dim() != 3 or mask.shape != h.shape[:2]:
            raise ValueError(f"RAM expects h [B, T, C] and mask [B, T], got {tuple(h.shape)} and {tuple(mask.shape)}")
        m = mask.unsqueeze(1).to(h.dtype)  # (B, 1, T)
        x = h.transpose(1, 2) * m  # (B, C, T)
        d1 = self.down1(x, m)
        d2 = self.down2(d1, m)
        lat = self.lateral(d2, m)
        u1 = self.up1(lat, m) + d1
        u2 = self.up2(u1, m) * x  # element-wise recalibration of the BiGRU features
        return self.dropout(u2.tanh()).transpose(1, 2)
