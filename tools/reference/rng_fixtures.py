"""torch CPU randn after manual_seed, for several shapes (incl. < 16 elements and ragged tails).

Writes Tests/TensorTests/Fixtures/rng.safetensors. Each case seeds once and then draws several
tensors in a row from the same generator (`<case>.draw<k>`), so the tests also see the generator's
state after a draw: the ≥ 16-element float path leaves no cached sample, an odd-sized < 16 draw
leaves one for the next small draw. Metadata `<case>` = {"seed": s, "shapes": [[...], ...]}.

Which torch kernel produced the values matters (the ≥ 16 path is PyTorch's AVX2 `normal_fill_16_AVX2`
on AVX2 and AVX-512 CPUs); the generator metadata records the CPU capability.
Run: /work/venv/bin/python tools/reference/rng_fixtures.py
"""
import json
import os

import torch
from safetensors.torch import save_file

from common import REPO

CASES = [
    (42, [[1, 4, 32, 32], [1, 4, 32, 32]]),
    (0, [[2, 4, 8, 12], [2, 4, 8, 12]]),
    (2**32 + 42, [[1, 4, 16, 16], [1, 4, 16, 16]]),      # seed ≥ 2³²: only the low 32 bits count
    (7, [[3], [3]]),                                     # < 16: double path, cached sample carried over
    (7, [[5, 7], [5, 7]]),
    (123456789, [[1, 4, 13, 9], [1, 4, 13, 9]]),         # ragged tail (468 = 29·16 + 4)
    (99, [[17], [17]]),                                  # tail overlapping the only full block
    (5, [[1], [1], [1]]),                                # single elements: 2nd comes from the cache
    (11, [[15], [15]]),                                  # largest double-path size, odd
    (2**40 + 3, [[2, 7], [2, 7]]),                       # double path with a seed ≥ 2³²
    (31337, [[16], [16]]),                               # smallest float-path size, no tail
    (8, [[33], [33]]),
    (2024, [[3], [20], [5]]),                            # cache survives a float-path draw in between
    (1234, [[1, 4, 128, 128]]),                          # SDXL 1024² latent: 65,536 values, 4,096 blocks
]


def main():
    meta = {"generator": f"tools/reference/rng_fixtures.py (torch {torch.__version__}, "
                         f"cpu capability {torch.backends.cpu.get_cpu_capability()})"}
    tensors = {}
    for i, (seed, shapes) in enumerate(CASES):
        torch.manual_seed(seed)
        for k, shape in enumerate(shapes):
            tensors[f"case{i:02d}.draw{k}"] = torch.randn(shape)
        meta[f"case{i:02d}"] = json.dumps({"seed": seed, "shapes": shapes})
    out = os.path.join(REPO, "Tests", "TensorTests", "Fixtures", "rng.safetensors")
    save_file(tensors, out, metadata=meta)
    print(f"wrote {out} ({len(tensors)} tensors, {os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
