"""One training step of a micro SDXL-structured UNet, for Tests/TrainerTests/TrainingStepTests.swift.

Run:  /work/venv/bin/python tools/reference/training/one_step.py
Writes Tests/TrainerTests/Fixtures/training/one_step.safetensors.

What a step is (diffusers' examples/text_to_image/train_text_to_image_sdxl.py, kohya sd-scripts sdxl_train.py):
- DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, 1000 steps):
  noisy = add_noise(latents, noise, t) = sqrt(abar_t) latents + sqrt(1 - abar_t) noise;
- pred = unet(noisy, t, context, added_cond_kwargs={text_embeds: pooled, time_ids});
- loss = F.mse_loss(pred, noise) (epsilon prediction, mean over every element);
- grads of every parameter; clip_grad_norm_(max_norm) (the fixture's norm exceeds it, so clipping acts);
- torch.optim.AdamW(lr, betas, eps, weight_decay).step().
The forward/backward runs in float64 on the float32-stored values, so the reference adds no fp32 error. The
exact noise and timesteps are inputs (the Swift side draws its own in training). `abar` is the scheduler's
float32 `alphas_cumprod` table, checked against the Swift schedule.

Keys: `weights.<name>` (before), `grad.<name>` (before clipping), `updated.<name>` (after the step),
`in.{latents,noise,timesteps,context,pooled,time_ids}`, `out.{loss,grad_norm}`, `abar` [1000].
Metadata: `config` (UNet config JSON, Swift `UNetConfig` fields), `optim` (lr, betas, eps, weight_decay, max_norm).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from diffusers import DDPMScheduler

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
from unet_fixtures import diffusers_unet, reinit_  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "TrainerTests", "Fixtures", "training", "one_step.safetensors")

# A micro config of the SDXL structure (two levels, one attention level), small enough for a < 1 MB fixture.
MICRO = dict(
    block_out_channels=[8, 16],
    attention=[False, True],
    transformer_depth=[0, 1],
    heads=[0, 2],
    layers_per_block=1,
    cross_attention_dim=16,
    pooled_dim=8,
    addition_time_embed_dim=4,
    norm_num_groups=4,
    in_channels=4,
    out_channels=4,
)
OPTIM = dict(lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=1e-2, max_norm=0.05)


def main():
    torch.manual_seed(0)
    model = diffusers_unet(MICRO)
    reinit_(model, seed=11, fp16_round=False)
    weights = {k: v.detach().clone().float().contiguous() for k, v in model.named_parameters()}

    g = torch.Generator().manual_seed(12)
    latents = torch.randn(2, 4, 8, 8, generator=g)
    noise = torch.randn(2, 4, 8, 8, generator=g)
    timesteps = torch.tensor([37, 901])
    context = torch.randn(2, 5, MICRO["cross_attention_dim"], generator=g)
    pooled = torch.randn(2, MICRO["pooled_dim"], generator=g)
    time_ids = torch.tensor([[128.0, 128.0, 0.0, 0.0, 128.0, 128.0], [96.0, 160.0, 8.0, 16.0, 128.0, 128.0]])

    sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
    m64 = model.double()
    noisy = sched.add_noise(latents.double(), noise.double(), timesteps)
    pred = m64(noisy, timesteps.double(), encoder_hidden_states=context.double(),
               added_cond_kwargs={"text_embeds": pooled.double(), "time_ids": time_ids.double()}).sample
    loss = torch.nn.functional.mse_loss(pred, noise.double())
    loss.backward()
    params = dict(m64.named_parameters())
    grads = {k: p.grad.detach().float().clone() for k, p in params.items()}
    norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=OPTIM["max_norm"])
    assert norm > OPTIM["max_norm"], f"grad norm {norm} does not exercise clipping"
    opt = torch.optim.AdamW(list(params.values()), lr=OPTIM["lr"], betas=tuple(OPTIM["betas"]), eps=OPTIM["eps"],
                            weight_decay=OPTIM["weight_decay"], foreach=False)
    opt.step()

    f32 = lambda t: t.detach().to(torch.float32).contiguous()
    out = {"in.latents": latents, "in.noise": noise, "in.timesteps": timesteps.float(), "in.context": context,
           "in.pooled": pooled, "in.time_ids": time_ids, "out.loss": f32(loss.reshape(1)),
           "out.grad_norm": f32(norm.reshape(1)), "abar": f32(sched.alphas_cumprod)}
    for k, p in params.items():
        out[f"weights.{k}"] = weights[k]
        out[f"grad.{k}"] = grads[k]
        out[f"updated.{k}"] = f32(p)
    cfg = dict(MICRO)
    meta = {"generator": f"tools/reference/training/one_step.py (torch {torch.__version__}, diffusers)",
            "config": json.dumps(cfg), "optim": json.dumps(OPTIM)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(out, OUT, metadata=meta)
    n = sum(p.numel() for p in params.values())
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes), {n} parameters, loss {loss.item():.6f}, norm {norm.item():.4f}")


if __name__ == "__main__":
    sys.exit(main())
