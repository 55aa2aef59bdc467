#!/usr/bin/env python3
"""Does a text-to-image model use its caption? A diagnostic for the embedded emoji model (models/sumi-emoji).

    /work/venv/bin/python tools/data/conditioning_check.py --model models/sumi-emoji --shard DATA/emoji-001.tar

Loads the diffusers folder with diffusers/transformers, VAE-encodes `--count` images of one shard, noises them at
several timesteps (SDXL's scaled-linear schedule, one fixed noise draw) and prints the UNet's x0-prediction MSE
(latent space) with the right prompt (the emoji's name), a wrong one (the next image's name) and the empty one.
A model that ignores its conditioning shows three equal columns; one that memorised its data shows `right` far
below the others at high noise, which is where the caption decides which image is drawn.
"""
import argparse
import io
import os
import sys
import tarfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from tokenizer_fixtures import hf_tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--shard", required=True)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--timesteps", default="300,600,800,950")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection
    tok = hf_tokenizer()
    unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet").float().eval()
    vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae").float().eval()
    te1 = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder").float().eval()
    te2 = CLIPTextModelWithProjection.from_pretrained(args.model, subfolder="text_encoder_2").float().eval()

    samples = {}
    with tarfile.open(args.shard) as tf:
        for m in tf.getmembers():
            key, ext = m.name.split(".", 1)
            samples.setdefault(key, {})[ext] = tf.extractfile(m).read()
    keys = sorted(samples)
    keys = keys[:: max(1, len(keys) // args.count)][: args.count]
    pixels = torch.stack([
        torch.from_numpy(np.asarray(Image.open(io.BytesIO(samples[k]["png"])).convert("RGB")).astype(np.float32) / 127.5 - 1)
        .permute(2, 0, 1) for k in keys])
    names = [samples[k]["txt"].decode().split(",")[0].strip() for k in keys]

    def encode(prompts):
        ids = tok(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        o1, o2 = te1(ids, output_hidden_states=True), te2(ids, output_hidden_states=True)
        return torch.cat([o1.hidden_states[-2], o2.hidden_states[-2]], -1), o2.text_embeds

    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2
    abar = torch.cumprod(1 - betas, 0)
    with torch.no_grad():
        latents = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
        conds = {"right": encode(names), "wrong": encode(names[1:] + names[:1]), "empty": encode([""] * len(names))}
        size = pixels.shape[-1]
        time_ids = torch.tensor([[size, size, 0, 0, size, size]] * len(names), dtype=torch.float32)
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
        print(f"{args.model}: x0-prediction MSE over {len(names)} images of {os.path.basename(args.shard)}")
        for t in [int(x) for x in args.timesteps.split(",")]:
            xt = abar[t].sqrt() * latents + (1 - abar[t]).sqrt() * noise
            cols = []
            for name, (ctx, pooled) in conds.items():
                eps = unet(xt, t, encoder_hidden_states=ctx, added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
                x0 = (xt - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()
                cols.append(f"{name} {float(((x0 - latents) ** 2).mean()):.3f}")
            print(f"  t={t:4d}  " + "  ".join(cols))


if __name__ == "__main__":
    sys.exit(main())
