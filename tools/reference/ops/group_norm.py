"""group_norm: F.group_norm(x, groups, weight, bias, eps), plus silu(group_norm(...)) cases (`"silu": true`)
for Compute.groupNormSiLU. Odd shapes, 4-D / 3-D / 2-D inputs, with and without affine."""
import torch.nn.functional as F

from common import FixtureFile, randn


def main():
    f = FixtureFile("group_norm")

    def gn(groups, eps, silu=False):
        def fn(x, weight=None, bias=None):
            y = F.group_norm(x, groups, weight, bias, eps)
            return F.silu(y) if silu else y
        return fn

    f.case("affine4d", gn(3, 1e-5), {"x": randn(2, 6, 5, 3, seed=1), "weight": randn(6, seed=2),
                                     "bias": randn(6, seed=3)}, {"groups": 3, "eps": 1e-5})
    f.case("affine3d", gn(2, 1e-5), {"x": randn(1, 8, 7, seed=4), "weight": randn(8, seed=5),
                                     "bias": randn(8, seed=6)}, {"groups": 2, "eps": 1e-5})
    f.case("noaffine", gn(3, 1e-6), {"x": randn(2, 6, 5, 3, seed=7)}, {"groups": 3, "eps": 1e-6})
    # Large mean against the spread: checks the statistics keep precision.
    f.case("offset", gn(2, 1e-5), {"x": randn(2, 4, 3, 5, seed=8) * 0.5 + 30, "weight": randn(4, seed=9),
                                    "bias": randn(4, seed=10)}, {"groups": 2, "eps": 1e-5})
    f.case("nospatial", gn(2, 1e-5), {"x": randn(3, 6, seed=11), "weight": randn(6, seed=12),
                                      "bias": randn(6, seed=13)}, {"groups": 2, "eps": 1e-5})
    f.case("silu4d", gn(3, 1e-5, silu=True), {"x": randn(2, 6, 5, 3, seed=14), "weight": randn(6, seed=15),
                                              "bias": randn(6, seed=16)}, {"groups": 3, "eps": 1e-5, "silu": True})
    f.case("silunoaffine", gn(2, 1e-5, silu=True), {"x": randn(1, 8, 7, seed=17)},
           {"groups": 2, "eps": 1e-5, "silu": True})
    f.write()
