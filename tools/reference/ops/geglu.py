"""geglu: diffusers GEGLU after its projection, `a, gate = x.chunk(2, -1); a * F.gelu(gate)`."""
import torch
import torch.nn.functional as F

from common import FixtureFile, randn


def geglu(x):
    a, gate = x.chunk(2, -1)
    return a * F.gelu(gate)


def main():
    f = FixtureFile("geglu")
    f.case("random", geglu, {"x": randn(3, 5, 14, seed=1, scale=3.0)})
    # Gate half sweeps [-8, 8] so both tails of the erf are exercised.
    gate = torch.linspace(-8, 8, 4 * 37).reshape(4, 37)
    f.case("sweep", geglu, {"x": torch.cat([randn(4, 37, seed=2), gate], dim=-1)})
    f.write()
