"""Fixtures for the SDXL text conditioning and generation pipeline (Tests/DiffusionTests/{Conditioning,Pipeline}Tests.swift).

Run from the repository root:
    /work/venv/bin/python tools/reference/models/pipeline_fixtures.py
Writes Tests/DiffusionTests/Fixtures/pipeline/:
  tiny_sdxl.safetensors      a TINY SDXL-architecture pipeline as a single-file checkpoint (LDM/SGM names: UNet under
                             `model.diffusion_model.`, CLIP-L under `conditioner.embedders.0.transformer.` in HF names,
                             bigG under `conditioner.embedders.1.model.` in open_clip names, VAE under `first_stage_model.`),
                             stored F16 (every weight is rounded to fp16 first, so F16 storage is exact)
  diffusers/                 the same weights as a diffusers folder (model_index.json, unet/, vae/, text_encoder/,
                             text_encoder_2/ with config.json and F32 safetensors; no tokenizer/, tests use models/tokenizer)
  conditioning.safetensors   token ids and conditioning (context, pooled) for four prompts
  generations.safetensors    three generations: initial noise, final model-space latent, decoded image (+ img2img input)

Components (random weights, seeded): CLIP-L = clip_fixtures' tiny L (width 32, vocab 1000, quick_gelu), bigG = the tiny G
(width 40, projection 24), UNet = an SDXL-structured diffusers UNet2DConditionModel with 8/16/16 channels, context
32 + 40 = 72 and pooled width 24 (Swift `SDXLModelConfig.tiny`), VAE = vae_fixtures' tiny AutoencoderKL (×4).

Token ids come from the real CLIP tokenizer (transformers `CLIPTokenizer` built from models/tokenizer/clip-merges.txt,
vocab in CLIP's order) with ComfyUI's weighted chunking (`comfy/sd1_clip.py` `token_weights` /
`SDTokenizer.tokenize_with_weights`, re-stated below). Because the tiny encoders have a 1000-id vocabulary, ids are
FOLDED in both implementations: BOS 49406 → 998, EOS 49407 → 999, any other id → id mod 998 (so the pad 0 stays 0).

Reference semantics (ComfyUI, restated): both encoders give the penultimate hidden state (no final norm); with any
weight ≠ 1 an empty prompt window (BOS, EOS, pads) is encoded too and every token with weight w becomes
empty + (z − empty)·w; context = concat(L, G) on channels, chunks concatenated on tokens; pooled = bigG's projected
pooled vector of the FIRST chunk at its first EOS (weights ignored). Sampling in σ-space: ε model input x/√(σ²+1),
integer timestep = argmin |log σ − log σ_t|, D = x − σ·ε, CFG D = D_u + (D_c − D_u)·cfg (uncond skipped at cfg 1),
start = noise·√(1+σ₀²) (txt2img) or latent + noise·σ₀ (img2img, KSampler denoise: schedule for ⌊steps/denoise⌋ steps,
last steps+1 σ kept), noise = torch.manual_seed(seed); randn([B,4,h,w]) (float32), lcm step noise from a fresh
generator with the same seed. Size ids (H, W, 0, 0, H, W) in pixels. Decode: vae.decode(latent / 0.13025).
Models and the sampler run in float64 (noise and σ tables are float32 as in ComfyUI), results stored as float32.
"""
import json
import math
import os
import shutil
import sys
import tempfile

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
from transformers.models.clip.tokenization_clip import bytes_to_unicode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from clip_fixtures import config as clip_config, hf_to_open_clip, reinit as clip_reinit  # noqa: E402
from unet_fixtures import diffusers_unet, ldm_state_dict, reinit_ as unet_reinit  # noqa: E402
from vae_fixtures import ldm_name as vae_ldm_name  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "pipeline")
MERGES = os.path.join(REPO, "models", "tokenizer", "clip-merges.txt")

BOS, EOS = 49406, 49407
TINY_BOS, TINY_EOS, TINY_VOCAB = 998, 999, 1000
SCALE = 0.13025

