"""mean: over all elements ("dim": null) or one dim with and without keepdim (cases as sum.py)."""
import torch

from ops.sum import write_reduce_family


def main():
    write_reduce_family("mean", torch.mean)
