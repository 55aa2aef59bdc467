/// The SDXL model family: tokenizer, CLIP text encoders, UNet, VAE, LoRA and samplers.
public enum Diffusion {}