# Must equal Swift `SDXLModelConfig.tiny.unet`.
UNET = dict(block_out_channels=[8, 16, 16], attention=[False, True, True], transformer_depth=[0, 1, 1],
            heads=[0, 2, 2], layers_per_block=2, cross_attention_dim=72, pooled_dim=24,
            addition_time_embed_dim=8, norm_num_groups=4, in_channels=4, out_channels=4)
VAE_CHANNELS, VAE_LAYERS, VAE_GROUPS = [8, 16, 16], 1, 4

PROMPTS = {
    "plain": "a red fox in the snow",
    "weighted": "a (red:1.3) fox in the (snow), highly detailed",
    "empty": "",
    "long": "masterpiece, best quality, " + "(blue sky:0.8), green grass, tall trees, " * 12 + "a small house",
}

CASES = [
    dict(name="lcm", prompt=PROMPTS["weighted"], negative="", sampler="lcm", scheduler="simple", steps=4, cfg=1.0,
         seed=42, width=48, height=32, batch=1, denoise=1.0),
    dict(name="euler_cfg", prompt=PROMPTS["plain"], negative="blurry, (low quality:1.2)", sampler="euler",
         scheduler="karras", steps=5, cfg=3.0, seed=7, width=48, height=32, batch=2, denoise=1.0),
    dict(name="img2img", prompt=PROMPTS["plain"], negative="", sampler="euler", scheduler="simple", steps=3, cfg=2.0,
         seed=3, width=48, height=32, batch=1, denoise=0.6),
]


# ------------------------------------------------------------------------------------------------ tokenizer

