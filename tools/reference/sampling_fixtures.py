"""Reference σ schedules and sampler trajectories for the Swift `Diffusion/Sampling` code.

Run: /work/venv/bin/python tools/reference/sampling_fixtures.py
Writes Tests/DiffusionTests/Fixtures/sampling/{schedules,trajectories}.safetensors.

An independent float32 transcription of ComfyUI's formulas (comfyanonymous/ComfyUI
`comfy/model_sampling.py` ModelSamplingDiscrete + EPS, `comfy/samplers.py` schedulers, KSampler.set_steps,
KSAMPLER.sample start, cfg_function, `comfy/k_diffusion/sampling.py` sample_lcm / euler / euler_ancestral /
dpmpp_2m / dpmpp_2m_sde) in torch, the same tensor ops on 0-dim float32 σ tensors, so float rounding matches
ComfyUI's. No UNet: the ε-models are closed-form toys (the exact ε of Gaussian data N(μ, s²) at the table σ of
the timestep) that the Swift test implements with the same float32 operations. Step noise comes from a fresh
torch CPU generator seeded with the seed (ComfyUI `default_noise_sampler(x, seed)`); the tensors drawn are
stored so the Swift test can feed them back (dpmpp_2m_sde uses the same fresh-Gaussian source rather than
ComfyUI's torchsde Brownian tree, see Sources/Diffusion/Sampling/Sampler.swift). `beta` uses mpmath for the
Beta quantile (scipy is not installed; ComfyUI uses scipy.stats.beta.ppf).
"""
import json
import math
import os

import mpmath
import numpy as np
import torch
from safetensors.torch import save_file

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO, "Tests", "DiffusionTests", "Fixtures", "sampling")

SHAPE = [1, 4, 6, 5]  # 120 values: ≥ 16 and not a multiple of 16 (exercises torch randn's ragged tail)
SEED = 42


# --- schedule (ModelSamplingDiscrete) ----------------------------------------------------------------------------

class Schedule:
    def __init__(self, linear_start=0.00085, linear_end=0.012, timesteps=1000):
        betas = torch.linspace(linear_start ** 0.5, linear_end ** 0.5, timesteps, dtype=torch.float64) ** 2
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        self.sigmas = sigmas.float()
        self.log_sigmas = sigmas.log().float()

    @property
    def sigma_min(self):
        return self.sigmas[0]

    @property
    def sigma_max(self):
        return self.sigmas[-1]

    def timestep(self, sigma):
        dists = sigma.log() - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape)

    def sigma(self, timestep):
        t = torch.clamp(timestep.float(), min=0, max=len(self.sigmas) - 1)
        low, high, w = t.floor().long(), t.ceil().long(), t.frac()
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()


S = Schedule()


# --- schedulers ----------------------------------------------------------------------------------------------------

def append_zero(x):
    return torch.cat([x, x.new_zeros([1])])


def sched_simple(steps):
    ss = len(S.sigmas) / steps
    return torch.FloatTensor([float(S.sigmas[-(1 + int(x * ss))]) for x in range(steps)] + [0.0])


def sched_normal(steps, sgm=False):
    start, end = S.timestep(S.sigma_max), S.timestep(S.sigma_min)
    append = True
    if sgm:
        ts = torch.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(float(S.sigma(end)), 0, abs_tol=1e-5):
            steps += 1
            append = False
        ts = torch.linspace(start, end, steps)
    sigs = [float(S.sigma(ts[i])) for i in range(len(ts))]
    return torch.FloatTensor(sigs + ([0.0] if append else []))


def sched_karras(n, rho=7.0):
    smin, smax = float(S.sigma_min), float(S.sigma_max)
    ramp = torch.linspace(0, 1, n)
    min_inv, max_inv = smin ** (1 / rho), smax ** (1 / rho)
    return append_zero((max_inv + ramp * (min_inv - max_inv)) ** rho)


def sched_exponential(n):
    smin, smax = float(S.sigma_min), float(S.sigma_max)
    return append_zero(torch.linspace(math.log(smax), math.log(smin), n).exp())


