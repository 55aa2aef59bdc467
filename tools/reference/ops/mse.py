"""mse: F.mse_loss(a, b) with the default mean reduction (a rank-0 output)."""
import torch.nn.functional as F

from common import FixtureFile, randn


def main():
    f = FixtureFile("mse")
    f.case("nchw", lambda a, b: F.mse_loss(a, b), {"a": randn(2, 3, 5, 7, seed=70), "b": randn(2, 3, 5, 7, seed=71)})
    f.case("flat", lambda a, b: F.mse_loss(a, b), {"a": randn(13, seed=72), "b": randn(13, seed=73)})
    f.write()
