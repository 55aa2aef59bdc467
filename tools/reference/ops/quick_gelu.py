"""quick_gelu: x * sigmoid(1.702 x) (CLIP quick GELU)."""
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401

from ops.activation_inputs import write_family


def main():
    write_family("quick_gelu", lambda x: x * torch.sigmoid(1.702 * x), wide=False)
