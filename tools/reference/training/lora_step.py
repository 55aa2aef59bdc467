"""One LoRA training step of the micro UNet (peft), for Tests/TrainerTests/TrainingStepTests.swift.

Run:  /work/venv/bin/python tools/reference/training/lora_step.py
Writes Tests/TrainerTests/Fixtures/training/lora_step.safetensors.

Same step as one_step.py (DDPM add_noise, eps-MSE, clip_grad_norm_, AdamW) but with the UNet frozen and a peft
LoRA (rank 4, alpha 8, DMD2's target modules, docs/dmd2-training-spec.md §1.9) trained. lora_A and lora_B are
re-initialised with seeded noise (B non-zero, so both factors get gradients). Base weights come from
one_step.safetensors (`weights.*`), inputs too (`in.*`).
Keys: `lora.<module path>.{down,up}` (before; down = lora_A [r, in(, k, k)], up = lora_B [out, r(, 1, 1)]),
`grad.<module path>.{down,up}` (before clipping), `updated.<module path>.{down,up}`, `out.{loss,grad_norm}`.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file, load_file
from diffusers import DDPMScheduler
from peft import LoraConfig, get_peft_model

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
sys.path.insert(0, os.path.dirname(__file__))
from unet_fixtures import diffusers_unet  # noqa: E402
from one_step import MICRO, OPTIM, OUT as ONE_STEP  # noqa: E402

OUT = os.path.join(os.path.dirname(ONE_STEP), "lora_step.safetensors")
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2",
           "conv_shortcut", "time_emb_proj", "downsamplers.0.conv", "upsamplers.0.conv"]
RANK, ALPHA = 4, 8.0


def main():
    ref = load_file(ONE_STEP)
    model = diffusers_unet(MICRO)
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(ref[f"weights.{k}"])
    peft_model = get_peft_model(model, LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS, lora_dropout=0.0))
    g = torch.Generator().manual_seed(21)
    lora = {}
    with torch.no_grad():
        for name, mod in peft_model.named_modules():
            if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
                path = name.removeprefix("base_model.model.")
                a, b = mod.lora_A["default"].weight, mod.lora_B["default"].weight
                a.copy_(torch.randn(a.shape, generator=g) * 0.3)
                b.copy_(torch.randn(b.shape, generator=g) * 0.05)
                lora[path] = (a, b)
    m64 = peft_model.double()
    sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
    lat, noise, t = ref["in.latents"].double(), ref["in.noise"].double(), ref["in.timesteps"].long()
    noisy = sched.add_noise(lat, noise, t)
    pred = m64(noisy, t.double(), encoder_hidden_states=ref["in.context"].double(),
               added_cond_kwargs={"text_embeds": ref["in.pooled"].double(), "time_ids": ref["in.time_ids"].double()}).sample
    loss = torch.nn.functional.mse_loss(pred, noise)
    loss.backward()
    params = [p for p in m64.parameters() if p.requires_grad]
    named = {}
    for name, mod in m64.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            named[name.removeprefix("base_model.model.")] = (mod.lora_A["default"].weight, mod.lora_B["default"].weight)
    assert len(params) == 2 * len(named), (len(params), len(named))
    out = {"out.loss": loss.detach().float().reshape(1)}
    for path, (a, b) in named.items():
        out[f"lora.{path}.down"] = lora[path][0].detach().float().clone()
        out[f"lora.{path}.up"] = lora[path][1].detach().float().clone()
        out[f"grad.{path}.down"] = a.grad.detach().float().clone()
        out[f"grad.{path}.up"] = b.grad.detach().float().clone()
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm=OPTIM["max_norm"])
    assert norm > OPTIM["max_norm"]
    opt = torch.optim.AdamW(params, lr=OPTIM["lr"], betas=tuple(OPTIM["betas"]), eps=OPTIM["eps"],
                            weight_decay=OPTIM["weight_decay"], foreach=False)
    opt.step()
    out["out.grad_norm"] = norm.detach().float().reshape(1)
    for path, (a, b) in named.items():
        out[f"updated.{path}.down"] = a.detach().float().contiguous()
        out[f"updated.{path}.up"] = b.detach().float().contiguous()
    meta = {"generator": f"tools/reference/training/lora_step.py (torch {torch.__version__}, peft)",
            "rank": str(RANK), "alpha": str(ALPHA), "targets": json.dumps(TARGETS), "optim": json.dumps(OPTIM)}
    save_file({k: v.contiguous() for k, v in out.items()}, OUT, metadata=meta)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes), {len(named)} adapted modules, loss {loss.item():.6f}, norm {norm.item():.4f}")


if __name__ == "__main__":
    sys.exit(main())