def sched_ddim_uniform(steps):
    x = 1
    if math.isclose(float(S.sigmas[x]), 0, abs_tol=1e-5):
        steps += 1
        sigs = []
    else:
        sigs = [0.0]
    ss = max(len(S.sigmas) // steps, 1)
    while x < len(S.sigmas):
        sigs.append(float(S.sigmas[x]))
        x += ss
    return torch.FloatTensor(sigs[::-1])


def beta_ppf(q, a, b):
    if q <= 0:
        return 0.0
    if q >= 1:
        return 1.0
    mpmath.mp.dps = 40
    lo, hi = mpmath.mpf(0), mpmath.mpf(1)
    for _ in range(140):
        mid = (lo + hi) / 2
        if mpmath.betainc(a, b, 0, mid, regularized=True) < q:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


def sched_beta(steps, alpha=0.6, beta=0.6):
    total = len(S.sigmas) - 1
    qs = 1 - np.linspace(0, 1, steps, endpoint=False)
    ts = np.rint(np.array([beta_ppf(float(q), alpha, beta) for q in qs]) * total)
    sigs, last = [], -1
    for t in ts:
        if t != last:
            sigs.append(float(S.sigmas[int(t)]))
        last = t
    return torch.FloatTensor(sigs + [0.0])


SCHEDULERS = {
    "simple": sched_simple, "normal": sched_normal, "karras": sched_karras, "exponential": sched_exponential,
    "sgm_uniform": lambda n: sched_normal(n, sgm=True), "ddim_uniform": sched_ddim_uniform, "beta": sched_beta,
}


def ksampler_sigmas(name, steps, denoise):
    """KSampler.set_steps."""
    if denoise is None or denoise > 0.9999:
        return SCHEDULERS[name](steps)
    if denoise <= 0.0:
        return torch.FloatTensor([])
    return SCHEDULERS[name](int(steps / denoise))[-(steps + 1):]


# --- toy ε-models and the EPS / CFG wrapper ------------------------------------------------------------------------

def toy_eps(mu, s2):
    """Exact ε for data N(mu, s2) at the table σ of timestep t; input is x / √(σ²+1)."""
    def eps(xs, t):
        sig = S.sigmas[int(t)]
        x = xs * torch.sqrt(sig * sig + 1)
        return sig * (x - mu) / (s2 + sig * sig)
    return eps


def make_model(cfg, eps_cond, eps_uncond, counter):
    def model(x, sigma):
        xs = x / (sigma ** 2 + 1.0 ** 2) ** 0.5
        t = S.timestep(sigma).float()
        counter["cond"] += 1
        d_cond = x - eps_cond(xs, t) * sigma
        if math.isclose(cfg, 1.0):
            return d_cond
        counter["uncond"] += 1
        d_uncond = x - eps_uncond(xs, t) * sigma
        return d_uncond + (d_cond - d_uncond) * cfg
    return model


# --- samplers (σ-space, float32, ComfyUI defaults) -----------------------------------------------------------------

def get_ancestral_step(sigma_from, sigma_to, eta=1.0):
    sigma_up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def run_lcm(model, x, sigmas, noise, trace):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        x = denoised
        if sigmas[i + 1] > 0:
            n = noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1]
            n += x
            x = n
        trace(x, denoised)
    return x


def run_euler(model, x, sigmas, noise, trace):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        d = (x - denoised) / sigmas[i]
        x = x + d * (sigmas[i + 1] - sigmas[i])
        trace(x, denoised)
    return x