def make_tokenizer(tmp):
    """transformers CLIPTokenizer over our merges file; the vocab is CLIP's order (bytes, bytes</w>, merges, specials)."""
    with open(MERGES, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l]
    merges = lines[1:] if lines[0].startswith("#") else lines
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split(" ")) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408, len(vocab)
    with open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f)
    shutil.copy(MERGES, os.path.join(tmp, "merges.txt"))
    tok = CLIPTokenizer(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"))
    assert tok("a photo")["input_ids"][0] == BOS and tok("a photo")["input_ids"][-1] == EOS
    return tok


def parse_parentheses(s):
    """ComfyUI's top-level split into balanced ( … ) groups and plain text."""
    out, cur, depth = [], "", 0
    for ch in s:
        if ch == "(":
            if depth == 0:
                if cur:
                    out.append(cur)
                cur = "("
            else:
                cur += ch
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(cur + ")")
                cur = ""
            else:
                cur += ch
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def token_weights(s, weight):
    """ComfyUI's weighted segments: ( … ) multiplies by 1.1, (x:w) sets w."""
    out = []
    for x in parse_parentheses(s):
        if len(x) >= 2 and x[0] == "(" and x[-1] == ")":
            inner, w = x[1:-1], weight * 1.1
            colon = inner.rfind(":")
            if colon > 0:
                try:
                    w = float(inner[colon + 1:])
                    inner = inner[:colon]
                except ValueError:
                    pass
            out += token_weights(inner, w)
        else:
            out.append((x, weight))
    return out


def comfy_windows(tok, text, pad):
    """ComfyUI chunking: each segment's tokens form a group; groups ≥ 8 tokens may split, shorter ones move whole."""
    groups = []
    for seg, w in token_weights(text, 1.0):
        ids = tok(seg)["input_ids"][1:-1]
        if ids:
            groups.append([(t, w) for t in ids])
    batch = [(BOS, 1.0)]
    batches = [batch]
    for g in groups:
        large = len(g) >= 8
        while g:
            if len(g) + len(batch) > 76:
                room = 77 - len(batch) - 1
                if large:
                    batch.extend(g[:room])
                    batch.append((EOS, 1.0))
                    g = g[room:]
                else:
                    batch.append((EOS, 1.0))
                    batch.extend([(pad, 1.0)] * room)
                batch = [(BOS, 1.0)]
                batches.append(batch)
            else:
                batch.extend(g)
                g = []
    batch.append((EOS, 1.0))
    batch.extend([(pad, 1.0)] * (77 - len(batch)))
    ids = torch.tensor([[t for t, _ in b] for b in batches], dtype=torch.int64)
    weights = torch.tensor([[w for _, w in b] for b in batches], dtype=torch.float64)
    return ids, weights


def fold(ids):
    """Real CLIP ids → the tiny encoders' 1000-id vocabulary (see the module docstring)."""
    out = ids % (TINY_VOCAB - 2)
    out[ids == BOS] = TINY_BOS
    out[ids == EOS] = TINY_EOS
    return out


# ------------------------------------------------------------------------------------------------ models

def round16_(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def build_models():
    torch.manual_seed(0)
    clip_l = CLIPTextModel(clip_config(32, 3, 4, 64, "quick_gelu")).eval()
    clip_reinit(clip_l, 11)
    clip_g = CLIPTextModelWithProjection(clip_config(40, 3, 5, 80, "gelu")).eval()
    clip_reinit(clip_g, 12)
    unet = diffusers_unet(UNET).eval()
    unet_reinit(unet, seed=13)
    n = len(VAE_CHANNELS)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * n, up_block_types=["UpDecoderBlock2D"] * n,
                        block_out_channels=VAE_CHANNELS, layers_per_block=VAE_LAYERS, norm_num_groups=VAE_GROUPS,
                        act_fn="silu", sample_size=32, scaling_factor=SCALE).eval()
    g = torch.Generator().manual_seed(14)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    for m in (clip_l, clip_g, unet, vae):
        round16_(m)
    return clip_l, clip_g, unet, vae


def state(m):
    return {k: v.detach().to(torch.float32).contiguous() for k, v in m.state_dict().items()}


def single_file(clip_l, clip_g, unet, vae):
    sd = {f"conditioner.embedders.0.transformer.{k}": v for k, v in state(clip_l).items()
          if not k.endswith("position_ids")}
    sd.update({f"conditioner.embedders.1.model.{k}": v for k, v in hf_to_open_clip(state(clip_g), 3).items()})
    sd.update(ldm_state_dict(state(unet), UNET))
    for k, v in state(vae).items():
        lk = "first_stage_model." + vae_ldm_name(k)
        if ".mid.attn_1." in lk and lk.endswith("weight") and v.ndim == 2:
            v = v[:, :, None, None].contiguous()
        sd[lk] = v
    sd["denoiser.sigmas"] = torch.zeros(4)   # present in real files, belongs to no component: loaders must ignore it
    return {k: v.to(torch.float16).contiguous() for k, v in sd.items()}


def write_diffusers(folder, clip_l, clip_g, unet, vae):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    parts = {"unet": (unet, "diffusion_pytorch_model.safetensors"), "vae": (vae, "diffusion_pytorch_model.safetensors"),
             "text_encoder": (clip_l, "model.safetensors"), "text_encoder_2": (clip_g, "model.safetensors")}
    for sub, (m, fname) in parts.items():
        os.makedirs(os.path.join(folder, sub))
        save_file(state(m), os.path.join(folder, sub, fname))
        cfg = m.config.to_dict() if hasattr(m.config, "to_dict") else dict(m.config)
        with open(os.path.join(folder, sub, "config.json"), "w") as f:
            json.dump({k: v for k, v in cfg.items() if isinstance(v, (int, float, str, bool, list, tuple, type(None)))}, f,
                      indent=1, sort_keys=True)
    index = {"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.35.2",
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
             "text_encoder": ["transformers", "CLIPTextModel"],
             "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
             "tokenizer": [None, None], "tokenizer_2": [None, None], "scheduler": [None, None]}
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)


# ------------------------------------------------------------------------------------------------ conditioning

def run_clip(model, ids):
    torch.set_default_dtype(torch.float64)   # transformers builds its causal mask in the default dtype
    try:
        with torch.no_grad():
            return model(input_ids=ids, output_hidden_states=True)
    finally:
        torch.set_default_dtype(torch.float32)


