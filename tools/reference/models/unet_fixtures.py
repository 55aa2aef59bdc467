"""SDXL-style UNet fixtures for the Swift `UNet` tests (Tests/DiffusionTests/UNetTests.swift).

Run:  /work/venv/bin/python tools/reference/models/unet_fixtures.py
Writes Tests/DiffusionTests/Fixtures/unet/{weights_diffusers,weights_ldm,io}.safetensors.

Reference: diffusers `UNet2DConditionModel` (huggingface/diffusers, src/diffusers/models/unets/unet_2d_condition.py)
in an SDXL configuration ("text_time" addition embedding, DownBlock2D then CrossAttnDownBlock2D, mid
UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D ... UpBlock2D, linear proj_in/out) at tiny sizes (`TINY`, which must
equal Swift's `UNetConfig.tiny`). Every parameter is re-initialised with seeded noise (norm affines 1 ± 0.1,
non-zero biases, conv_out included) and rounded to fp16, so the weight files can be stored as F16 while the
reference forward runs in float64 on exactly those values.

The LDM single-file names (`model.diffusion_model.input_blocks...`) are built here from the block schedule
(`ldm_name`) and cross-checked against diffusers' own LDM→diffusers converter (`convert_ldm_unet_checkpoint`).
`io.safetensors` holds the inputs, the output and grads of sum(out * dout) for a few tensors; its metadata holds
the config and a second config's name map (`altmap`, a DownBlock2D in the middle level, whose upsampler
sits at index 1) so the Swift key map is checked for a structure the weight fixture does not have.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from diffusers import UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT_DIR = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "unet")
LDM_PREFIX = "model.diffusion_model."

# Must match `UNetConfig.tiny` in Sources/Diffusion/UNet/UNetConfig.swift.
TINY = dict(
    block_out_channels=[16, 32, 32],
    attention=[False, True, True],
    transformer_depth=[0, 1, 2],
    heads=[0, 4, 4],          # head dim 8
    layers_per_block=2,
    cross_attention_dim=32,
    pooled_dim=32,
    addition_time_embed_dim=8,
    norm_num_groups=8,
    in_channels=4,
    out_channels=4,
)

# SDXL base (stabilityai/stable-diffusion-xl-base-1.0 unet/config.json).
SDXL = dict(
    block_out_channels=[320, 640, 1280],
    attention=[False, True, True],
    transformer_depth=[1, 2, 10],
    heads=[5, 10, 20],
    layers_per_block=2,
    cross_attention_dim=2048,
    pooled_dim=1280,
    addition_time_embed_dim=256,
    norm_num_groups=32,
    in_channels=4,
    out_channels=4,
)


def diffusers_unet(cfg):
    """UNet2DConditionModel for one of the dict configs above."""
    down = ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in cfg["attention"]]
    up = ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(cfg["attention"])]
    heads = [max(h, 1) for h in cfg["heads"]]
    depth = [max(d, 1) for d in cfg["transformer_depth"]]
    return UNet2DConditionModel(
        sample_size=32,
        in_channels=cfg["in_channels"],
        out_channels=cfg["out_channels"],
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        mid_block_type="UNetMidBlock2DCrossAttn",
        block_out_channels=tuple(cfg["block_out_channels"]),
        layers_per_block=cfg["layers_per_block"],
        transformer_layers_per_block=tuple(depth),
        attention_head_dim=tuple(heads),
        cross_attention_dim=cfg["cross_attention_dim"],
        norm_num_groups=cfg["norm_num_groups"],
        norm_eps=1e-5,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=cfg["addition_time_embed_dim"],
        projection_class_embeddings_input_dim=cfg["pooled_dim"] + 6 * cfg["addition_time_embed_dim"],
        upcast_attention=False,
    )


def ldm_name(name, cfg):
    """Diffusers UNet parameter name → LDM/SGM name (without the `model.diffusion_model.` prefix).

    Block schedule: input_blocks.0 = conv_in; level i resnet j = input_blocks.(i(n+1)+j+1).0 (attention .1),
    its downsampler input_blocks.((i+1)(n+1)).0.op; middle_block.0/1/2; up level i resnet j (0...n) =
    output_blocks.(i(n+1)+j).0 (attention .1), its upsampler in the last of them at index 2 when that
    output block has an attention, else 1.
    """
    n = cfg["layers_per_block"]
    levels = len(cfg["block_out_channels"])
    p = name.split(".")
    res = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}

    def resnet(rest):
        return ".".join([res[rest[0]]] + rest[1:])

    glob = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
            "time_embedding.linear_2": "time_embed.2", "add_embedding.linear_1": "label_emb.0.0",
            "add_embedding.linear_2": "label_emb.0.2", "conv_norm_out": "out.0", "conv_out": "out.2"}
    head = ".".join(p[:-1])
    if head in glob:
        return f"{glob[head]}.{p[-1]}"
    if p[0] == "down_blocks":
        i, kind = int(p[1]), p[2]
        if kind == "downsamplers":
            return f"input_blocks.{(i + 1) * (n + 1)}.0.op.{p[-1]}"
        j = int(p[3])
        blk = f"input_blocks.{i * (n + 1) + j + 1}"
        return f"{blk}.0.{resnet(p[4:])}" if kind == "resnets" else f"{blk}.1.{'.'.join(p[4:])}"
    if p[0] == "mid_block":
        kind, j = p[1], int(p[2])
        if kind == "resnets":
            return f"middle_block.{2 * j}.{resnet(p[3:])}"
        return f"middle_block.1.{'.'.join(p[3:])}"
    if p[0] == "up_blocks":
        i, kind = int(p[1]), p[2]
        has_attn = list(reversed(cfg["attention"]))[i]
        if kind == "upsamplers":
            return f"output_blocks.{i * (n + 1) + n}.{2 if has_attn else 1}.conv.{p[-1]}"
        j = int(p[3])
        blk = f"output_blocks.{i * (n + 1) + j}"
        return f"{blk}.0.{resnet(p[4:])}" if kind == "resnets" else f"{blk}.1.{'.'.join(p[4:])}"
    raise KeyError(name)


def ldm_state_dict(sd, cfg, check=True):
    """Renames a diffusers state dict to single-file names; optionally round-trips through diffusers' converter."""
    ldm = {LDM_PREFIX + ldm_name(k, cfg): v for k, v in sd.items()}
    assert len(ldm) == len(sd), "LDM name collision"
    if check:
        back = convert_ldm_unet_checkpoint(ldm, {"layers_per_block": cfg["layers_per_block"],
                                                 "addition_embed_type": "text_time"})
        assert set(back) == set(sd), (sorted(set(back) ^ set(sd)))[:10]
        for k in sd:
            assert back[k] is ldm[LDM_PREFIX + ldm_name(k, cfg)], k
    return ldm


