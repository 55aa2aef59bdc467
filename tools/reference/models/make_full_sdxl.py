"""Full-size SDXL UNet with random weights, for the gated Swift test `UNetTests.testFullSizeSDXL` (not in CI).

Run (needs ~11 GB of free memory and ~11 GB of disk; takes a few minutes):
    /work/venv/bin/python tools/reference/models/make_full_sdxl.py /work/sdxl-random
    SUMI_FULL_SDXL_DIR=/work/sdxl-random swift test -c release --filter UNetTests/testFullSizeSDXL

Builds diffusers' `UNet2DConditionModel` with the SDXL base config (see unet_fixtures.SDXL), re-initialises
every parameter with seeded small-scale noise (unet_fixtures.reinit_, values rounded to fp16) and writes
into the directory:
  unet_diffusers.safetensors     diffusers names, F16 (the fp16-rounded values exactly)
  unet_single_file.safetensors   the same tensors under `model.diffusion_model.` LDM names
  io.safetensors                 a batch of 2 at 256×256 (32×32 latent; timesteps 999 and 249, 77-token
                                 context, pooled embedding, time ids) and diffusers' fp32 output
Files are written tensor by tensor so peak memory stays at one model (safetensors' save_file would copy it).
"""
import json
import os
import struct
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_fixtures import SDXL, LDM_PREFIX, diffusers_unet, forward, ldm_name, make_inputs, reinit_  # noqa: E402

DTYPES = {torch.float16: "F16", torch.float32: "F32"}


def save_streaming(path, named, dtype, metadata):
    """Writes (name, tensor) pairs as safetensors converting one tensor at a time."""
    header, offset = {}, 0
    for name, t in named:
        n = t.numel() * torch.tensor([], dtype=dtype).element_size()
        header[name] = {"dtype": DTYPES[dtype], "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = metadata
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for _, t in named:
            f.write(t.detach().to(dtype).contiguous().numpy().tobytes())
    print(f"wrote {path} ({os.path.getsize(path) / 1e9:.2f} GB)")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "/work/sdxl-random"
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    model = diffusers_unet(SDXL).eval()
    n_params = model.num_parameters()
    print("diffusers num_parameters:", n_params)
    reinit_(model, seed=11)

    named = list(model.state_dict().items())
    meta = {"generator": f"tools/reference/models/make_full_sdxl.py (torch {torch.__version__})",
            "parameters": str(n_params)}
    save_streaming(os.path.join(out_dir, "unet_diffusers.safetensors"), named, torch.float16, meta)
    ldm = [(LDM_PREFIX + ldm_name(k, SDXL), v) for k, v in named]
    assert len({k for k, _ in ldm}) == len(ldm)
    save_streaming(os.path.join(out_dir, "unet_single_file.safetensors"), ldm, torch.float16, meta)

    sample, timesteps, context, pooled, time_ids = make_inputs(SDXL, batch=2, hw=32, tokens=77, seed=12)
    with torch.no_grad():
        out = forward(model, sample, timesteps, context, pooled, time_ids)
    print("out std", out.std().item(), "max", out.abs().max().item())
    save_file({"in.sample": sample, "in.timesteps": timesteps, "in.context": context, "in.text_embeds": pooled,
               "in.time_ids": time_ids, "out": out.contiguous()},
              os.path.join(out_dir, "io.safetensors"), metadata=meta)


if __name__ == "__main__":
    sys.exit(main())
