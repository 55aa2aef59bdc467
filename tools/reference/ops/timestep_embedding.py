"""timestep_embedding: diffusers get_timestep_embedding(t, dim, flip_sin_to_cos=True,
downscale_freq_shift=0), re-stated below (diffusers is not a fixture dependency).

Unlike the other families this one is computed in float32, because that is what diffusers does and
what SDXL was trained with; the Swift port rounds at the same steps.
"""
import math

import torch
import torch.nn.functional as F

from common import FixtureFile

T = [0.0, 1.0, 249.0, 499.5, 999.0]


def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1,
                           scale=1, max_period=10000):
    # Source: huggingface/diffusers, src/diffusers/models/embeddings.py (same steps and dtypes).
    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(start=0, end=half_dim, dtype=torch.float32,
                                                    device=timesteps.device)
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


def main():
    f = FixtureFile("timestep_embedding")
    for dim in (320, 256, 7):
        f.case(f"dim{dim}",
               lambda t, dim=dim: get_timestep_embedding(t.to(torch.float32), dim, flip_sin_to_cos=True,
                                                         downscale_freq_shift=0).to(torch.float64),
               {"t": torch.tensor(T)}, {"dim": dim, "max_period": 10000}, grad_args=[])
    f.write()
