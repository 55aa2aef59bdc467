"""CLIP text encoder fixtures for Tests/DiffusionTests/CLIPTextModelTests.swift.

Run: /work/venv/bin/python tools/reference/models/clip_fixtures.py
Writes Tests/DiffusionTests/Fixtures/clip/{tiny_l,tiny_l_ref,tiny_g,tiny_g_ref,tiny_sdxl_single}.safetensors.

Tiny random-weight versions of SDXL's two text encoders (transformers 4.57):
- tiny_l: `CLIPTextModel` (quick_gelu, no projection) = CLIP ViT-L/14 text, shrunk.
- tiny_g: `CLIPTextModelWithProjection` (gelu, projection 24 ≠ width 40, so a missed transpose
  fails on shape) = OpenCLIP ViT-bigG/14 text, shrunk.
The vocabulary is shrunk to 1000 ids with BOS 998 / EOS 999 (EOS stays the largest id, so
HF's argmax pooling and "first EOS" pooling agree, as with the real 49407).
Each weight file (tiny_l, tiny_g) holds only the state dict in HF names (plus
`text_model.embeddings.position_ids` in tiny_l, which loaders must ignore); `<name>_ref` holds the
reference inputs/outputs:
  ref.ids [2, 77] I64 (window 0/1; L pads with EOS, G pads with 0; EOS at different positions)
  ref.hidden_skip1 = hidden_states[-2], ref.hidden_last = hidden_states[-1] (no final norm),
  ref.last_hidden_state (final norm), ref.pooler_output, ref.text_embeds (G only).
tiny_sdxl_single mimics a single-file SDXL checkpoint: L under `conditioner.embedders.0.transformer.`
(HF names) and G under `conditioner.embedders.1.model.` in open_clip names (packed q|k|v in_proj,
text_projection stored as P = Wᵀ, plus logit_scale). The open_clip conversion is checked here
by running open_clip's own TextTransformer on the converted weights.
"""
import os

import torch
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "clip")
VOCAB, BOS, EOS, T = 1000, 998, 999, 77


def config(width, layers, heads, mlp, act):
    return CLIPTextConfig(vocab_size=VOCAB, hidden_size=width, intermediate_size=mlp, num_hidden_layers=layers,
                          num_attention_heads=heads, max_position_embeddings=T, hidden_act=act,
                          layer_norm_eps=1e-5, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS,
                          projection_dim=24, attn_implementation="eager")


def reinit(model, seed):
    """Small normal weights with fan-in scaling, non-zero biases and norm affines: activations O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            n = lambda: torch.randn(p.shape, generator=g)
            if "layer_norm" in name:
                p.copy_(1 + 0.1 * n() if name.endswith("weight") else 0.1 * n())
            elif name.endswith("bias"):
                p.copy_(0.1 * n())
            elif "token_embedding" in name:
                p.copy_(n())
            elif "position_embedding" in name:
                p.copy_(0.3 * n())
            else:
                p.copy_(n() / p.shape[1] ** 0.5)


def windows(lengths, pad, seed):
    """77-token windows: BOS, `n` random tokens, EOS, then `pad`."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for n in lengths:
        body = torch.randint(1, BOS, (n,), generator=g).tolist()
        row = [BOS] + body + [EOS]
        rows.append(row + [pad] * (T - len(row)))
    return torch.tensor(rows, dtype=torch.int64)


def reference(model, ids):
    m = model.double()
    # transformers builds its causal mask in the default dtype: float64 min would overflow float32.
    torch.set_default_dtype(torch.float64)
    try:
        with torch.no_grad():
            out = m(input_ids=ids, output_hidden_states=True)
    finally:
        torch.set_default_dtype(torch.float32)
    f = lambda t: t.detach().to(torch.float32).contiguous()
    r = {"ref.ids": ids, "ref.hidden_skip1": f(out.hidden_states[-2]), "ref.hidden_last": f(out.hidden_states[-1]),
         "ref.last_hidden_state": f(out.last_hidden_state)}
    if hasattr(out, "text_embeds"):
        r["ref.text_embeds"] = f(out.text_embeds)
    else:
        r["ref.pooler_output"] = f(out.pooler_output)
    return r


