"""Key/shape lists of the real SDXL components (no weights) and small PEFT LoRA files, for layout detection tests.

Run:  /work/venv/bin/python tools/reference/models/layout_fixtures.py
Writes Tests/DiffusionTests/Fixtures/layout/:
  sdxl_keys.json       {"diffusers": {component: [[name, shape], ...]}, "single_file": [[name, shape], ...],
                        "params": {...}}  — every SDXL module built on the meta device (no memory, no weights), in
                        diffusers/HF naming (unet, vae, text_encoder, text_encoder_2) and converted to single-file
                        (LDM/SGM) naming with the rules of docs §1a/§1c, written independently here.
  peft_unet.safetensors      get_peft_model_state_dict of a tiny SDXL-shaped UNet (bare diffusers paths, lora_A/lora_B)
  peft_pipeline.safetensors  StableDiffusionXLPipeline.save_lora_weights output (unet./text_encoder./text_encoder_2. prefixes)
  peft_expected.json   what each PEFT file contains (rank, alpha, module counts), read back by the Swift tests.

Parameter counts are summed here from the modules' own parameters, so the Swift tests compare against the reference,
not against a number typed by hand.
"""
import json
import os
import re
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "layout")

# stabilityai/stable-diffusion-xl-base-1.0 unet/config.json (the fields that shape parameters).
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=[320, 640, 1280], transformer_layers_per_block=[1, 2, 10],
    attention_head_dim=[5, 10, 20], cross_attention_dim=2048,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816, use_linear_projection=True,
    norm_num_groups=32, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0,
)
# stabilityai/stable-diffusion-xl-base-1.0 vae/config.json.
SDXL_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32,
    block_out_channels=[128, 256, 512, 512], sample_size=1024, scaling_factor=0.13025,
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
)


def empty(build):
    """Builds a module without allocating weights."""
    try:
        from accelerate import init_empty_weights
        with init_empty_weights():
            return build()
    except ImportError:
        with torch.device("meta"):
            return build()


