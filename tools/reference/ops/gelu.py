"""gelu: F.gelu(x) (exact erf)."""
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401

from ops.activation_inputs import write_family


def main():
    write_family("gelu", lambda x: F.gelu(x), wide=False)
