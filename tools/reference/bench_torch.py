#!/usr/bin/env python3
"""PyTorch CPU reference for `sumi bench sdxl`: the same SDXL work, the same JSON rows ("impl": "torch").

Full-size SDXL components built from the published configs with random weights (no downloads):
diffusers UNet2DConditionModel + AutoencoderKL, transformers CLIPTextModel (CLIP-L) and
CLIPTextModelWithProjection (bigG). Each row: one warm-up, then best and median of --repeats runs, under
torch.no_grad, fp32 by default (`--precision bf16`: weights and inputs in bf16). Peak RSS per row is the
process's VmHWM after resetting it (/proc/self/clear_refs) just before the row, so it includes the models.
FLOPs are the same analytic counts as Sources/sumi/Bench/BenchSDXL+Components.swift (SDXLFlops).

Run both and compare (2 threads, as in docs/baselines.md):

    ./sumi.sh bench sdxl --json --threads 2 --sizes 512 > s.json
    /work/venv/bin/python tools/reference/bench_torch.py --threads 2 --sizes 512 > t.json
    /work/venv/bin/python tools/reference/bench_torch.py --compare s.json t.json

Memory: the fp32 UNet is 10.3 GB; do not run this beside another full-size benchmark.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

COMPONENTS = ["text_encoders", "unet_step", "generate_4step", "vae_decode", "vae_decode_tiled"]
PARTS = {"text_encoders": {"te"}, "unet_step": {"unet"}, "generate_4step": {"te", "unet", "vae"},
         "vae_decode": {"vae"}, "vae_decode_tiled": {"vae"}}


# ---- FLOPs (identical to SDXLFlops in Swift) ----
TE_FLOPS = 0.111e12


def fit(size, f1, f2):
    a1, a2 = 64.0 * 64, 128.0 * 128
    beta = (f2 - f1 * a2 / a1) / (a2 * a2 - a1 * a2)
    alpha = (f1 - beta * a1 * a1) / a1
    a = float(size // 8) ** 2
    return alpha * a + beta * a * a


def unet_flops(size):
    return fit(size, 1.589e12, 6.761e12)


def vae_flops(size):
    return fit(size, 2.515e12, 10.470e12)


# ---- memory ----
def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- models ----
def randomize(model, torch):
    """Small noise (~0.02) everywhere, norm scales near 1 (as the Swift bench does)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0, 0.02)
            if p.dim() == 1 and name.endswith("weight"):
                p.add_(1)


def build_te(torch, dtype):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    l = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                     num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
                                     hidden_act="quick_gelu", projection_dim=768))
    g = CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, hidden_size=1280, intermediate_size=5120,
                                                   num_hidden_layers=32, num_attention_heads=20,
                                                   max_position_embeddings=77, hidden_act="gelu",
                                                   projection_dim=1280))
    for m in (l, g):
        randomize(m, torch)
        m.to(dtype).eval()
    return l, g


def build_unet(torch, dtype):
    from diffusers import UNet2DConditionModel
    u = UNet2DConditionModel(
        sample_size=128, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(320, 640, 1280), layers_per_block=2, cross_attention_dim=2048,
        transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816, upcast_attention=False)
    randomize(u, torch)
    return u.to(dtype).eval()


def build_vae(torch, dtype):
    from diffusers import AutoencoderKL
    v = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                      block_out_channels=(128, 256, 512, 512),
                      down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                      norm_num_groups=32, sample_size=1024, scaling_factor=0.13025)
    randomize(v, torch)
    return v.to(dtype).eval()


class Models:
    def __init__(self, torch, dtype):
        self.torch, self.dtype = torch, dtype
        self.te = self.unet = self.vae = None

    def keep_only(self, parts):
        if "te" not in parts:
            self.te = None
        if "unet" not in parts:
            self.unet = None
        if "vae" not in parts:
            self.vae = None
        import ctypes
        import gc
        gc.collect()
        try:  # hand freed weights back to the kernel so later rows' RSS is their own (as the Swift bench does)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass

    def get(self, part):
        if getattr(self, part) is None:
            t0 = time.perf_counter()
            setattr(self, part, {"te": build_te, "unet": build_unet, "vae": build_vae}[part](self.torch, self.dtype))
            log(f"built {part} in {time.perf_counter() - t0:.1f} s")
        return getattr(self, part)


def token_ids(torch, pad):
    ids = [49406] + [320 + 37 * i for i in range(20)] + [49407]
    ids += [pad] * (77 - len(ids))
    return torch.tensor([ids])


