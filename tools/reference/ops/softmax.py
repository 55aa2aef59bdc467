"""softmax: torch.softmax(x, dim=-1), including rows with large magnitudes (stability)."""
import torch

from common import FixtureFile, randn


def main():
    f = FixtureFile("softmax")
    f.case("small", lambda x: torch.softmax(x, dim=-1), {"x": randn(3, 4, 7, seed=1)})
    f.case("wide", lambda x: torch.softmax(x, dim=-1), {"x": randn(5, 37, seed=2, scale=3.0)})
    # Rows whose logits reach ±1000: exp overflows without the max shift.
    large = randn(4, 19, seed=3, scale=300.0)
    large[0, 0] = 1000.0
    large[1, :] += 900.0
    large[2, :] -= 900.0
    f.case("large", lambda x: torch.softmax(x, dim=-1), {"x": large})
    f.write()
