"""bmm: torch.matmul on [B, M, K]×[B, K, N], and with b given transposed ([B, N, K], "transB": true)."""
import torch

from common import FixtureFile, randn


def main():
    f = FixtureFile("bmm")
    f.case("plain", lambda a, b: torch.matmul(a, b),
           {"a": randn(3, 5, 7, seed=1), "b": randn(3, 7, 4, seed=2)}, {"transB": False})
    f.case("transB", lambda a, b: torch.matmul(a, b.transpose(1, 2)),
           {"a": randn(2, 6, 9, seed=3), "b": randn(2, 5, 9, seed=4)}, {"transB": True})
    f.case("single", lambda a, b: torch.matmul(a, b),
           {"a": randn(1, 13, 3, seed=5), "b": randn(1, 3, 11, seed=6)}, {"transB": False})
    f.write()
