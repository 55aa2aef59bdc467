"""LoRA fixtures for the Swift `LoRAStack` tests (Tests/DiffusionTests/LoRAStackTests.swift).

Run:  /work/venv/bin/python tools/reference/models/lora_fixtures.py
Writes Tests/DiffusionTests/Fixtures/lora/*.safetensors.

Base models are the existing tiny fixtures: the UNet of Fixtures/unet/weights_diffusers.safetensors (config
`unet_fixtures.TINY` = Swift `UNetConfig.tiny`) and the text encoders of Fixtures/clip/tiny_{l,g}.safetensors.
One set of LoRA factors (rank 4, alpha 8 → scale 2) is made with peft on the diffusers UNet (targets: the DMD2 list,
docs/dmd2-training-spec.md §1.9) with A and B re-initialised to seeded fp16-exact noise, and written four ways:
- unet_peft_diffusers: `StableDiffusionXLPipeline.save_lora_weights` output — `unet.` prefix, attention as
  `.lora.down/.lora.up` (diffusers' PEFT→diffusers renaming), others `lora_A/lora_B`, and the LoraConfig in the
  `lora_adapter_metadata` JSON (`unet.lora_alpha`, `unet.r`); no per-module alpha tensors.
- unet_peft_raw: the peft model's own state dict (`base_model.model.` prefix, `.lora_A.default.weight`), no alpha
  anywhere ⇒ ComfyUI semantics, scale 1.
- unet_kohya_diffusers (F16, like DMD2's export): `lora_unet_<diffusers path with _>.lora_down/.lora_up/.alpha`.
- unet_kohya_ldm (F32): the same over LDM/SGM paths (`lora_unet_input_blocks_4_1_…`, `…_in_layers_2`, `…_op`).
expected_unet.safetensors: for one module of each type (see `EXPECTED_UNET`), W + s · (alpha/r) · (B · A)
computed in float64 from the stored (fp16-exact) values, for s = 0.9 and 1.0 (`s0.9.<name>`, `s1.0.<name>`),
plus `peft_merge.<name>`: peft's own `merge_and_unload` result at strength 1 (checks our formula against peft).
te_kohya.safetensors: kohya text-encoder LoRA (rank 4): `lora_te1_…` on CLIP-L for q/k/v/out/fc1/fc2 of every
layer, no alpha (scale 1); `lora_te2_…` on bigG with alpha 2 (scale 0.5): layer 0 in open_clip names (packed
`transformer_resblocks_0_attn_in_proj` whose up rows are q|k|v, `attn_out_proj`, `mlp_c_fc`, `mlp_c_proj`),
layer 1 packed `text_model_encoder_layers_1_self_attn_in_proj` + HF names, layer 2 HF names only.
expected_te.safetensors: every affected TE weight merged at 0.9 and 1.0 (`s0.9.text_encoder.<name>`, ...).
"""
import json
import os
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_fixtures import TINY, diffusers_unet, ldm_name  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIX = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures")
OUT = os.path.join(FIX, "lora")
RANK, ALPHA = 4, 8.0
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2",
           "conv_shortcut", "time_emb_proj", "downsamplers.0.conv", "upsamplers.0.conv"]
# One module (weight name) per target type whose merged values are stored.
EXPECTED_UNET = [
    "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight",
    "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight",
    "mid_block.attentions.0.transformer_blocks.1.attn2.to_v.weight",
    "up_blocks.0.attentions.2.transformer_blocks.1.attn1.to_out.0.weight",
    "down_blocks.2.attentions.1.proj_in.weight",
    "up_blocks.1.attentions.0.proj_out.weight",
    "up_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj.weight",
    "mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight",
    "down_blocks.0.resnets.1.conv1.weight",
    "up_blocks.2.resnets.2.conv2.weight",
    "up_blocks.2.resnets.0.conv_shortcut.weight",
    "down_blocks.1.resnets.0.conv_shortcut.weight",
    "mid_block.resnets.1.time_emb_proj.weight",
    "down_blocks.0.downsamplers.0.conv.weight",
    "up_blocks.1.upsamplers.0.conv.weight",
]
STRENGTHS = [0.9, 1.0]


def fp16_exact(t):
    return t.half().float()


def load_base_unet():
    from diffusers import UNet2DConditionModel  # noqa: F401  (import check)
    model = diffusers_unet(TINY)
    sd = {k: v.float() for k, v in load_file(os.path.join(FIX, "unet", "weights_diffusers.safetensors")).items()}
    model.load_state_dict(sd, strict=True)
    return model, sd