def keys(module):
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def nparams(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------- diffusers → LDM (single-file) name conversion

RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
          "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
UNET_GLOBALS = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
                "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
                "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}


def resnet_tail(tail):
    head, rest = tail.split(".", 1)
    return RESNET[head] + "." + rest


def unet_to_ldm(name, up_has_attn):
    """One diffusers UNet key → LDM key (SDXL: 2 res blocks per level, 3 levels)."""
    for d, l in UNET_GLOBALS.items():
        if name.startswith(d + "."):
            return l + name[len(d):]
    m = re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", name)
    if m:
        i, kind, j, tail = int(m[1]), m[2], int(m[3]), m[4]
        n = 3 * i + j + 1
        return f"input_blocks.{n}.0.{resnet_tail(tail)}" if kind == "resnets" else f"input_blocks.{n}.1.{tail}"
    m = re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", name)
    if m:
        return f"input_blocks.{3 * (int(m[1]) + 1)}.0.op.{m[2]}"
    m = re.match(r"mid_block\.resnets\.(\d+)\.(.*)", name)
    if m:
        return f"middle_block.{2 * int(m[1])}.{resnet_tail(m[2])}"
    m = re.match(r"mid_block\.attentions\.0\.(.*)", name)
    if m:
        return f"middle_block.1.{m[1]}"
    m = re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", name)
    if m:
        i, kind, j, tail = int(m[1]), m[2], int(m[3]), m[4]
        n = 3 * i + j
        return f"output_blocks.{n}.0.{resnet_tail(tail)}" if kind == "resnets" else f"output_blocks.{n}.1.{tail}"
    m = re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", name)
    if m:
        i = int(m[1])
        idx = 2 if up_has_attn[i] else 1
        return f"output_blocks.{3 * i + 2}.{idx}.conv.{m[2]}"
    raise ValueError(f"unmapped UNet key {name}")


VAE_RES = {"conv_shortcut": "nin_shortcut"}
VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def vae_to_ldm(name, shape, n_up):
    """One diffusers AutoencoderKL key → LDM key and shape (mid attention Linear → 1×1 conv)."""
    if name.startswith(("quant_conv.", "post_quant_conv.")):
        return name, shape
    part, rest = name.split(".", 1)
    for d, l in {"conv_norm_out": "norm_out", "conv_in": "conv_in", "conv_out": "conv_out"}.items():
        if rest.startswith(d + "."):
            return f"{part}.{l}{rest[len(d):]}", shape
    m = re.match(r"(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(.*)", rest)
    if m:
        i = int(m[2]) if m[1] == "down" else n_up - 1 - int(m[2])
        return f"{part}.{m[1]}.{i}.block.{m[3]}.{VAE_RES.get(m[4], m[4])}.{m[5]}", shape
    m = re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", rest)
    if m:
        return f"{part}.down.{m[1]}.downsample.conv.{m[2]}", shape
    m = re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", rest)
    if m:
        return f"{part}.up.{n_up - 1 - int(m[1])}.upsample.conv.{m[2]}", shape
    m = re.match(r"mid_block\.resnets\.(\d+)\.(\w+)\.(.*)", rest)
    if m:
        return f"{part}.mid.block_{int(m[1]) + 1}.{VAE_RES.get(m[2], m[2])}.{m[3]}", shape
    m = re.match(r"mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)", rest)
    if m:
        if m[1] != "group_norm" and m[2] == "weight":
            shape = shape + [1, 1]
        return f"{part}.mid.attn_1.{VAE_ATTN[m[1]]}.{m[2]}", shape
    raise ValueError(f"unmapped VAE key {name}")


def clip_g_to_openclip(entries):
    """HF CLIPTextModelWithProjection (bigG) keys → open_clip keys: packed in_proj, transposed text_projection."""
    ren = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
           "self_attn.out_proj": "attn.out_proj"}
    out, packed = [], {}
    for name, shape in entries:
        if name == "text_model.embeddings.token_embedding.weight":
            out.append(["token_embedding.weight", shape])
        elif name == "text_model.embeddings.position_embedding.weight":
            out.append(["positional_embedding", shape])
        elif name.startswith("text_model.final_layer_norm."):
            out.append(["ln_final." + name.rsplit(".", 1)[1], shape])
        elif name == "text_projection.weight":
            out.append(["text_projection", [shape[1], shape[0]]])
        else:
            m = re.match(r"text_model\.encoder\.layers\.(\d+)\.(.*)\.(weight|bias)$", name)
            assert m, name
            layer, mod, kind = m[1], m[2], m[3]
            if mod in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                key = f"transformer.resblocks.{layer}.attn.in_proj_{kind}"
                if key not in packed:
                    packed[key] = [0] + shape[1:]
                    out.append([key, packed[key]])
                packed[key][0] += shape[0]
            else:
                out.append([f"transformer.resblocks.{layer}.{ren[mod]}.{kind}", shape])
    out.append(["logit_scale", []])
    return out


# ---------------------------------------------------------------- the real-shaped SDXL lists

def sdxl_lists():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet = empty(lambda: UNet2DConditionModel(**SDXL_UNET))
    vae = empty(lambda: AutoencoderKL(**SDXL_VAE))
    cl = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                        num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                        projection_dim=768)
    cg = CLIPTextConfig(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                        num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu",
                        projection_dim=1280)
    te1 = empty(lambda: CLIPTextModel(cl))
    te2 = empty(lambda: CLIPTextModelWithProjection(cg))

    diff = {"unet": keys(unet), "vae": keys(vae), "text_encoder": keys(te1), "text_encoder_2": keys(te2)}
    up_has_attn = ["CrossAttn" in t for t in SDXL_UNET["up_block_types"]]
    n_up = len(SDXL_VAE["up_block_types"])
    single = []
    single += [["model.diffusion_model." + unet_to_ldm(n, up_has_attn), s] for n, s in diff["unet"]]
    single += [["conditioner.embedders.0.transformer." + n, s] for n, s in diff["text_encoder"]]
    single += [["conditioner.embedders.1.model." + n, s] for n, s in clip_g_to_openclip(diff["text_encoder_2"])]
    for n, s in diff["vae"]:
        ln, ls = vae_to_ldm(n, s, n_up)
        single.append(["first_stage_model." + ln, ls])
    names = [n for n, _ in single]
    assert len(set(names)) == len(names), "duplicate single-file names"

    def numel(s):
        p = 1
        for d in s:
            p *= d
        return p

    params = {
        "unet": nparams(unet), "vae": nparams(vae), "text_encoder": nparams(te1), "text_encoder_2": nparams(te2),
        "unet_keys": len(diff["unet"]), "vae_keys": len(diff["vae"]),
        "text_encoder_keys": len(diff["text_encoder"]), "text_encoder_2_keys": len(diff["text_encoder_2"]),
        # Single-file totals per prefix (bigG gains logit_scale; the sums must match the diffusers ones otherwise).
        "single_file": {p: sum(numel(s) for n, s in single if n.startswith(p)) for p in
                        ["model.diffusion_model.", "conditioner.embedders.0.transformer.",
                         "conditioner.embedders.1.model.", "first_stage_model."]},
        "single_file_keys": len(single),
    }
    assert params["single_file"]["model.diffusion_model."] == params["unet"]
    assert params["single_file"]["conditioner.embedders.1.model."] == params["text_encoder_2"] + 1
    return {"diffusers": diff, "single_file": single, "params": params}


