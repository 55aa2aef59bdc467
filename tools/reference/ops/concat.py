"""concat: torch.cat along dims 0, 1 and -1 with unequal sizes along the joined dim."""
import torch

from common import FixtureFile, randn


def main():
    f = FixtureFile("concat")
    cases = [
        ("dim0", 0, [(2, 3, 5), (1, 3, 5), (3, 3, 5)]),
        ("dim1", 1, [(2, 3, 4, 5), (2, 1, 4, 5)]),
        ("dimlast", -1, [(3, 4, 2), (3, 4, 5), (3, 4, 1)]),
    ]
    for k, (name, dim, shapes) in enumerate(cases):
        inputs = {f"x{i}": randn(*s, seed=20 + 5 * k + i) for i, s in enumerate(shapes)}
        f.case(name, lambda **xs: torch.cat([xs[f"x{i}"] for i in range(len(xs))], dim=dim),
               inputs, {"dim": dim, "n": len(shapes)})
    f.write()
