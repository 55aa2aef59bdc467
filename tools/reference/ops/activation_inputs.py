"""Shared inputs for the pointwise activation fixtures (gelu, gelu_tanh, quick_gelu, silu, softplus, geglu).

Not a family itself: `main()` writes nothing.
"""
import torch

from common import FixtureFile, randn


def sweep():
    """[4, 37]: an even sweep over [-8, 8] (it straddles 0 at ±0.054) with a few tiny values mixed in."""
    x = torch.linspace(-8, 8, 148)
    x[::17] = torch.tensor([0.0, 1e-3, -1e-3, 1e-6, -1e-6, 0.3, -0.3, 0.7, -0.7])[: len(x[::17])]
    return x.reshape(4, 37)


def write_family(family, fn, wide=False):
    """One file: a sweep case, a random [3, 5, 7] case and, with `wide`, a [4, 37] sweep over [-30, 30]."""
    f = FixtureFile(family)
    f.case("sweep", fn, {"x": sweep()})
    f.case("random", fn, {"x": randn(3, 5, 7, seed=1, scale=3.0)})
    if wide:
        f.case("wide", fn, {"x": torch.linspace(-30, 30, 148).reshape(4, 37) + 0.01})
    f.write()


def main():
    pass