def encode_one(model, ids, weights, pad):
    """(hidden [1, 77k, D] with ComfyUI weighting, pooled of chunk 0 or None) for one encoder."""
    has_weights = bool((weights != 1).any())
    batch = ids
    if has_weights:
        empty = torch.full((1, 77), pad, dtype=torch.int64)
        empty[0, 0], empty[0, 1] = TINY_BOS, TINY_EOS
        batch = torch.cat([ids, empty])
    out = run_clip(model, batch)
    z = out.hidden_states[-2]
    chunks = []
    for k in range(ids.shape[0]):
        zk = z[k].clone()
        if has_weights:
            e = z[-1]
            w = weights[k][:, None]
            zk = torch.where(w != 1, (zk - e) * w + e, zk)
        chunks.append(zk)
    pooled = out.text_embeds[0:1] if hasattr(out, "text_embeds") else None
    return torch.cat(chunks)[None], pooled


def encode(tok, clip_l, clip_g, text):
    ids_l, w = comfy_windows(tok, text, pad=EOS)
    ids_g, w_g = comfy_windows(tok, text, pad=0)
    assert torch.equal(w, w_g)
    zl, _ = encode_one(clip_l, fold(ids_l), w, pad=TINY_EOS)
    zg, pooled = encode_one(clip_g, fold(ids_g), w, pad=0)
    n = min(zl.shape[1], zg.shape[1])
    return dict(ids_l=ids_l, ids_g=ids_g, weights=w, context=torch.cat([zl[:, :n], zg[:, :n]], -1), pooled=pooled)


# ------------------------------------------------------------------------------------------------ sampling

def schedule():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    ac = torch.cumprod(1 - betas, 0)
    sigmas = ((1 - ac) / ac) ** 0.5
    return sigmas.float(), sigmas.log().float()


SIGMAS, LOG_SIGMAS = schedule()


def timestep(sigma):
    return int((torch.tensor(sigma, dtype=torch.float32).log() - LOG_SIGMAS).abs().argmin())


def full_sigmas(scheduler, steps):
    if scheduler == "simple":
        stride = len(SIGMAS) / steps
        s = [float(SIGMAS[-(1 + int(x * stride))]) for x in range(steps)]
        return torch.tensor(s + [0.0], dtype=torch.float32)
    if scheduler == "karras":
        rho = 7.0
        ramp = torch.linspace(0, 1, steps)
        lo, hi = float(SIGMAS[0]) ** (1 / rho), float(SIGMAS[-1]) ** (1 / rho)
        s = (hi + ramp * (lo - hi)) ** rho
        return torch.cat([s, torch.zeros(1)])
    raise ValueError(scheduler)


def ksampler_sigmas(scheduler, steps, denoise):
    if denoise > 0.9999:
        return full_sigmas(scheduler, steps)
    return full_sigmas(scheduler, int(steps / denoise))[-(steps + 1):]


