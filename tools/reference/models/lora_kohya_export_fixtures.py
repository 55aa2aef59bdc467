"""Fixture for the Swift `TrainableLoRA` kohya export and the runtime adapters (Tests/DiffusionTests/LoRARuntimeTests.swift).

Run:  /work/venv/bin/python tools/reference/models/lora_kohya_export_fixtures.py
Writes Tests/DiffusionTests/Fixtures/lora/:
  trained_kohya.safetensors   a rank-4, alpha-2 LoRA on the tiny UNet (Fixtures/unet/weights_diffusers.safetensors,
                              config unet_fixtures.TINY) over DMD2's 14 target patterns, in the layout kohya sd-scripts
                              writes for SDXL and Swift's `TrainableLoRA.exportKohya` must reproduce key for key:
                              `lora_unet_<LDM path with _>.lora_down.weight` [r, in] / [r, in, k, k],
                              `.lora_up.weight` [out, r] / [out, r, 1, 1], scalar `.alpha`, F32, and metadata
                              ss_network_module / ss_network_dim / ss_network_alpha. Values are seeded and fp16-exact,
                              up non-zero (a trained LoRA, not a fresh one).
  trained_expected.safetensors  the diffusers UNet output for Fixtures/unet/io.safetensors inputs after
                              `StableDiffusionXLPipeline.lora_state_dict` (diffusers' own kohya/SGM → diffusers
                              conversion) + `load_lora_into_unet`, at adapter weight 1.0 (`out_1.0`) and 0.6 (`out_0.6`,
                              via `set_adapters`), plus the base output (`out_base`). float64 forward, stored float32.
This checks that the exported file loads in diffusers and means there what our runtime adapters compute.
"""
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_fixtures import TINY, diffusers_unet, forward, ldm_name  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIX = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures")
OUT = os.path.join(FIX, "lora")
RANK, ALPHA = 4, 2.0
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2",
           "conv_shortcut", "time_emb_proj", "downsamplers.0.conv", "upsamplers.0.conv"]


def load_unet():
    model = diffusers_unet(TINY)
    sd = {k: v.float() for k, v in load_file(os.path.join(FIX, "unet", "weights_diffusers.safetensors")).items()}
    model.load_state_dict(sd, strict=True)
    return model.eval()


def kohya_lora(model):
    """kohya state dict over LDM paths for every target module (sorted by diffusers weight name)."""
    g = torch.Generator().manual_seed(21)
    sd = {}
    for name, p in sorted(model.named_parameters()):
        if not name.endswith(".weight") or p.dim() not in (2, 4):
            continue
        path = name[: -len(".weight")]
        if not any(path == t or path.endswith("." + t) for t in TARGETS):
            continue
        key = "lora_unet_" + ldm_name(name, TINY)[: -len(".weight")].replace(".", "_")
        fan_in = p[0].numel()
        down = torch.randn((RANK,) + tuple(p.shape[1:]), generator=g) / fan_in ** 0.5
        up = 0.5 * torch.randn((p.shape[0], RANK) + ((1, 1) if p.dim() == 4 else ()), generator=g) / RANK ** 0.5
        sd[key + ".lora_down.weight"] = down.half().float().contiguous()
        sd[key + ".lora_up.weight"] = up.half().float().contiguous()
        sd[key + ".alpha"] = torch.tensor(ALPHA)
    return sd


def main():
    os.makedirs(OUT, exist_ok=True)
    model = load_unet()
    lora = kohya_lora(model)
    print("modules", len(lora) // 3)
    meta = {"ss_network_module": "networks.lora", "ss_network_dim": str(RANK), "ss_network_alpha": str(ALPHA),
            "ss_network_args": '{"conv_dim": "%d", "conv_alpha": "%s"}' % (RANK, ALPHA)}
    path = os.path.join(OUT, "trained_kohya.safetensors")
    save_file(lora, path, metadata=meta)

    io = load_file(os.path.join(FIX, "unet", "io.safetensors"))
    args = [io["in.sample"], io["in.timesteps"], io["in.context"], io["in.text_embeds"], io["in.time_ids"]]
    args64 = [a.double() for a in args]
    model = model.double()
    with torch.no_grad():
        base = forward(model, *args64)

    from diffusers import StableDiffusionXLPipeline
    with safe_open(path, "pt") as f:
        assert f.metadata()["ss_network_dim"] == str(RANK)
    state_dict, alphas = StableDiffusionXLPipeline.lora_state_dict(path, unet_config=model.config)
    StableDiffusionXLPipeline.load_lora_into_unet(state_dict, alphas, model, adapter_name="trained")
    model = model.double()
    n_lora = sum(1 for n, _ in model.named_parameters() if "lora_A" in n)
    assert n_lora == len(lora) // 3, (n_lora, len(lora) // 3)
    out = {"out_base": base.float().contiguous()}
    for w in (1.0, 0.6):
        model.set_adapters(["trained"], weights=[w])
        with torch.no_grad():
            y = forward(model, *args64)
        print(f"weight {w}: |lora effect| / |base| = {((y - base).norm() / base.norm()).item():.3f}")
        out[f"out_{w}"] = y.float().contiguous()
    save_file(out, os.path.join(OUT, "trained_expected.safetensors"),
              metadata={"generator": f"tools/reference/models/lora_kohya_export_fixtures.py (torch {torch.__version__})"})


if __name__ == "__main__":
    sys.exit(main())
