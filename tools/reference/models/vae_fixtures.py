"""Fixtures for the SDXL VAE (diffusers `AutoencoderKL`) at a tiny size.

Run from the repository root:
    /work/venv/bin/python tools/reference/models/vae_fixtures.py
Writes Tests/DiffusionTests/Fixtures/vae/{weights_diffusers, weights_ldm, weights_legacy, io}.safetensors:
- weights_diffusers: the tiny model's state dict in diffusers naming.
- weights_ldm: the same tensors in single-file LDM naming under `first_stage_model.` (mid-attention q/k/v/proj_out
  as 1×1 convs [C, C, 1, 1]); the name map below is written independently of the Swift one.
- weights_legacy: diffusers naming with the pre-0.14 attention names (query/key/value/proj_attn).
- io: encode of a random image [1, 3, 32, 40] (`encode.mean`, `encode.logvar`, the posterior after diffusers'
  logvar clamp) and decode of a random VAE-space latent [1, 4, 6, 5] (`decode.out`), with the gradients
  of sum(out · dout) w.r.t. the inputs. Computed in float64, stored as float32.
"""
import json
import os

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "vae")

# Must match `VAEConfig.tiny` in Sources/Diffusion/VAE/VAEConfig.swift.
CHANNELS = [8, 16, 16]
LAYERS = 1
GROUPS = 4


def make_model():
    torch.manual_seed(0)
    n = len(CHANNELS)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * n, up_block_types=["UpDecoderBlock2D"] * n,
        block_out_channels=CHANNELS, layers_per_block=LAYERS, norm_num_groups=GROUPS,
        act_fn="silu", sample_size=32, scaling_factor=0.13025,
    )
    # Re-initialise everything so every parameter matters: weights ~ N(0, 1/fan_in), non-zero biases, norm
    # affines away from (1, 0).
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return vae.double().eval()


def ldm_name(name):
    """diffusers AutoencoderKL key → LDM (`first_stage_model.`-less) key."""
    n = len(CHANNELS)
    parts = name.split(".")
    rename = {"conv_shortcut": "nin_shortcut", "conv_norm_out": "norm_out"}
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}
    out = []
    i = 0
    while i < len(parts):
        p = parts[i]
        if p == "down_blocks":
            out += ["down", parts[i + 1]]; i += 2
        elif p == "up_blocks":
            out += ["up", str(n - 1 - int(parts[i + 1]))]; i += 2
        elif p == "resnets":
            out += ["block", parts[i + 1]]; i += 2
        elif p == "downsamplers":
            out += ["downsample"]; i += 2   # drop the ".0"
        elif p == "upsamplers":
            out += ["upsample"]; i += 2
        elif p == "mid_block":
            if parts[i + 1] == "resnets":
                out += ["mid", "block_%d" % (int(parts[i + 2]) + 1)]; i += 3
            else:  # attentions.0
                out += ["mid", "attn_1"]; i += 3
                sub = parts[i]
                out.append(attn[sub])
                i += 2 if sub == "to_out" else 1   # to_out.0 → proj_out
        else:
            out.append(rename.get(p, p)); i += 1
    return ".".join(out)


LEGACY = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def legacy_name(name):
    for new, old in LEGACY.items():
        name = name.replace(f"attentions.0.{new}.", f"attentions.0.{old}.")
    return name


def main():
    os.makedirs(OUT, exist_ok=True)
    vae = make_model()
    sd = {k: v.detach().to(torch.float32).contiguous() for k, v in vae.state_dict().items()}
    meta = {"generator": f"tools/reference/models/vae_fixtures.py (torch {torch.__version__})",
            "config": json.dumps({"block_out_channels": CHANNELS, "layers_per_block": LAYERS, "norm_num_groups": GROUPS})}
    save_file(sd, os.path.join(OUT, "weights_diffusers.safetensors"), metadata=meta)

    ldm = {}
    for k, v in sd.items():
        lk = "first_stage_model." + ldm_name(k)
        if ".mid.attn_1." in lk and lk.endswith("weight") and v.ndim == 2:
            v = v[:, :, None, None].contiguous()
        assert lk not in ldm, lk
        ldm[lk] = v
    save_file(ldm, os.path.join(OUT, "weights_ldm.safetensors"), metadata=meta)
    save_file({legacy_name(k): v for k, v in sd.items()}, os.path.join(OUT, "weights_legacy.safetensors"), metadata=meta)

    g = torch.Generator().manual_seed(2)
    image = (torch.rand(1, 3, 32, 40, generator=g) * 2 - 1).double().requires_grad_(True)
    z = torch.randn(1, 4, 6, 5, generator=g).double().requires_grad_(True)

    post = vae.encode(image).latent_dist
    mean, logvar = post.mean, post.logvar
    d_mean = torch.randn(mean.shape, generator=g).double()
    d_logvar = torch.randn(logvar.shape, generator=g).double()
    ((mean * d_mean).sum() + (logvar * d_logvar).sum()).backward()

    out = vae.decode(z).sample
    d_out = torch.randn(out.shape, generator=g).double()
    (out * d_out).sum().backward()

    f32 = lambda t: t.detach().to(torch.float32).contiguous()
    io = {
        "encode.in.image": f32(image), "encode.mean": f32(mean), "encode.logvar": f32(logvar),
        "encode.dout.mean": f32(d_mean), "encode.dout.logvar": f32(d_logvar), "encode.grad.image": f32(image.grad),
        "decode.in.z": f32(z), "decode.out": f32(out), "decode.dout": f32(d_out), "decode.grad.z": f32(z.grad),
    }
    save_file(io, os.path.join(OUT, "io.safetensors"), metadata=meta)
    for k, v in io.items():
        print(f"{k:22s} {list(v.shape)} std {v.std():.3f}")
    print(f"{len(sd)} parameters tensors, {sum(v.numel() for v in sd.values())} values; wrote {OUT}")


if __name__ == "__main__":
    main()
