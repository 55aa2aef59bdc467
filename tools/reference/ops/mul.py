"""mul: broadcasting `a * b` on the same shape pairs as add.py."""
from ops.add import write_broadcast_family


def main():
    write_broadcast_family("mul", lambda a, b: a * b)
