"""Writes Tests/CheckpointTests/Fixtures/python_written.safetensors with the reference `safetensors` library.

The Swift reader must open what the reference writer produces (its header layout, its dtype-sorted data
order), and our f16/bf16 rounding must agree with torch's. Contents (names → meaning):

  f32.matrix      F32 [3, 5]      arange * 0.25 - 1
  f32.scalar      F32 []          0-d scalar 3.5
  f32.empty       F32 [0, 3]      no elements
  f16.values      F16 [N]         special values: ±0, subnormals, min normal, max, ±inf, nan, ties
  f16.expected    F32 [N]         f16.values widened to f32 by torch (what the reader must return)
  bf16.values     BF16 [M], bf16.expected F32 [M]   same idea for bfloat16
  round.src       F32 [K]         f32 values that exercise rounding (ties, overflow, underflow)
  round.f16       F16 [K]         round.src.to(float16)  — the writer must produce these bits
  round.bf16      BF16 [K]        round.src.to(bfloat16)
  i64.ids         I64 [6]         includes ±2^40 and -1
  i64.scalar      I64 []
  other.f64 / other.i32 / other.u8 / other.bool    dtypes the reader lists but does not convert
  __metadata__    {"format": "pt", "note": "ünïcode ✓", "json": "{\"a\": [1, 2]}"}

Run: /work/venv/bin/python tools/reference/checkpoint_fixtures.py
"""
import os
import struct

import torch
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "CheckpointTests", "Fixtures", "python_written.safetensors")


def f32_from_bits(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def main():
    t = {}
    t["f32.matrix"] = torch.arange(15, dtype=torch.float32).reshape(3, 5) * 0.25 - 1
    t["f32.scalar"] = torch.tensor(3.5, dtype=torch.float32)
    t["f32.empty"] = torch.zeros(0, 3, dtype=torch.float32)

    # Every interesting f16 bit pattern class, given as raw bits.
    f16_bits = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0200, 0x0400, 0x3C00, 0xBC00, 0x3555,
                0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x1234, 0xC000]
    h = torch.tensor(f16_bits, dtype=torch.int32).to(torch.int16).view(torch.float16)
    t["f16.values"] = h
    t["f16.expected"] = h.to(torch.float32)

    bf16_bits = [0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x3F80, 0xBF80, 0x7F7F, 0xFF7F, 0x7F80,
                 0xFF80, 0x7FC0, 0x4049, 0x3E2A]
    b = torch.tensor(bf16_bits, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    t["bf16.values"] = b
    t["bf16.expected"] = b.to(torch.float32)

    src = [0.0, -0.0, 1.0, -2.5, 0.1, 1 / 3, 65504.0, 65519.99, 65520.0, 1e6, -1e6,
           2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -26, 6.1e-5, 5.9604645e-08,
           1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11,            # f16 ties: to even (down), to even (up)
           1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8,              # bf16 ties
           3.4028235e38, -3.4028235e38, float("inf"), float("-inf"), float("nan"),
           f32_from_bits(0x00000001), f32_from_bits(0x007FFFFF), f32_from_bits(0x7F7FFFFF)]
    s = torch.tensor(src, dtype=torch.float32)
    t["round.src"] = s
    t["round.f16"] = s.to(torch.float16)
    t["round.bf16"] = s.to(torch.bfloat16)

    t["i64.ids"] = torch.tensor([0, 1, -1, 49407, 2 ** 40, -(2 ** 40)], dtype=torch.int64)
    t["i64.scalar"] = torch.tensor(7, dtype=torch.int64)

    t["other.f64"] = torch.tensor([1.5, -2.0], dtype=torch.float64)
    t["other.i32"] = torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)
    t["other.u8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    t["other.bool"] = torch.tensor([True, False, True])

    meta = {"format": "pt", "note": "ünïcode ✓", "json": '{"a": [1, 2]}'}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(t, OUT, metadata=meta)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(t)} tensors)")


if __name__ == "__main__":
    main()