def reinit_(model, seed, fp16_round=True):
    """Seeded small-noise re-init of every parameter (activations O(1); nothing trivially zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-2] if name.count(".") else name
            is_norm = "norm" in leaf and p.dim() == 1
            if is_norm and name.endswith("weight"):
                v = 1 + 0.1 * torch.randn(p.shape, generator=g)
            elif name.endswith("bias"):
                v = 0.05 * torch.randn(p.shape, generator=g)
            else:
                fan_in = p[0].numel()
                v = torch.randn(p.shape, generator=g) * (0.8 / fan_in ** 0.5)
            if fp16_round:
                v = v.half().float()
            p.copy_(v)


def make_inputs(cfg, batch, hw, tokens, seed):
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(batch, cfg["in_channels"], hw, hw, generator=g)
    context = torch.randn(batch, tokens, cfg["cross_attention_dim"], generator=g)
    pooled = torch.randn(batch, cfg["pooled_dim"], generator=g)
    timesteps = torch.tensor([999.0, 249.0][:batch])
    time_ids = torch.tensor([[1024.0, 1024.0, 0.0, 0.0, 1024.0, 1024.0],
                             [832.0, 1216.0, 16.0, 8.0, 1024.0, 1024.0]][:batch])
    return sample, timesteps, context, pooled, time_ids


def forward(model, sample, timesteps, context, pooled, time_ids):
    return model(sample, timesteps, encoder_hidden_states=context,
                 added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample


def config_json(cfg):
    return json.dumps(cfg)


def main():
    torch.manual_seed(0)
    cfg = TINY
    model = diffusers_unet(cfg)
    reinit_(model, seed=1)
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    ldm = ldm_state_dict(sd, cfg)

    sample, timesteps, context, pooled, time_ids = make_inputs(cfg, batch=2, hw=16, tokens=7, seed=2)
    m64 = model.double()
    x64 = sample.double().requires_grad_(True)
    c64 = context.double().requires_grad_(True)
    p64 = pooled.double().requires_grad_(True)
    out = forward(m64, x64, timesteps.double(), c64, p64, time_ids.double())
    dout = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (out * dout).sum().backward()
    params = dict(m64.named_parameters())
    grad_params = ["conv_in.weight", "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                   "mid_block.resnets.0.time_emb_proj.weight", "add_embedding.linear_1.weight",
                   "up_blocks.0.attentions.2.proj_out.bias", "conv_out.weight"]

    f32 = lambda t: t.detach().to(torch.float32).contiguous()
    io = {
        "in.sample": f32(sample), "in.timesteps": f32(timesteps), "in.context": f32(context),
        "in.text_embeds": f32(pooled), "in.time_ids": f32(time_ids),
        "out": f32(out), "dout": f32(dout),
        "grad.sample": f32(x64.grad), "grad.context": f32(c64.grad), "grad.text_embeds": f32(p64.grad),
    }
    for k in grad_params:
        io[f"grad.param.{k}"] = f32(params[k].grad)

    # A second structure for the key map only: the middle level without attention.
    alt = dict(cfg, attention=[False, False, True], transformer_depth=[0, 0, 1])
    alt_names = list(diffusers_unet(alt).state_dict().keys())
    ldm_state_dict({k: torch.zeros(1) for k in alt_names}, alt, check=True)
    altmap = {k: ldm_name(k, alt) for k in alt_names}

    n_params = sum(p.numel() for p in model.parameters())
    meta = {
        "generator": f"tools/reference/models/unet_fixtures.py (torch {torch.__version__}, diffusers)",
        "config": config_json(cfg), "parameters": str(n_params),
        "altconfig": config_json(alt), "altmap": json.dumps(altmap),
        "sdxl_parameters": str(diffusers_unet_param_count(SDXL)),
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    half = lambda d: {k: v.to(torch.float16).contiguous() for k, v in d.items()}
    save_file(half(sd), os.path.join(OUT_DIR, "weights_diffusers.safetensors"), metadata=meta)
    save_file(half(ldm), os.path.join(OUT_DIR, "weights_ldm.safetensors"), metadata=meta)
    save_file(io, os.path.join(OUT_DIR, "io.safetensors"), metadata=meta)
    for f in sorted(os.listdir(OUT_DIR)):
        print(f, os.path.getsize(os.path.join(OUT_DIR, f)))
    print("parameters", n_params, "out std", out.std().item(), "out max", out.abs().max().item())


def diffusers_unet_param_count(cfg):
    """Parameter count diffusers reports (`num_parameters()`), built on the meta device (no memory)."""
    with torch.device("meta"):
        m = diffusers_unet(cfg)
    return m.num_parameters()


if __name__ == "__main__":
    sys.exit(main())
