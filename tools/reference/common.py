"""Shared helpers for fixture scripts (see FIXTURES.md for the file contract)."""
import json
import os

import torch
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPS_DIR = os.path.join(REPO, "Tests", "TensorTests", "Fixtures", "ops")


class FixtureFile:
    """Collects cases for one op family and writes `<family>.safetensors`."""

    def __init__(self, family):
        self.family = family
        self.tensors = {}
        self.meta = {"generator": f"tools/reference (torch {torch.__version__})"}

    def case(self, name, fn, inputs, options=None, grad_args=None, seed=0):
        """Runs `fn(**inputs)` in float64, records out, a random dout and grads of sum(out*dout).

        inputs: dict arg -> float tensor (any dtype; promoted to float64 for the computation).
        grad_args: which inputs get gradients (default: every floating input).
        """
        gen = torch.Generator().manual_seed(seed + 1000)
        x64 = {k: v.detach().to(torch.float64) for k, v in inputs.items()}
        grad_args = list(x64.keys()) if grad_args is None else grad_args
        for k in grad_args:
            x64[k].requires_grad_(True)
        out = fn(**x64)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        douts = [torch.randn(o.shape, generator=gen, dtype=torch.float64) for o in outs]
        if grad_args:
            loss = sum((o * d).sum() for o, d in zip(outs, douts))
            loss.backward()
        for k, v in x64.items():
            self.tensors[f"{name}.in.{k}"] = v.detach().to(torch.float32).contiguous()
        if len(outs) == 1:
            self.tensors[f"{name}.out"] = outs[0].detach().to(torch.float32).contiguous()
            self.tensors[f"{name}.dout"] = douts[0].to(torch.float32).contiguous()
        else:
            for i, (o, d) in enumerate(zip(outs, douts)):
                self.tensors[f"{name}.out.{i}"] = o.detach().to(torch.float32).contiguous()
                self.tensors[f"{name}.dout.{i}"] = d.to(torch.float32).contiguous()
        for k in grad_args:
            self.tensors[f"{name}.grad.{k}"] = x64[k].grad.to(torch.float32).contiguous()
        self.meta[name] = json.dumps(options or {})

    def write(self):
        os.makedirs(OPS_DIR, exist_ok=True)
        path = os.path.join(OPS_DIR, f"{self.family}.safetensors")
        save_file(self.tensors, path, metadata=self.meta)
        print(f"wrote {path} ({len(self.tensors)} tensors)")


def randn(*shape, seed=0, scale=1.0):
    """Seeded standard normal float32 tensor."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * scale
