"""Optimizer fixtures: torch.optim.AdamW and bitsandbytes AdamW8bit trajectories over 5 steps.

Usage: /work/venv/bin/python tools/reference/optim_fixtures.py
Writes Tests/TensorTests/Fixtures/optim/{adamw,adamw8bit}.safetensors (read by OptimizerTests.swift).

Per case `<c>` (options in the safetensors metadata as JSON):
  <c>.param0          initial parameter (fp32)
  <c>.grad.<k>        gradient fed before step k = 1..5 (values exact in fp16, stored as f16 to stay small)
  <c>.param.<k>       parameter after step k (fp32)
  <c>.code1.<k>, <c>.code2.<k>     8-bit m / v codes after step k (integers 0..255 stored as f16, exact)
  <c>.absmax1.<k>, <c>.absmax2.<k> per-256-block absmax of m / v after step k (fp32)
  map.signed, map.unsigned          bitsandbytes.functional.create_dynamic_map(signed=True/False)
  <c>.bnb_cpu.param.5               bitsandbytes' own CPU AdamW8bit after 5 steps (sanity check only)

bitsandbytes 0.50.2 runs AdamW8bit on CPU tensors, but its CPU backend is not the published algorithm:
it decays before the step, has no sign fix or NaN rule, and its C quantiser (a fast approximate search)
often picks a code that is not the nearest (e.g. 9e-9 -> 1.56e-5). The trajectories are therefore
written by `Adam8bitReference` below, the CUDA kernel's algorithm in plain torch/numpy, using
bitsandbytes' own `create_dynamic_map`; the script prints how often the CPU backend agrees.
"""
import json
import math
import os

import numpy as np
import torch
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "TensorTests", "Fixtures", "optim")
STEPS = 5


def grads(n_steps, shape, seed, scale):
    g = torch.Generator().manual_seed(seed)
    # Round through fp16 so the stored f16 grads are exactly what the reference consumed.
    return [(torch.randn(shape, generator=g) * scale).half().float() for _ in range(n_steps)]


def adamw_case(tensors, meta, name, shape, seed, **opts):
    g = torch.Generator().manual_seed(seed)
    p = torch.nn.Parameter(torch.randn(shape, generator=g))
    tensors[f"{name}.param0"] = p.detach().clone()
    opt = torch.optim.AdamW([p], foreach=False, **opts)
    for k, gr in enumerate(grads(STEPS, shape, seed + 1, 1.0), 1):
        p.grad = gr.clone()
        opt.step()
        tensors[f"{name}.grad.{k}"] = gr.half()
        tensors[f"{name}.param.{k}"] = p.detach().clone()
    meta[name] = json.dumps({"lr": opts["lr"], "betas": list(opts.get("betas", (0.9, 0.999))),
                             "eps": opts.get("eps", 1e-8), "weight_decay": opts.get("weight_decay", 1e-2)})


def quantize_2d(x, qmap):
    """bitsandbytes' CUDA `quantize_2D`: 7-step binary search, then the fp32 midpoint decides (ties stay
    on the even pivot). x: float32 array of block-normalised values; qmap: float32[256]."""
    pivot = np.full(x.shape, 127); lower_p = np.zeros(x.shape, int); upper_p = np.full(x.shape, 255)
    step = 64
    while step > 0:
        right = x > qmap[pivot]
        lower_p = np.where(right, pivot, lower_p); upper_p = np.where(right, upper_p, pivot)
        pivot = np.where(right, pivot + step, pivot - step)
        step //= 2
    val = qmap[pivot]
    up_mid = ((qmap[upper_p] + val) * np.float32(0.5)).astype(np.float32)
    lo_mid = ((qmap[lower_p] + val) * np.float32(0.5)).astype(np.float32)
    return np.where(x > val, np.where(x > up_mid, upper_p, pivot), np.where(x < lo_mid, lower_p, pivot))


