"""permute: x.permute(dims) for head splits, NCHW <-> NHWC and a general permutation."""
from common import FixtureFile, randn


def main():
    f = FixtureFile("permute")
    cases = [
        ("heads", (2, 3, 4, 5), [0, 2, 1, 3]),
        ("nhwc", (2, 3, 4, 5), [0, 2, 3, 1]),
        ("nchw", (2, 4, 5, 3), [0, 3, 1, 2]),
        ("general", (3, 2, 5, 4), [3, 1, 0, 2]),
    ]
    for k, (name, shape, dims) in enumerate(cases):
        f.case(name, lambda x, dims=dims: x.permute(*dims), {"x": randn(*shape, seed=80 + k)}, {"dims": dims})
    f.write()
