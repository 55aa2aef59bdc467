"""upsample: F.interpolate(x, scale_factor=2, mode="nearest") on odd shapes."""
import torch.nn.functional as F

from common import FixtureFile, randn


def main():
    f = FixtureFile("upsample")
    up = lambda x: F.interpolate(x, scale_factor=2, mode="nearest")
    f.case("odd", up, {"x": randn(2, 3, 5, 7, seed=1)})
    f.case("single", up, {"x": randn(1, 1, 1, 3, seed=2)}, seed=1)
    f.write()