def hf_to_open_clip(sd, layers):
    """Inverse of the documented open_clip → HF map (sdxl-inference-reference.md §1a)."""
    out = {"token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
           "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
           "ln_final.weight": sd["text_model.final_layer_norm.weight"],
           "ln_final.bias": sd["text_model.final_layer_norm.bias"],
           "text_projection": sd["text_projection.weight"].t().contiguous(),
           "logit_scale": torch.tensor(4.6052)}
    for i in range(layers):
        h, o = f"text_model.encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for p in ("weight", "bias"):
            out[o + f"attn.in_proj_{p}"] = torch.cat([sd[h + f"self_attn.{x}_proj.{p}"] for x in "qkv"], 0)
            out[o + f"attn.out_proj.{p}"] = sd[h + f"self_attn.out_proj.{p}"]
            out[o + f"ln_1.{p}"] = sd[h + f"layer_norm1.{p}"]
            out[o + f"ln_2.{p}"] = sd[h + f"layer_norm2.{p}"]
            out[o + f"mlp.c_fc.{p}"] = sd[h + f"mlp.fc1.{p}"]
            out[o + f"mlp.c_proj.{p}"] = sd[h + f"mlp.fc2.{p}"]
    return {k: v.contiguous() for k, v in out.items()}


def check_open_clip(oc_sd, cfg, ids, expected):
    """open_clip's own text tower on the converted weights must give HF's text_embeds."""
    from open_clip.transformer import TextTransformer
    tt = TextTransformer(context_length=T, vocab_size=VOCAB, width=cfg.hidden_size, heads=cfg.num_attention_heads,
                         layers=cfg.num_hidden_layers, mlp_ratio=cfg.intermediate_size / cfg.hidden_size,
                         output_dim=cfg.projection_dim, act_layer=torch.nn.GELU)
    sd = {k: v for k, v in oc_sd.items() if k != "logit_scale"}
    tt.load_state_dict(sd, strict=True)
    with torch.no_grad():
        got = tt.double()(ids)
    err = (got.float() - expected).abs().max() / expected.abs().max()
    assert err < 1e-5, f"open_clip conversion mismatch: {err}"
    print(f"open_clip TextTransformer agrees with HF text_embeds (max rel {err:.2e})")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    cfg_l = config(32, 3, 4, 64, "quick_gelu")
    model_l = CLIPTextModel(cfg_l).eval()
    reinit(model_l, 1)
    sd_l = {k: v.detach().clone().contiguous() for k, v in model_l.state_dict().items()}
    sd_l["text_model.embeddings.position_ids"] = torch.arange(T, dtype=torch.int64)[None]
    ids_l = windows([10, 40], pad=EOS, seed=2)
    save_file(sd_l, os.path.join(OUT, "tiny_l.safetensors"))
    save_file(reference(model_l, ids_l), os.path.join(OUT, "tiny_l_ref.safetensors"))

    cfg_g = config(40, 3, 5, 80, "gelu")
    model_g = CLIPTextModelWithProjection(cfg_g).eval()
    reinit(model_g, 3)
    sd_g = {k: v.detach().clone().contiguous() for k, v in model_g.state_dict().items()}
    ids_g = windows([5, 75], pad=0, seed=4)
    ref_g = reference(model_g, ids_g)
    save_file(sd_g, os.path.join(OUT, "tiny_g.safetensors"))
    save_file(ref_g, os.path.join(OUT, "tiny_g_ref.safetensors"))

    oc = hf_to_open_clip(sd_g, cfg_g.num_hidden_layers)
    check_open_clip(oc, cfg_g, ids_g, ref_g["ref.text_embeds"])
    single = {f"conditioner.embedders.0.transformer.{k}": v for k, v in sd_l.items()}
    single.update({f"conditioner.embedders.1.model.{k}": v for k, v in oc.items()})
    save_file(single, os.path.join(OUT, "tiny_sdxl_single.safetensors"))
    for f in sorted(os.listdir(OUT)):
        print(f"wrote {os.path.join(OUT, f)} ({os.path.getsize(os.path.join(OUT, f)) // 1024} KB)")


if __name__ == "__main__":
    main()
