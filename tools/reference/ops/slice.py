"""slice: x.narrow(dim, start, length)."""
from common import FixtureFile, randn


def main():
    f = FixtureFile("slice")
    cases = [
        ("dim0", (5, 3, 4), 0, 1, 3),
        ("dim1", (2, 7, 3), 1, 2, 4),
        ("dimlast", (3, 4, 9), -1, 5, 4),
    ]
    for k, (name, shape, dim, start, length) in enumerate(cases):
        f.case(name, lambda x: x.narrow(dim, start, length), {"x": randn(*shape, seed=50 + k)},
               {"dim": dim, "start": start, "length": length})
    f.write()
