"""layer_norm: F.layer_norm(x, [D], weight, bias, eps) on odd shapes, with and without affine."""
import torch.nn.functional as F

from common import FixtureFile, randn


def main():
    f = FixtureFile("layer_norm")
    f.case("affine", lambda x, weight, bias: F.layer_norm(x, [7], weight, bias, 1e-5),
           {"x": randn(3, 5, 7, seed=1), "weight": randn(7, seed=2), "bias": randn(7, seed=3)}, {"eps": 1e-5})
    f.case("noaffine", lambda x: F.layer_norm(x, [9], None, None, 1e-6),
           {"x": randn(4, 9, seed=4)}, {"eps": 1e-6})
    f.case("offset", lambda x, weight, bias: F.layer_norm(x, [33], weight, bias, 1e-5),
           {"x": randn(5, 33, seed=5) * 0.5 - 20, "weight": randn(33, seed=6), "bias": randn(33, seed=7)},
           {"eps": 1e-5})
    f.write()
