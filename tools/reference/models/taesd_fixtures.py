"""Fixtures for TAESD / TAESD-XL (diffusers `AutoencoderTiny`) at a tiny size.

Run from the repository root:
    /work/venv/bin/python tools/reference/models/taesd_fixtures.py
Writes Tests/DiffusionTests/Fixtures/taesd/{weights_diffusers, weights_decoder_original,
weights_encoder_original, io}.safetensors:
- weights_diffusers: the tiny model's full state dict in diffusers naming (`encoder.layers.N…`,
  `decoder.layers.N…`), the layout of madebyollin/taesdxl `diffusion_pytorch_model.safetensors`.
- weights_decoder_original / weights_encoder_original: the same tensors in the naming of the original
  madebyollin/taesd single files (`taesdxl_decoder.safetensors`, `taesdxl_encoder.safetensors`): the keys of
  the bare `nn.Sequential`. The original decoder Sequential starts with a parameter-free `Clamp()` module, so
  its indices are diffusers' `decoder.layers.N` + 1; the encoder's indices equal diffusers' `encoder.layers.N`.
- io: decode of a random model-space latent [1, 4, 5, 6] (`decode.out` in [-1, 1] convention), the gradient of
  sum(decode(l) · dout) w.r.t. a smaller latent l [1, 4, 3, 2] (`grad.*`; chosen so no ReLU input is within 1e-4
  of 0), and encode of a random image [1, 3, 40, 48] in [-1, 1]
  (`encode.out`). Computed in float64, stored as float32.
"""
import os

import torch
from diffusers import AutoencoderTiny
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "taesd")

# Must match `TinyAutoencoderConfig.tiny` in Sources/Diffusion/VAE/TinyAutoencoder.swift.
CHANNELS = (8, 8, 8, 8)
ENCODER_BLOCKS = (1, 1, 1, 1)
DECODER_BLOCKS = (1, 1, 1, 1)


def make_model():
    torch.manual_seed(0)
    model = AutoencoderTiny(
        in_channels=3, out_channels=3, latent_channels=4,
        encoder_block_out_channels=CHANNELS, decoder_block_out_channels=CHANNELS,
        num_encoder_blocks=ENCODER_BLOCKS, num_decoder_blocks=DECODER_BLOCKS,
        act_fn="relu", upsample_fn="nearest", upsampling_scaling_factor=2,
    )
    # Re-initialise everything so every parameter matters: weights ~ N(0, 1.6/fan_in) (keeps ReLU nets O(1)),
    # non-zero biases.
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (1.6 / fan_in) ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model.double().eval()


def original_name(name):
    """diffusers key → (file, original single-file key)."""
    part, _, idx, rest = name.split(".", 3)   # e.g. decoder, layers, 2, conv.0.weight
    assert _ == "layers", name
    shift = 1 if part == "decoder" else 0     # the original decoder's index 0 is Clamp()
    return part, f"{int(idx) + shift}.{rest}"


def main():
    os.makedirs(OUT, exist_ok=True)
    model = make_model()
    sd = {k: v.float().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(OUT, "weights_diffusers.safetensors"))
    for part in ("decoder", "encoder"):
        orig = {}
        for k, v in sd.items():
            p, key = original_name(k)
            if p == part:
                orig[key] = v
        save_file(orig, os.path.join(OUT, f"weights_{part}_original.safetensors"))

    g = torch.Generator().manual_seed(2)
    # Float32-representable inputs, so the reference and the float32 engine start from the same values.
    latent = (1.5 * torch.randn(1, 4, 5, 6, generator=g)).float().double()
    with torch.no_grad():
        out = model.decode(latent).sample
    image = (torch.rand(1, 3, 40, 48, generator=g) * 2 - 1).float().double()
    with torch.no_grad():
        enc = model.encode(image).latents

    # Gradient fixture on a smaller latent whose ReLU inputs all stay clear of 0: a pre-activation within float32
    # rounding of 0 could flip its mask in the engine and change the gradient for reasons unrelated to correctness.
    relu_inputs = []
    hooks = [mod.register_forward_hook(lambda mod, i, o: relu_inputs.append(i[0].detach().abs().min().item()))
             for mod in model.decoder.modules() if isinstance(mod, torch.nn.ReLU)]
    for seed in range(100, 200):
        gg = torch.Generator().manual_seed(seed)
        grad_latent = (1.5 * torch.randn(1, 4, 3, 2, generator=gg)).float().double()
        relu_inputs.clear()
        with torch.no_grad():
            model.decode(grad_latent)
        if min(relu_inputs) > 1e-4:
            break
    else:
        raise SystemExit("no seed keeps ReLU inputs clear of 0")
    for h in hooks:
        h.remove()
    print("grad seed", seed, "min |ReLU input|", min(relu_inputs))
    grad_latent.requires_grad_(True)
    grad_out = model.decode(grad_latent).sample
    dout = torch.randn(grad_out.shape, generator=gg).double()
    (grad_out * dout).sum().backward()

    io = {
        "decode.in.latent": latent,
        "decode.out": out,
        "grad.in.latent": grad_latent.detach(),
        "grad.dout": dout,
        "grad.latent": grad_latent.grad,
        "encode.in.image": image,
        "encode.out": enc,
    }
    save_file({k: v.float().contiguous() for k, v in io.items()}, os.path.join(OUT, "io.safetensors"))
    print({k: (tuple(v.shape), float(v.abs().max())) for k, v in io.items()})


if __name__ == "__main__":
    main()
