"""gelu_tanh: F.gelu(x, approximate="tanh")."""
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401

from ops.activation_inputs import write_family


def main():
    write_family("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), wide=False)