def make_peft_unet(model):
    """Adds a rank-4 LoRA to `model` (in place) with seeded, fp16-exact, non-zero A and B."""
    from peft import LoraConfig
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS, init_lora_weights="gaussian")
    model.add_adapter(config)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_A" in name:
                fan_in = p[0].numel()
                p.copy_(fp16_exact(torch.randn(p.shape, generator=g) / fan_in ** 0.5))
            elif "lora_B" in name:
                p.copy_(fp16_exact(0.5 * torch.randn(p.shape, generator=g) / RANK ** 0.5))
    return config


def lora_factors(model):
    """module path → (A [r, ...], B [out, r, ...]) from the peft-wrapped model."""
    from peft.utils import get_peft_model_state_dict
    sd = get_peft_model_state_dict(model)
    out = {}
    for k, v in sd.items():
        if k.endswith(".lora_A.weight"):
            m = k[: -len(".lora_A.weight")]
            out[m] = (v.detach().clone(), sd[m + ".lora_B.weight"].detach().clone())
    return out, sd


def delta(a, b):
    """B · A in float64, reshaped to the target weight's shape (conv: A [r, in, k, k], B [out, r, 1, 1])."""
    a64, b64 = a.double(), b.double()
    r = a64.shape[0]
    d = b64.reshape(b64.shape[0], r) @ a64.reshape(r, -1)
    return d


def kohya_file(factors, path_fn, dtype):
    sd = {}
    for m, (a, b) in factors.items():
        key = "lora_unet_" + path_fn(m).replace(".", "_")
        sd[key + ".lora_down.weight"] = a.to(dtype).contiguous()
        sd[key + ".lora_up.weight"] = b.to(dtype).contiguous()
        sd[key + ".alpha"] = torch.tensor(ALPHA, dtype=dtype)
    return sd


def unet_fixtures():
    model, base = load_base_unet()
    config = make_peft_unet(model)
    factors, peft_sd = lora_factors(model)
    print("unet modules", len(factors), "lora params", sum(a.numel() + b.numel() for a, b in factors.values()))
    meta = {"generator": f"tools/reference/models/lora_fixtures.py (torch {torch.__version__})"}

    # (a) diffusers pipeline format with the adapter config in the metadata.
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    diff_sd = convert_state_dict_to_diffusers(peft_sd)
    with tempfile.TemporaryDirectory() as d:
        # Sets (target_modules) would serialise in hash order: sort them so the file is reproducible.
        cfg = {k: sorted(v) if isinstance(v, set) else v for k, v in config.to_dict().items()}
        StableDiffusionXLPipeline.save_lora_weights(d, unet_lora_layers=diff_sd, unet_lora_adapter_metadata=cfg,
                                                    safe_serialization=True)
        saved = os.path.join(d, "pytorch_lora_weights.safetensors")
        a_sd = load_file(saved)
        with safe_open(saved, "pt") as f:
            a_meta = dict(f.metadata() or {})
    a_meta.update(meta)
    save_file(a_sd, os.path.join(OUT, "unet_peft_diffusers.safetensors"), metadata=a_meta)

    # (a2) the raw peft state dict (adapter name infix, base_model.model. prefix).
    from peft import get_peft_model
    from peft import LoraConfig
    raw_model, _ = load_base_unet()
    pm = get_peft_model(raw_model, LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS))
    raw = {}
    for k, v in pm.state_dict().items():
        if "lora_" in k:
            m = k.split(".lora_")[0].replace("base_model.model.", "", 1)
            a, b = factors[m]
            raw[k] = (a if ".lora_A." in k else b).contiguous()
    assert len(raw) == 2 * len(factors), (len(raw), len(factors))
    save_file(raw, os.path.join(OUT, "unet_peft_raw.safetensors"), metadata=meta)

    # (b) kohya over diffusers paths (DMD2 export style, fp16), (c) kohya over LDM paths (fp32).
    save_file(kohya_file(factors, lambda m: m, torch.float16),
              os.path.join(OUT, "unet_kohya_diffusers.safetensors"), metadata=meta)
    ldm = lambda m: ldm_name(m + ".weight", TINY)[: -len(".weight")]
    save_file(kohya_file(factors, ldm, torch.float32), os.path.join(OUT, "unet_kohya_ldm.safetensors"), metadata=meta)

    # Expected merges (float64 → fp32) and peft's own merge at strength 1.
    expected = {}
    scale = ALPHA / RANK
    for name in EXPECTED_UNET:
        m = name[: -len(".weight")]
        a, b = factors[m]
        w = base[name].double()
        d = delta(a, b).reshape(w.shape)
        for s in STRENGTHS:
            expected[f"s{s}.{name}"] = (w + s * scale * d).float().contiguous()
    from peft.tuners.tuners_utils import BaseTunerLayer
    merged = model.double()
    with torch.no_grad():
        for module in merged.modules():
            if isinstance(module, BaseTunerLayer):
                module.merge()
    merged_sd = {k.replace(".base_layer", ""): v for k, v in merged.state_dict().items() if "lora_" not in k}
    for name in EXPECTED_UNET:
        expected[f"peft_merge.{name}"] = merged_sd[name].float().contiguous()
        err = (merged_sd[name].double() - expected[f"s1.0.{name}"].double()).abs().max().item()
        assert err < 1e-5, (name, err)
    save_file(expected, os.path.join(OUT, "expected_unet.safetensors"), metadata=meta)


