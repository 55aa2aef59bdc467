"""sum: over all elements ("dim": null) or one dim with and without keepdim."""
import torch

from common import FixtureFile, randn

# (case, x shape, dim or None, keepdim); shared with mean.py.
REDUCE_CASES = [
    ("all", (3, 5, 7), None, False),
    ("dim0", (3, 5, 7), 0, False),
    ("dim1_keep", (3, 5, 7), 1, True),
    ("dim1", (3, 5, 7), 1, False),
    ("dimlast_keep", (2, 3, 4, 9), -1, True),
    ("dimlast", (2, 3, 4, 9), -1, False),
]


def write_reduce_family(family, fn):
    f = FixtureFile(family)
    for k, (name, shape, dim, keepdim) in enumerate(REDUCE_CASES):
        if dim is None:
            op = lambda x: fn(x)  # noqa: E731
        else:
            op = lambda x, dim=dim, keepdim=keepdim: fn(x, dim=dim, keepdim=keepdim)  # noqa: E731
        f.case(name, op, {"x": randn(*shape, seed=60 + k)}, {"dim": dim, "keepdim": keepdim})
    f.write()


def main():
    write_reduce_family("sum", torch.sum)
