"""linear: F.linear(x, weight, bias) on odd shapes, with and without bias."""
import torch.nn.functional as F

from common import FixtureFile, randn


def main():
    f = FixtureFile("linear")
    f.case("bias", lambda x, weight, bias: F.linear(x, weight, bias),
           {"x": randn(3, 5, 7, seed=1), "weight": randn(11, 7, seed=2), "bias": randn(11, seed=3)})
    f.case("nobias", lambda x, weight: F.linear(x, weight),
           {"x": randn(13, 9, seed=4), "weight": randn(6, 9, seed=5)})
    f.write()