def run_euler_ancestral(model, x, sigmas, noise, trace, eta=1.0, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if sigma_down == 0:
            x = denoised
        else:
            d = (x - denoised) / sigmas[i]
            x = x + d * (sigma_down - sigmas[i]) + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
        trace(x, denoised)
    return x


def run_dpmpp_2m(model, x, sigmas, noise, trace):
    sigma_fn = lambda t: t.neg().exp()
    t_fn = lambda sigma: sigma.log().neg()
    old = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        if old is None or sigmas[i + 1] == 0:
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised
        else:
            h_last = t - t_fn(sigmas[i - 1])
            r = h_last / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_d
        old = denoised
        trace(x, denoised)
    return x


def run_dpmpp_2m_sde(model, x, sigmas, noise, trace, eta=1.0, s_noise=1.0):
    lambda_fn = lambda sigma: sigma.log().neg()   # EPS: half-log-SNR is −log σ
    old, h, h_last = None, None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            lambda_s, lambda_t = lambda_fn(sigmas[i]), lambda_fn(sigmas[i + 1])
            h = lambda_t - lambda_s
            h_eta = h * (eta + 1)
            alpha_t = sigmas[i + 1] * lambda_t.exp()
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x + alpha_t * (-h_eta).expm1().neg() * denoised
            if old is not None:
                r = h_last / h
                x = x + 0.5 * alpha_t * (-h_eta).expm1().neg() * (1 / r) * (denoised - old)
            x = x + noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        old = denoised
        h_last = h
        trace(x, denoised)
    return x


SAMPLERS = {
    "lcm": run_lcm, "euler": run_euler, "euler_ancestral": run_euler_ancestral, "dpmpp_2m": run_dpmpp_2m,
    "dpmpp_2m_sde": run_dpmpp_2m_sde, "ddim": run_euler,   # ComfyUI: ddim = ksampler("euler", inpaint random)
}


def start_latent(sigmas, noise, latent):
    """KSAMPLER.sample + EPS.noise_scaling."""
    max_sigma, sigma = float(S.sigma_max), float(sigmas[0])
    max_denoise = math.isclose(max_sigma, sigma, rel_tol=1e-05) or sigma > max_sigma
    s = sigmas[0]
    noise = noise * torch.sqrt(1.0 + s ** 2.0) if max_denoise else noise * s
    noise += latent
    return noise


# --- fixture writers -----------------------------------------------------------------------------------------------

def write_schedules():
    tensors, meta = {"table.sigmas": S.sigmas, "table.log_sigmas": S.log_sigmas}, {}
    for name, fn in SCHEDULERS.items():
        for n in (1, 2, 3, 4, 5, 7, 8, 20, 30):
            tensors[f"sched.{name}.{n}"] = fn(n).float()
    dn = []
    for name in ("simple", "normal", "karras", "exponential", "sgm_uniform", "ddim_uniform", "beta"):
        for steps, denoise in ((4, 0.6), (6, 0.6), (10, 0.3), (4, 0.75), (20, 0.5), (4, 0.99995), (8, 0.05),
                               (5, 0.7), (4, 1.0), (4, 0.0), (3, -0.5)):
            key = f"denoise.{len(dn)}"
            tensors[key] = ksampler_sigmas(name, steps, denoise).float()
            dn.append({"key": key, "scheduler": name, "steps": steps, "denoise": denoise})
    meta["denoise_cases"] = json.dumps(dn)
    # Timestep lookup and fractional σ(t).
    g = torch.Generator().manual_seed(3)
    probe = torch.cat([S.sigmas, torch.exp(torch.rand(300, generator=g) * 7 - 4.5),
                       torch.tensor([0.01, 0.029, 14.6146, 20.0, 1.0])]).float()
    tensors["lookup.sigma"] = probe
    tensors["lookup.t"] = torch.stack([S.timestep(s) for s in probe]).float()
    ts = torch.cat([torch.rand(200, generator=g) * 999, torch.tensor([0.0, 999.0, 749.25, 0.5, -3.0, 1200.0])]).float()
    tensors["interp.t"] = ts
    tensors["interp.sigma"] = torch.stack([S.sigma(t) for t in ts]).float()
    meta["generator"] = f"tools/reference/sampling_fixtures.py (torch {torch.__version__}, mpmath {mpmath.__version__})"
    path = os.path.join(OUT_DIR, "schedules.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata=meta)
    print(f"wrote {path} ({len(tensors)} tensors, {os.path.getsize(path)} bytes)")


def write_trajectories():
    g = torch.Generator().manual_seed(7)
    mu_cond = (torch.randn(SHAPE, generator=g) * 0.8 + 0.2).float()
    mu_uncond = (torch.randn(SHAPE, generator=g) * 0.5 - 0.1).float()
    latent = (torch.randn(SHAPE, generator=g) * 0.9).float()
    initial = torch.randn(SHAPE, generator=torch.Generator().manual_seed(SEED))  # comfy prepare_noise
    step_gen = torch.Generator().manual_seed(SEED)                              # default_noise_sampler
    draws = torch.stack([torch.randn(SHAPE, generator=step_gen) for _ in range(10)])
    tensors = {"mu_cond": mu_cond, "mu_uncond": mu_uncond, "latent": latent, "noise.initial": initial,
               "noise.steps": draws}
    cases = []
    for sampler in SAMPLERS:
        for sched, steps in (("simple", 4), ("karras", 8), ("normal", 6)):
            for denoise in (1.0, 0.6):
                for cfg in (1.0, 3.5):
                    name = f"{sampler}.{sched}.{steps}.{'txt' if denoise == 1.0 else 'img'}.cfg{cfg:g}"
                    sigmas = ksampler_sigmas(sched, steps, denoise)
                    counter = {"cond": 0, "uncond": 0, "noise": 0}

                    def noise(sigma, sigma_next):
                        counter["noise"] += 1
                        return draws[counter["noise"] - 1].clone()

                    model = make_model(cfg, toy_eps(mu_cond, 0.25), toy_eps(mu_uncond, 0.49), counter)
                    base = latent if denoise < 1 else torch.zeros(SHAPE)
                    x0 = start_latent(sigmas, initial.clone(), base)
                    xs, ds = [], []
                    SAMPLERS[sampler](model, x0.clone(), sigmas, noise, lambda x, d: (xs.append(x), ds.append(d)))
                    tensors[f"{name}.sigmas"] = sigmas
                    tensors[f"{name}.start"] = x0
                    tensors[f"{name}.x"] = torch.stack(xs)
                    tensors[f"{name}.denoised"] = torch.stack(ds)
                    cases.append({"name": name, "sampler": sampler, "scheduler": sched, "steps": steps,
                                  "denoise": denoise, "cfg": cfg, "img2img": denoise < 1,
                                  "noise_draws": counter["noise"], "cond_calls": counter["cond"],
                                  "uncond_calls": counter["uncond"]})
    meta = {"cases": json.dumps(cases), "seed": str(SEED), "s2_cond": "0.25", "s2_uncond": "0.49",
            "generator": f"tools/reference/sampling_fixtures.py (torch {torch.__version__})"}
    path = os.path.join(OUT_DIR, "trajectories.safetensors")
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, path, metadata=meta)
    print(f"wrote {path} ({len(cases)} cases, {os.path.getsize(path)} bytes)")


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    write_schedules()
    write_trajectories()


if __name__ == "__main__":
    main()
