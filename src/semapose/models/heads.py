"""Heatmap heads.

Parameter names follow the checkpoints we load, so that a head's ``state_dict``
keys are exactly the ones found (after the ``keypoint_head.`` / ``head.`` prefix) in
official ViTPose, mmpose 0.x and mmpose 1.x checkpoints:

* :class:`DeconvHead` -- the "classic" decoder of SimpleBaseline / ViTPose
  (``deconv_layers.{0,1,3,4}.*`` for two layers, then ``final_layer.*``).
* :class:`FinalLayerHead` -- HRNet's single 1x1 convolution (``final_layer.*``).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["DeconvHead", "FinalLayerHead"]


class DeconvHead(nn.Module):
    """``num_deconv`` x (ConvTranspose2d 4x4 stride 2 pad 1, no bias, BN, ReLU) + 1x1 conv.

    Each deconvolution doubles the spatial size: with two layers a stride-16 ViT
    feature map (16x12 for a 256x192 crop) becomes a stride-4 heatmap (64x48).
    ``num_deconv=0`` reduces the head to the final 1x1 convolution.

    ``deconv_layers`` is one ``nn.Sequential`` with the ReLUs included, hence the
    indices 0,1 (layer 1) and 3,4 (layer 2) of the ViTPose / mmpose checkpoints.
    """

    def __init__(
        self,
        in_channels: int,
        num_joints: int,
        num_deconv: int = 2,
        deconv_channels: int = 256,
        deconv_kernel: int = 4,
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        if deconv_kernel not in (2, 3, 4):
            raise ValueError(f"deconv_kernel must be 2, 3 or 4, got {deconv_kernel}")
        if final_kernel not in (1, 3):
            raise ValueError(f"final_kernel must be 1 or 3, got {final_kernel}")
        if num_deconv < 0:
            raise ValueError(f"num_deconv must be >= 0, got {num_deconv}")
        padding, output_padding = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[deconv_kernel]
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.num_deconv = num_deconv
        self.upsample = 2**num_deconv
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(num_deconv):
            layers.append(
                nn.ConvTranspose2d(
                    channels,
                    deconv_channels,
                    kernel_size=deconv_kernel,
                    stride=2,
                    padding=padding,
                    output_padding=output_padding,
                    bias=False,
                )
            )
            layers.append(nn.BatchNorm2d(deconv_channels))
            layers.append(nn.ReLU(inplace=True))
            channels = deconv_channels
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(
            channels, num_joints, kernel_size=final_kernel, padding=final_kernel // 2
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """SimpleBaseline / ViTPose initialisation: N(0, 0.001) weights, zero biases."""
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d | nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, h, w) features -> (N, J, h * 2**num_deconv, w * 2**num_deconv) heatmaps."""
        return self.final_layer(self.deconv_layers(x))


class FinalLayerHead(nn.Module):
    """HRNet's head: one 1x1 (or 3x3) convolution named ``final_layer``."""

    def __init__(self, in_channels: int, num_joints: int, kernel_size: int = 1) -> None:
        super().__init__()
        if kernel_size not in (1, 3):
            raise ValueError(f"kernel_size must be 1 or 3, got {kernel_size}")
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.upsample = 1
        self.final_layer = nn.Conv2d(
            in_channels, num_joints, kernel_size=kernel_size, padding=kernel_size // 2
        )
        nn.init.normal_(self.final_layer.weight, std=0.001)
        assert self.final_layer.bias is not None
        nn.init.zeros_(self.final_layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, h, w) -> (N, J, h, w)."""
        return self.final_layer(x)
