"""Loss weighting as kohya's trainers apply it, for Tests/TrainerTests/LossWeightingTests.swift.

Run:  /work/venv/bin/python tools/reference/training/loss_weight_fixtures.py
Writes Tests/TrainerTests/Fixtures/training/loss_weight.safetensors.

SNR per timestep from diffusers' DDPMScheduler (scaled_linear 0.00085..0.012, 1000 steps) as kohya computes it
((sqrt(acp) / sqrt(1 - acp))^2); weights for min-SNR-gamma 5 (min(snr, gamma) / snr), debiased estimation
(1 / sqrt(min(snr, 1000))) and both; then one weighted loss
`(mse(pred, target, reduction="none").mean([1, 2, 3]) * w).mean()` with its gradient by autograd.
"""
import os
import sys

import torch
from diffusers import DDPMScheduler
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "TrainerTests", "Fixtures", "training", "loss_weight.safetensors")
TIMESTEPS = [0, 1, 17, 250, 499, 500, 777, 998, 999]
GAMMA = 5.0


def main():
    sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
    acp = sched.alphas_cumprod
    snr = (acp.sqrt() / (1 - acp).sqrt()) ** 2
    t = torch.tensor(TIMESTEPS)
    s = snr[t]
    min_snr = torch.minimum(s, torch.full_like(s, GAMMA)) / s
    debiased = 1 / torch.sqrt(torch.minimum(s, torch.full_like(s, 1000.0)))
    g = torch.Generator().manual_seed(11)
    pred = torch.randn(4, 4, 3, 5, generator=g).requires_grad_(True)
    target = torch.randn(4, 4, 3, 5, generator=g)
    w = debiased[[1, 3, 6, 8]] * min_snr[[1, 3, 6, 8]]
    loss = (torch.nn.functional.mse_loss(pred, target, reduction="none").mean([1, 2, 3]) * w).mean()
    loss.backward()
    tensors = {
        "timesteps": t.to(torch.float32), "snr": s.float(), "min_snr_5": min_snr.float(),
        "debiased": debiased.float(), "pred": pred.detach(), "target": target, "weights": w.float(),
        "loss": loss.detach().reshape(1), "grad": pred.grad,
    }
    save_file(tensors, OUT, metadata={"generator": f"tools/reference/training/loss_weight_fixtures.py (torch {torch.__version__})"})
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