def generate(case, tok, clip_l, clip_g, unet, vae, init_image=None):
    b, h, w = case["batch"], case["height"], case["width"]
    f = 2 ** (len(VAE_CHANNELS) - 1)
    shape = [b, 4, h // f, w // f]
    cond = encode(tok, clip_l, clip_g, case["prompt"])
    use_cfg = not math.isclose(case["cfg"], 1.0)
    uncond = encode(tok, clip_l, clip_g, case["negative"]) if use_cfg else None
    time_ids = torch.tensor([[h, w, 0, 0, h, w]] * b, dtype=torch.float64)

    def eps(x, t, c):
        ctx = c["context"].expand(b, -1, -1)
        pooled = c["pooled"].expand(b, -1)
        ts = torch.full((b,), float(t), dtype=torch.float64)
        with torch.no_grad():
            return unet(x, ts, encoder_hidden_states=ctx,
                        added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample

    def denoise(x, sigma):
        t = timestep(sigma)
        xin = x / (sigma * sigma + 1) ** 0.5
        d_c = x - eps(xin, t, cond) * sigma
        if not use_cfg:
            return d_c
        d_u = x - eps(xin, t, uncond) * sigma
        return d_u + (d_c - d_u) * case["cfg"]

    sigmas = ksampler_sigmas(case["scheduler"], case["steps"], case["denoise"]).double().tolist()
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(case["seed"])).double()
    latent = torch.zeros(shape, dtype=torch.float64)
    if init_image is not None:
        with torch.no_grad():
            latent = vae.encode(init_image * 2 - 1).latent_dist.mean * SCALE
    s0, smax = sigmas[0], float(SIGMAS[-1])
    max_denoise = abs(s0 - smax) <= 1e-5 * max(abs(s0), abs(smax)) or s0 > smax
    x = noise * ((1 + s0 * s0) ** 0.5 if max_denoise else s0) + latent
    step_gen = torch.Generator().manual_seed(case["seed"])
    for i in range(len(sigmas) - 1):
        s, nxt = sigmas[i], sigmas[i + 1]
        d = denoise(x, s)
        if case["sampler"] == "lcm":
            x = d
            if nxt > 0:
                x = x + nxt * torch.randn(shape, generator=step_gen).double()
        elif case["sampler"] == "euler":
            x = x + (x - d) / s * (nxt - s)
        else:
            raise ValueError(case["sampler"])
    with torch.no_grad():
        decoded = vae.decode(x / SCALE).sample
    return dict(noise=noise, latent=x, decoded=decoded, sigmas=torch.tensor(sigmas), init_latent=latent)


# ------------------------------------------------------------------------------------------------ main

def main():
    os.makedirs(OUT, exist_ok=True)
    clip_l, clip_g, unet, vae = build_models()
    save_file(single_file(clip_l, clip_g, unet, vae), os.path.join(OUT, "tiny_sdxl.safetensors"),
              metadata={"generator": "tools/reference/models/pipeline_fixtures.py"})
    write_diffusers(os.path.join(OUT, "diffusers"), clip_l, clip_g, unet, vae)
    clip_l, clip_g, unet, vae = (m.double() for m in (clip_l, clip_g, unet, vae))

    f32 = lambda t: t.detach().to(torch.float32).contiguous()
    with tempfile.TemporaryDirectory() as tmp:
        tok = make_tokenizer(tmp)
        cond = {}
        for name, text in PROMPTS.items():
            r = encode(tok, clip_l, clip_g, text)
            cond.update({f"{name}.ids_l": r["ids_l"], f"{name}.ids_g": r["ids_g"], f"{name}.weights": f32(r["weights"]),
                         f"{name}.context": f32(r["context"]), f"{name}.pooled": f32(r["pooled"])})
            print(f"prompt {name}: {r['ids_l'].shape[0]} chunk(s), context {list(r['context'].shape)}, "
                  f"context std {r['context'].std():.3f}")
        save_file(cond, os.path.join(OUT, "conditioning.safetensors"),
                  metadata={"prompts": json.dumps(PROMPTS), "generator": "tools/reference/models/pipeline_fixtures.py"})

        gens = {}
        g = torch.Generator().manual_seed(5)
        init = (torch.randint(0, 256, (1, 3, 32, 48), generator=g).double() / 255)
        for case in CASES:
            image = init if case["denoise"] < 1 else None
            r = generate(case, tok, clip_l, clip_g, unet, vae, image)
            for k in ("noise", "latent", "decoded", "sigmas"):
                gens[f"{case['name']}.{k}"] = f32(r[k])
            if image is not None:
                gens[f"{case['name']}.init_image"] = f32(image)
                gens[f"{case['name']}.init_latent"] = f32(r["init_latent"])
            print(f"case {case['name']}: σ {[round(s, 4) for s in r['sigmas'].tolist()]}, "
                  f"latent std {r['latent'].std():.3f}, decoded std {r['decoded'].std():.3f}")
        save_file(gens, os.path.join(OUT, "generations.safetensors"),
                  metadata={"cases": json.dumps(CASES), "generator": "tools/reference/models/pipeline_fixtures.py"})

    for root, _, files in os.walk(OUT):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            print(f"{os.path.relpath(p, OUT):50s} {os.path.getsize(p) // 1024} KB")


if __name__ == "__main__":
    main()
