"""RAM (MARN's Recalibrated Aggregation Module): parameter count, the explicit equations, and the
transposed blocks (conv1d rewrite) against ConvTranspose1d.
"""

from __future__ import annotations

import torch

from clincode.models.layers import RAM


def test_ram_parameter_count_at_600_channels() -> None:
    # Block(c_in -> c_out): conv k=3 no bias (3 c_in c_out), BN (2 c_out), conv (3 c_out^2), BN (2 c_out).
    # ConvTranspose1d(c_in, c_out, 3) has the same 3 c_in c_out weights.
    def block(c_in: int, c_out: int) -> int:
        return 3 * c_in * c_out + 2 * c_out + 3 * c_out * c_out + 2 * c_out

    expected = block(600, 300) + block(300, 150) + block(150, 150) + block(150, 300) + block(300, 600)
    assert expected == 3_178_500  # "about 3.2M" (docs/methods.md section 4.2)
    ram = RAM(600)
    assert sum(p.numel() for p in ram.parameters()) == expected
    assert isinstance(ram.up1.conv1, torch.nn.ConvTranspose1d) and isinstance(ram.down1.conv1, torch.nn.Conv1d)


def test_ram_matches_explicit_equations() -> None:
    torch.manual_seed(3)
    ram = RAM(8).eval()
    h = torch.randn(2, 5, 8)
    mask = torch.ones(2, 5, dtype=torch.bool)

    def blk(b: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        return b.bn2(b.conv2(b.bn1(b.conv1(x)).tanh()))

    x = h.transpose(1, 2)
    d1 = blk(ram.down1, x)
    d2 = blk(ram.down2, d1)
    lat = blk(ram.lateral, d2)
    u1 = blk(ram.up1, lat) + d1
    u2 = blk(ram.up2, u1) * x
    with torch.no_grad():
        torch.testing.assert_close(ram(h, mask), u2.tanh().transpose(1, 2))


def test_ram_transposed_blocks_match_conv_transpose_modules() -> None:
    torch.manual_seed(2)
    ram = RAM(8).eval()
    for block in (ram.up1, ram.up2):
        for conv in (block.conv1, block.conv2):
            assert isinstance(conv, torch.nn.ConvTranspose1d)
            inp = torch.randn(2, conv.in_channels, 7)
            torch.testing.assert_close(block._conv(conv, inp), conv(inp))