def te_fixtures():
    g = torch.Generator().manual_seed(21)
    base_l = load_file(os.path.join(FIX, "clip", "tiny_l.safetensors"))
    base_g = load_file(os.path.join(FIX, "clip", "tiny_g.safetensors"))
    layers = 3
    lora, expected = {}, {}

    def factors(out_dim, in_dim):
        a = fp16_exact(torch.randn(RANK, in_dim, generator=g) / in_dim ** 0.5)
        b = fp16_exact(0.5 * torch.randn(out_dim, RANK, generator=g) / RANK ** 0.5)
        return a, b

    def add_expected(component, weight_name, base, a, b, scale):
        w = base[weight_name].double()
        d = delta(a, b).reshape(w.shape)
        for s in STRENGTHS:
            expected[f"s{s}.{component}.{weight_name}"] = (w + s * scale * d).float().contiguous()

    hf = lambda i, m: f"text_model.encoder.layers.{i}.{m}"
    mods = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2"]
    # te1: CLIP-L, no alpha ⇒ scale 1.
    for i in range(layers):
        for m in mods:
            name = hf(i, m) + ".weight"
            out_dim, in_dim = base_l[name].shape
            a, b = factors(out_dim, in_dim)
            key = "lora_te1_" + hf(i, m).replace(".", "_")
            lora[key + ".lora_down.weight"], lora[key + ".lora_up.weight"] = a, b
            add_expected("text_encoder", name, base_l, a, b, 1.0)
    # te2: bigG, alpha 2 ⇒ scale 0.5.
    te2_alpha = 2.0
    width = base_g[hf(0, "self_attn.q_proj") + ".weight"].shape[0]

    def te2_module(key, a, b):
        key = "lora_te2_" + key
        lora[key + ".lora_down.weight"], lora[key + ".lora_up.weight"] = a, b
        lora[key + ".alpha"] = torch.tensor(te2_alpha)

    open_clip = {"self_attn.out_proj": "attn.out_proj", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    for i in range(layers):
        if i < 2:
            a, b = factors(3 * width, width)
            packed = f"transformer_resblocks_{i}_attn_in_proj" if i == 0 else hf(i, "self_attn_in_proj").replace(".", "_")
            te2_module(packed, a, b)
            for j, m in enumerate(mods[:3]):
                add_expected("text_encoder_2", hf(i, m) + ".weight", base_g, a, b[j * width:(j + 1) * width],
                             te2_alpha / RANK)
            rest = mods[3:]
        else:
            rest = mods
        for m in rest:
            name = hf(i, m) + ".weight"
            out_dim, in_dim = base_g[name].shape
            a, b = factors(out_dim, in_dim)
            key = f"transformer_resblocks_{i}_{open_clip[m]}" if i == 0 else hf(i, m)
            te2_module(key.replace(".", "_"), a, b)
            add_expected("text_encoder_2", name, base_g, a, b, te2_alpha / RANK)
    meta = {"generator": f"tools/reference/models/lora_fixtures.py (torch {torch.__version__})"}
    save_file({k: v.contiguous() for k, v in lora.items()}, os.path.join(OUT, "te_kohya.safetensors"), metadata=meta)
    save_file(expected, os.path.join(OUT, "expected_te.safetensors"), metadata=meta)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    unet_fixtures()
    te_fixtures()
    total = 0
    for f in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, f))
        total += size
        print(f, size)
    print("total", total)


if __name__ == "__main__":
    sys.exit(main())
