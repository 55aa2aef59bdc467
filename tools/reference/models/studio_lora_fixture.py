"""A small kohya-format LoRA for the tiny SDXL pipeline fixture, for the studio's engine test and end-to-end script.

Run:  /work/venv/bin/python tools/reference/models/studio_lora_fixture.py
Writes Tests/DiffusionTests/Fixtures/lora/tiny_sdxl_style.safetensors.

Targets every linear layer of the UNet's transformer blocks (attn1/attn2 q, k, v, out; ff.net.0.proj, ff.net.2) and
proj_in / proj_out of Fixtures/pipeline/tiny_sdxl.safetensors, named as kohya's LDM exporter does
(`lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight`, `.lora_up.weight`, `.alpha`), rank 4,
alpha 4 (scale 1), seeded factors large enough to change the tiny model's image visibly. One extra module names a layer
the model does not have (`lora_unet_input_blocks_9_1_proj_in`), so its 3 keys show up as unmatched.
The values are not compared with anything: the Swift test checks the engine's runtime adapters against the pipeline
with the same LoRA merged (both Swift), and the e2e script checks the UI.
"""
import os

import torch
from safetensors import safe_open
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIX = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures")
MODEL = os.path.join(FIX, "pipeline", "tiny_sdxl.safetensors")
OUT = os.path.join(FIX, "lora", "tiny_sdxl_style.safetensors")
PREFIX = "model.diffusion_model."
RANK, ALPHA = 4, 4.0
SUFFIXES = ("attn1.to_q.weight", "attn1.to_k.weight", "attn1.to_v.weight", "attn1.to_out.0.weight",
            "attn2.to_q.weight", "attn2.to_k.weight", "attn2.to_v.weight", "attn2.to_out.0.weight",
            "ff.net.0.proj.weight", "ff.net.2.weight", "proj_in.weight", "proj_out.weight")


def main():
    g = torch.Generator().manual_seed(20261127)
    out = {}
    with safe_open(MODEL, "pt") as f:
        names = sorted(k for k in f.keys() if k.startswith(PREFIX) and k.endswith(SUFFIXES))
        for name in names:
            shape = f.get_slice(name).get_shape()
            assert len(shape) == 2, name
            o, i = shape
            module = "lora_unet_" + name[len(PREFIX):-len(".weight")].replace(".", "_")
            out[module + ".lora_down.weight"] = torch.randn(RANK, i, generator=g) * 0.5
            out[module + ".lora_up.weight"] = torch.randn(o, RANK, generator=g) * 0.5
            out[module + ".alpha"] = torch.tensor(ALPHA)
    bogus = "lora_unet_input_blocks_9_1_proj_in"
    out[bogus + ".lora_down.weight"] = torch.randn(RANK, 16, generator=g)
    out[bogus + ".lora_up.weight"] = torch.randn(16, RANK, generator=g)
    out[bogus + ".alpha"] = torch.tensor(ALPHA)
    save_file(out, OUT, metadata={"ss_network_module": "networks.lora", "ss_network_dim": str(RANK),
                                  "ss_network_alpha": str(ALPHA)})
    print(f"{OUT}: {len(names)} modules + 1 unmatched, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
