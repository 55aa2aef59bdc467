"""silu: F.silu(x)."""
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401

from ops.activation_inputs import write_family


def main():
    write_family("silu", lambda x: F.silu(x), wide=False)
