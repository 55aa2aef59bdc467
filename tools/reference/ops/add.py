"""add: broadcasting `a + b` with b of shape [C,1,1], [1,C,1,1], [D], same shape, [1], a general
broadcast, and the broadcast operand on the left."""
from common import FixtureFile, randn

# (case, a shape, b shape); shared with mul.py.
BROADCAST_CASES = [
    ("same", (2, 3, 4, 5), (2, 3, 4, 5)),
    ("chan3", (2, 3, 4, 5), (3, 1, 1)),
    ("chan4", (2, 3, 4, 5), (1, 3, 1, 1)),
    ("lastdim", (2, 7, 5), (5,)),
    ("scalar", (3, 4, 5), (1,)),
    ("general", (2, 1, 5), (3, 1)),
    ("left", (1, 3, 1, 1), (2, 3, 4, 5)),
]


def write_broadcast_family(family, fn):
    f = FixtureFile(family)
    for i, (name, sa, sb) in enumerate(BROADCAST_CASES):
        f.case(name, fn, {"a": randn(*sa, seed=10 + 2 * i), "b": randn(*sb, seed=11 + 2 * i)},
               {"a": list(sa), "b": list(sb)})
    f.write()


def main():
    write_broadcast_family("add", lambda a, b: a + b)