# ---------------------------------------------------------------- PEFT LoRA files (tiny SDXL-shaped modules)

def peft_files():
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from peft import LoraConfig, get_peft_model_state_dict
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=[8, 16],
        transformer_layers_per_block=[1, 1], attention_head_dim=[2, 2], cross_attention_dim=16,
        down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"], up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
        addition_embed_type="text_time", addition_time_embed_dim=4, projection_class_embeddings_input_dim=32,
        use_linear_projection=True, norm_num_groups=4)
    unet_targets = ["to_q", "to_k", "to_v", "to_out.0"]
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=unet_targets))
    unet_sd = get_peft_model_state_dict(unet)

    tc = dict(vocab_size=100, max_position_embeddings=8, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=16)
    te1 = CLIPTextModel(CLIPTextConfig(hidden_size=8, **tc))
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=8, projection_dim=8, **tc))
    te_targets = ["q_proj", "k_proj", "v_proj", "out_proj"]
    te1.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights="gaussian", target_modules=te_targets))
    te2.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights="gaussian", target_modules=te_targets))

    os.makedirs(OUT, exist_ok=True)
    from safetensors.torch import save_file
    bare = {k: v.detach().to(torch.float16).contiguous() for k, v in unet_sd.items()}
    save_file(bare, os.path.join(OUT, "peft_unet.safetensors"))
    with tempfile.TemporaryDirectory() as d:
        StableDiffusionXLPipeline.save_lora_weights(
            d, unet_lora_layers=unet_sd, text_encoder_lora_layers=get_peft_model_state_dict(te1),
            text_encoder_2_lora_layers=get_peft_model_state_dict(te2), safe_serialization=True)
        from safetensors.torch import load_file
        sd = load_file(os.path.join(d, "pytorch_lora_weights.safetensors"))
    save_file({k: v.to(torch.float16).contiguous() for k, v in sd.items()},
              os.path.join(OUT, "peft_pipeline.safetensors"))
    n_unet = sum(1 for k in unet_sd if k.endswith("lora_A.weight"))
    n_te = sum(1 for k in sd if k.startswith("text_encoder.") and k.endswith("lora_A.weight"))
    n_te2 = sum(1 for k in sd if k.startswith("text_encoder_2.") and k.endswith("lora_A.weight"))
    return {
        "peft_unet": {"modules": n_unet, "rank": 4, "targets": ["to_k", "to_out.0", "to_q", "to_v"],
                      "first_key": sorted(unet_sd)[0]},
        "peft_pipeline": {"modules": n_unet + n_te + n_te2, "unet_modules": n_unet, "te1_modules": n_te,
                          "te2_modules": n_te2, "ranks": [2, 4], "first_key": sorted(sd)[0]},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    lists = sdxl_lists()
    lists["generator"] = f"tools/reference/models/layout_fixtures.py (torch {torch.__version__})"
    path = os.path.join(OUT, "sdxl_keys.json")
    with open(path, "w") as f:
        json.dump(lists, f, separators=(",", ":"))
    print(f"wrote {path}: params {json.dumps(lists['params'])}")
    if "--no-peft" not in sys.argv:
        info = peft_files()
        with open(os.path.join(OUT, "peft_expected.json"), "w") as f:
            json.dump(info, f, indent=1)
        print(f"wrote PEFT files: {json.dumps(info)}")


if __name__ == "__main__":
    main()
