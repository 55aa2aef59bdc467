"""softplus: F.softplus(x) (beta 1, threshold 20; the "wide" case crosses the threshold)."""
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401

from ops.activation_inputs import write_family


def main():
    write_family("softplus", lambda x: F.softplus(x), wide=True)