class Adam8bitReference:
    """bitsandbytes' blockwise 8-bit AdamW, CUDA-kernel rules (kOptimizerStatic8bit2StateBlockwise):
    NaN/Inf grads zero the element's state and skip its update, decay after the Adam step, absmax
    after the update, quantize_2D rounding and the sign fix for m. m and v use torch's fused CPU ops
    (the same bits as bitsandbytes' CPU backend); the parameter update is computed in float64 from them.
    Tensors below min_8bit_size keep fp32 m, v under the same element rule."""

    def __init__(self, p, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, min_8bit_size=4096):
        import bitsandbytes.functional as F
        self.p = p.detach().clone().reshape(-1); self.n = self.p.numel()
        self.lr, self.betas, self.eps, self.wd = lr, betas, eps, weight_decay
        self.q1 = F.create_dynamic_map(signed=True).numpy(); self.q2 = F.create_dynamic_map(signed=False).numpy()
        self.quantized = self.n >= min_8bit_size
        blocks = -(-self.n // 256)
        self.c1 = np.zeros(self.n, int); self.c2 = np.zeros(self.n, int)
        self.a1 = np.zeros(blocks, np.float32); self.a2 = np.zeros(blocks, np.float32)
        self.m = torch.zeros(self.n); self.v = torch.zeros(self.n)
        self.t = 0

    def step(self, g):
        b1, b2 = self.betas
        self.t += 1
        g = g.reshape(-1).float()
        if self.quantized:
            m = torch.from_numpy(self.q1[self.c1] * np.repeat(self.a1, 256)[: self.n])
            v = torch.from_numpy(self.q2[self.c2] * np.repeat(self.a2, 256)[: self.n])
        else:
            m, v = self.m, self.v
        bad = ~torch.isfinite(g)
        g0 = torch.where(bad, torch.zeros_like(g), g)
        m = m.mul(b1).add_(g0, alpha=1 - b1); v = v.mul(b2).addcmul_(g0, g0, value=1 - b2)
        m[bad] = 0; v[bad] = 0
        c1 = 1 - b1 ** self.t; c2 = math.sqrt(1 - b2 ** self.t)
        p64, m64, v64 = self.p.double(), m.double(), v.double()
        new = (p64 + (-self.lr * c2 / c1) * m64 / (v64.sqrt() + self.eps * c2))
        if self.wd > 0:
            new = new * (1 - self.lr * self.wd)
        self.p = torch.where(bad, self.p, new.float())
        if not self.quantized:
            self.m, self.v = m, v
            return
        mn, vn = m.numpy(), v.numpy()
        for b in range(len(self.a1)):
            s = slice(b * 256, min(self.n, (b + 1) * 256))
            self.a1[b] = np.abs(mn[s]).max(); self.a2[b] = np.abs(vn[s]).max()
            if self.a1[b] > 0:
                x = mn[s] / self.a1[b]
                c = quantize_2d(x, self.q1)
                wrong = np.signbit(self.q1[c]) != np.signbit(mn[s])
                self.c1[s] = np.where(wrong, np.where(mn[s] > 0, c + 1, c - 1), c)
            else:
                self.c1[s] = 127
            self.c2[s] = quantize_2d(vn[s] / self.a2[b], self.q2) if self.a2[b] > 0 else 0


def bnb_case(tensors, meta, name, n, seed, **opts):
    """Reference trajectory (Adam8bitReference) plus bitsandbytes' own CPU AdamW8bit params at step 5."""
    import bitsandbytes as bnb

    g = torch.Generator().manual_seed(seed)
    p0 = torch.randn(n, generator=g)
    tensors[f"{name}.param0"] = p0.clone()
    ref = Adam8bitReference(p0, **opts)
    p = torch.nn.Parameter(p0.clone())
    opt = bnb.optim.AdamW8bit([p], **opts)
    for k, gr in enumerate(grads(STEPS, (n,), seed + 1, 0.5), 1):
        ref.step(gr)
        p.grad = gr.clone()
        opt.step()
        tensors[f"{name}.grad.{k}"] = gr.half()
        tensors[f"{name}.param.{k}"] = ref.p.clone()
        if ref.quantized:
            tensors[f"{name}.code1.{k}"] = torch.from_numpy(ref.c1).half()
            tensors[f"{name}.code2.{k}"] = torch.from_numpy(ref.c2).half()
            tensors[f"{name}.absmax1.{k}"] = torch.from_numpy(ref.a1.copy())
            tensors[f"{name}.absmax2.{k}"] = torch.from_numpy(ref.a2.copy())
            st = opt.state[p]
            same = (st["state1"].numpy() == ref.c1).mean(), (st["state2"].numpy() == ref.c2).mean()
            print(f"{name} step {k}: bitsandbytes CPU codes equal to the reference: m {same[0]:.4f}, v {same[1]:.4f}")
    tensors[f"{name}.bnb_cpu.param.{STEPS}"] = p.detach().clone()
    diff = (p.detach() - ref.p).abs().max() / ref.p.abs().max()
    print(f"{name}: bitsandbytes CPU vs reference params after {STEPS} steps: max rel {diff:.3g}")
    meta[name] = json.dumps({"lr": opts["lr"], "betas": list(opts.get("betas", (0.9, 0.999))),
                             "eps": opts.get("eps", 1e-8), "weight_decay": opts.get("weight_decay", 1e-2),
                             "numel": n})


def main():
    import bitsandbytes
    import bitsandbytes.functional as F

    os.makedirs(OUT, exist_ok=True)
    versions = f"torch {torch.__version__}, bitsandbytes {bitsandbytes.__version__}"

    t, meta = {}, {"generator": f"tools/reference/optim_fixtures.py ({versions})"}
    adamw_case(t, meta, "default", (7, 13), seed=10, lr=1e-3)
    adamw_case(t, meta, "options", (37,), seed=20, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    save_file(t, os.path.join(OUT, "adamw.safetensors"), metadata=meta)

    t, meta = {}, {"generator": f"tools/reference/optim_fixtures.py ({versions}, CPU backend)"}
    t["map.signed"] = F.create_dynamic_map(signed=True)
    t["map.unsigned"] = F.create_dynamic_map(signed=False)
    bnb_case(t, meta, "blockwise", 4099, seed=30, lr=1e-2)          # 17 blocks, the last one 3 long
    bnb_case(t, meta, "fp32state", 1000, seed=40, lr=1e-2, weight_decay=0.1)   # < 4096: fp32 state
    save_file(t, os.path.join(OUT, "adamw8bit.safetensors"), metadata=meta)
    for f in ("adamw", "adamw8bit"):
        path = os.path.join(OUT, f + ".safetensors")
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
