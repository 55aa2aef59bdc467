"""split: torch.split with uneven sizes; outputs `.out.i`."""
import torch

from common import FixtureFile, randn


def main():
    f = FixtureFile("split")
    cases = [
        ("dim1", (3, 6, 5), [2, 3, 1], 1),
        ("dimlast", (2, 3, 9), [4, 2, 3], -1),
        ("dim0", (5, 4), [1, 4], 0),
    ]
    for k, (name, shape, sizes, dim) in enumerate(cases):
        f.case(name, lambda x: torch.split(x, sizes, dim=dim), {"x": randn(*shape, seed=40 + k)},
               {"sizes": sizes, "dim": dim})
    f.write()
