"""torch's default layer initialisation from a seed, for Tests/TrainerTests/TrainingInitTests.swift.

Run:  /work/venv/bin/python tools/reference/training/init_fixtures.py
Writes Tests/TrainerTests/Fixtures/training/init.safetensors.

Each case seeds the global CPU generator (`torch.manual_seed(seed)`) and builds one layer, whose constructor
draws the weight (kaiming_uniform_(a=sqrt(5))) and then the bias (U(+-1/sqrt(fan_in))) — exactly the order
Swift's `ModelInitializer` walks a module (weight, then bias). Embedding: N(0, 1).
Keys: `<case>.weight`, `<case>.bias`; metadata `<case>` = JSON {kind, seed, shape args}.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "TrainerTests", "Fixtures", "training", "init.safetensors")

CASES = [
    ("linear", dict(kind="linear", seed=3, inp=37, out=5)),
    ("linear_nobias", dict(kind="linear", seed=4, inp=8, out=24, bias=False)),
    ("conv", dict(kind="conv", seed=5, inp=6, out=4, k=3)),
    ("conv1x1", dict(kind="conv", seed=6, inp=16, out=9, k=1)),
    ("embedding", dict(kind="embedding", seed=7, count=10, dim=8)),
]


def main():
    tensors, meta = {}, {"generator": f"tools/reference/training/init_fixtures.py (torch {torch.__version__})"}
    for name, c in CASES:
        torch.manual_seed(c["seed"])
        if c["kind"] == "linear":
            m = torch.nn.Linear(c["inp"], c["out"], bias=c.get("bias", True))
        elif c["kind"] == "conv":
            m = torch.nn.Conv2d(c["inp"], c["out"], c["k"])
        else:
            m = torch.nn.Embedding(c["count"], c["dim"])
        for k, v in m.named_parameters():
            tensors[f"{name}.{k}"] = v.detach().contiguous()
        meta[name] = json.dumps(c)
    save_file(tensors, OUT, metadata=meta)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
