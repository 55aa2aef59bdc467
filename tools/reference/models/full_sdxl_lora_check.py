"""Full-size generation check with a DMD2-shaped LoRA (issue 4 "done when"; not in CI).

Run after make_full_sdxl.py (needs ~12 GB of free memory, a few minutes):
    /work/venv/bin/python tools/reference/models/full_sdxl_lora_check.py /work/sdxl-random
    SUMI_FULL_SDXL_DIR=/work/sdxl-random swift test -c release --filter LoRAFullSizeTests

Writes into the directory:
  dmd2_shaped_lora.safetensors  rank 64 / alpha 8 LoRA on DMD2's 14 target patterns over the random full-size UNet
                                (788 modules), in DMD2's export format: kohya names over diffusers paths
                                (`lora_unet_down_blocks_1_…_to_q.lora_down.weight`), F16, one `.alpha` per module;
                                seeded values, up non-zero (a trained-looking LoRA, not a fresh one)
  lora_check.safetensors        conditioning (context [1, 77, 2048], pooled [1, 1280], seeded normals), the σ list,
                                and the final model-space latents of ComfyUI's KSampler semantics — lcm / simple /
                                4 steps / CFG 1 / seed 42 at 256×256 (latent [1, 4, 32, 32]), time ids
                                (256, 256, 0, 0, 256, 256) — with the LoRA at 0.9 (`latent`) and without (`latent_base`)
The UNet is diffusers' UNet2DConditionModel (fp32) with the LoRA loaded by diffusers' own kohya conversion
(`StableDiffusionXLPipeline.lora_state_dict` + `load_lora_into_unet`, adapter weight 0.9); the sampler is ComfyUI's
`sample_lcm` restated as in pipeline_fixtures.py: x = noise·√(1+σ₀²); each step D = x − σ·ε(x/√(σ²+1), t(σ)),
x = D + σ_next·n with n from a second generator seeded with the same seed (ComfyUI's default noise sampler).
"""
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_fixtures import full_sigmas, timestep  # noqa: E402
from unet_fixtures import SDXL, diffusers_unet  # noqa: E402

RANK, ALPHA, STRENGTH, SEED, SIZE = 64, 8.0, 0.9, 42, 256
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2",
           "conv_shortcut", "time_emb_proj", "downsamplers.0.conv", "upsamplers.0.conv"]


def load_unet(path):
    """The random full-size UNet, filled tensor by tensor (peak memory ≈ one fp32 model)."""
    model = diffusers_unet(SDXL).eval()
    params = dict(model.named_parameters())
    with safe_open(path, "pt") as f:
        assert set(f.keys()) == set(params), "weights file does not match the SDXL UNet"
        with torch.no_grad():
            for k in f.keys():
                params[k].copy_(f.get_tensor(k).float())
    return model


def make_lora(model, path):
    g = torch.Generator().manual_seed(7)
    sd, n = {}, 0
    for name, p in sorted(model.named_parameters()):
        if not name.endswith(".weight") or p.dim() not in (2, 4):
            continue
        m = name[: -len(".weight")]
        if not any(m.endswith("." + t) for t in TARGETS):
            continue
        key = "lora_unet_" + m.replace(".", "_")
        fan_in = p[0].numel()
        down = torch.randn((RANK,) + tuple(p.shape[1:]), generator=g) / fan_in ** 0.5
        up = 0.3 * torch.randn((p.shape[0], RANK) + ((1, 1) if p.dim() == 4 else ()), generator=g) / RANK ** 0.5
        sd[key + ".lora_down.weight"] = down.half()
        sd[key + ".lora_up.weight"] = up.half()
        sd[key + ".alpha"] = torch.tensor(ALPHA, dtype=torch.float16)
        n += 1
    save_file(sd, path, metadata={"generator": f"tools/reference/models/full_sdxl_lora_check.py (torch {torch.__version__})",
                                  "ss_network_dim": str(RANK), "ss_network_alpha": str(ALPHA)})
    print(f"LoRA: {n} modules, {sum(v.numel() for k, v in sd.items() if not k.endswith('alpha')) / 1e6:.2f} M params -> {path}")
    return n


def sample(model, context, pooled, sigmas):
    shape = (1, 4, SIZE // 8, SIZE // 8)
    time_ids = torch.tensor([[SIZE, SIZE, 0, 0, SIZE, SIZE]], dtype=torch.float32)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(SEED))
    x = noise * (1 + sigmas[0] ** 2) ** 0.5   # σ₀ = σ_max: ComfyUI's max_denoise scaling
    step_gen = torch.Generator().manual_seed(SEED)
    for i in range(len(sigmas) - 1):
        s, nxt = sigmas[i], sigmas[i + 1]
        t = timestep(s)
        with torch.no_grad():
            eps = model(x / (s * s + 1) ** 0.5, torch.tensor([float(t)]), encoder_hidden_states=context,
                        added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}).sample
        x = x - eps * s
        if nxt > 0:
            x = x + nxt * torch.randn(shape, generator=step_gen)
        print(f"  step {i + 1}: σ {s:.4f} t {t}", flush=True)
    return x


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "/work/sdxl-random"
    torch.set_num_threads(os.cpu_count())
    model = load_unet(os.path.join(out_dir, "unet_diffusers.safetensors"))
    lora_path = os.path.join(out_dir, "dmd2_shaped_lora.safetensors")
    modules = make_lora(model, lora_path)

    g = torch.Generator().manual_seed(3)
    context = torch.randn(1, 77, SDXL["cross_attention_dim"], generator=g)
    pooled = torch.randn(1, SDXL["pooled_dim"], generator=g)
    sigmas = full_sigmas("simple", 4).tolist()
    print("σ", sigmas, "timesteps", [timestep(s) for s in sigmas[:-1]])
    base = sample(model, context, pooled, sigmas)

    from diffusers import StableDiffusionXLPipeline
    state_dict, alphas = StableDiffusionXLPipeline.lora_state_dict(lora_path, unet_config=model.config)
    StableDiffusionXLPipeline.load_lora_into_unet(state_dict, alphas, model, adapter_name="dmd2")
    loaded = sum(1 for n, _ in model.named_parameters() if "lora_A" in n)
    assert loaded == modules, (loaded, modules)
    model.set_adapters(["dmd2"], weights=[STRENGTH])
    latent = sample(model, context, pooled, sigmas)
    print(f"LoRA effect on the final latent: |Δ| / |base| = {((latent - base).norm() / base.norm()).item():.3f}")
    save_file({"context": context, "pooled": pooled, "sigmas": torch.tensor(sigmas, dtype=torch.float32),
               "latent": latent.contiguous(), "latent_base": base.contiguous()},
              os.path.join(out_dir, "lora_check.safetensors"),
              metadata={"seed": str(SEED), "strength": str(STRENGTH), "size": str(SIZE),
                        "generator": f"tools/reference/models/full_sdxl_lora_check.py (torch {torch.__version__})"})


if __name__ == "__main__":
    sys.exit(main())