def simple_sigmas(torch, steps):
    """ComfyUI `simple` scheduler over the SDXL discrete schedule (scaled_linear 0.00085..0.012)."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    ac = torch.cumprod(1 - betas, 0)
    sig = ((1 - ac) / ac) ** 0.5
    ss = len(sig) / steps
    out = [float(sig[-(1 + int(i * ss))]) for i in range(steps)] + [0.0]
    return out, sig


def workload(models, name, size, args):
    torch, dtype = models.torch, models.dtype
    lat = size // 8
    time_ids = torch.tensor([[size, size, 0, 0, size, size]], dtype=dtype)
    gen = torch.Generator().manual_seed(0)

    def rnd(*shape):
        return (torch.randn(*shape, generator=gen) * 0.5).to(dtype)

    def encode():
        l, g = models.get("te")
        hl = l(token_ids(torch, 49407), output_hidden_states=True).hidden_states[-2]
        og = g(token_ids(torch, 0), output_hidden_states=True)
        return torch.cat([hl, og.hidden_states[-2]], dim=2), og.text_embeds

    if name == "text_encoders":
        models.get("te")
        return encode, TE_FLOPS
    if name == "unet_step":
        u = models.get("unet")
        x, ctx, pooled = rnd(1, 4, lat, lat), rnd(1, 77, 2048), rnd(1, 1280)
        t = torch.tensor([999])
        return (lambda: u(x, t, encoder_hidden_states=ctx,
                          added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample), unet_flops(size)
    if name in ("vae_decode", "vae_decode_tiled"):
        v = models.get("vae")
        z = rnd(1, 4, lat, lat) / 0.13025
        if name == "vae_decode":
            v.disable_tiling()
            return (lambda: v.decode(z).sample), vae_flops(size)
        # diffusers' tiling (blended overlaps, per-tile GroupNorm) — not the same algorithm as sumi's
        # (shared GroupNorm statistics), but the same tile size: 8·tile_latent image pixels.
        def tiled():
            v.enable_tiling()
            v.tile_latent_min_size = args.tile_latent
            v.tile_sample_min_size = 8 * args.tile_latent
            try:
                return v.decode(z).sample
            finally:
                v.disable_tiling()
        return tiled, vae_flops(size)
    if name == "generate_4step":
        u, v = models.get("unet"), models.get("vae")
        models.get("te")
        sigmas, all_sig = simple_sigmas(torch, 4)
        log_sig = all_sig.log()

        def generate():
            ctx, pooled = encode()
            g = torch.Generator().manual_seed(0)
            x = torch.randn(1, 4, lat, lat, generator=g).to(dtype) * math.sqrt(1 + sigmas[0] ** 2)
            for i in range(4):
                s, s_next = sigmas[i], sigmas[i + 1]
                t = torch.tensor([int((log_sig - math.log(s)).abs().argmin())])
                eps = u(x / math.sqrt(s * s + 1), t, encoder_hidden_states=ctx,
                        added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
                x = x - eps * s  # denoised (EPS); LCM: re-noise to σ_next
                if s_next > 0:
                    x = x + s_next * torch.randn(x.shape, generator=g).to(dtype)
            return v.decode(x / 0.13025).sample
        return generate, TE_FLOPS + 4 * unet_flops(size) + vae_flops(size)
    raise ValueError(name)


def measure(body, repeats):
    body()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        body()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def sgemm_row(torch, repeats):
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    best, med = measure(lambda: torch.mm(a, b), repeats)
    return best, med, 2.0 * n ** 3


def compare(paths):
    s_rows, t_rows = (json.load(open(p)) for p in paths)
    key = lambda r: (r["name"], r.get("size"))
    t_by = {key(r): r for r in t_rows}
    print(f"{'row':<28} {'sumi s':>9} {'torch s':>9} {'torch/sumi':>10} {'sumi GiB':>9} {'torch GiB':>9}")
    for r in s_rows:
        t = t_by.get(key(r))
        label = r["name"] + (f" @{r['size']}" if r.get("size") else "")
        if t is None:
            print(f"{label:<28} {r['seconds']:9.3f} {'-':>9}")
            continue
        print(f"{label:<28} {r['seconds']:9.3f} {t['seconds']:9.3f} {t['seconds'] / r['seconds']:9.2f}x "
              f"{r['peak_rss_bytes'] / 2**30:9.2f} {t['peak_rss_bytes'] / 2**30:9.2f}")
    print("torch/sumi > 1 means sumi is faster (best-of-N seconds).")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="512,768,1024")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--components", default=",".join(COMPONENTS))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--tile-latent", type=int, default=64)
    ap.add_argument("--compare", nargs=2, metavar=("SUMI_JSON", "TORCH_JSON"))
    args = ap.parse_args()
    if args.compare:
        return compare(args.compare)

    import torch
    torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.precision == "fp32" else torch.bfloat16
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    wanted = [c for c in COMPONENTS if c in {x.strip() for x in args.components.split(",")}]
    unknown = {x.strip() for x in args.components.split(",")} - set(COMPONENTS)
    if unknown:
        ap.error(f"unknown components {sorted(unknown)}; known: {COMPONENTS}")

    rows = []
    with torch.no_grad():
        best, med, fl = sgemm_row(torch, args.repeats)
        ref = fl / best / 1e9

        def emit(name, size, best, med, flops):
            g = flops / best / 1e9
            row = {"impl": "torch", "name": name, "size": size, "seconds": best, "median_seconds": med,
                   "gflops": g, "fraction_of_sgemm": g / ref, "peak_rss_bytes": peak_bytes(),
                   "precision": args.precision}
            rows.append(row)
            log(f"{name:<18} {size or '':>5} {best:9.3f} s (median {med:9.3f}) {g:7.1f} GFLOP/s "
                f"{100 * g / ref:5.1f} %  peak RSS {row['peak_rss_bytes'] / 2**30:.2f} GiB")

        emit("sgemm", None, best, med, fl)
        models = Models(torch, dtype)
        for i, comp in enumerate(wanted):
            models.keep_only(set().union(*(PARTS[c] for c in wanted[i:])))
            for size in ([None] if comp == "text_encoders" else sizes):
                body, flops = workload(models, comp, size or 0, args)
                reset_peak()
                best, med = measure(body, args.repeats)
                emit(comp, size, best, med, flops)
        models.keep_only(set())
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
