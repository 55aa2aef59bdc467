import Foundation

/// How the σ list of a sampling run is chosen, under ComfyUI's scheduler names.
///
/// Each case reproduces ComfyUI's `calculate_sigmas` (comfyanonymous/ComfyUI `comfy/samplers.py`:
/// `simple_scheduler`, `normal_scheduler`, `ddim_scheduler`, `beta_scheduler`; and
/// `comfy/k_diffusion/sampling.py`: `get_sigmas_karras`, `get_sigmas_exponential`), including its
/// float32 arithmetic, so a list matches ComfyUI's to float rounding. Lists are descending and end in 0.
public enum Scheduler: String, CaseIterable, Sendable {
    /// Evenly spaced integer timesteps from the top: step k uses σ[T − 1 − ⌊k·T/N⌋]
    /// (N = 4 on SDXL: t = 999, 749, 499, 249 — DMD2's timesteps).
    case simple
    /// Timesteps linearly spaced from T−1 to 0 (both included), σ by log-linear interpolation.
    case normal
    /// Karras et al. (2022): linear in σ^(1/7) from σ_max to σ_min.
    case karras
    /// Linear in log σ from σ_max to σ_min.
    case exponential
    /// Like `normal` with N+1 points and the last one (t = 0) dropped.
    case sgmUniform = "sgm_uniform"
    /// The DDIM paper's uniform stride through the table from timestep 1 upwards; for step counts
    /// that do not divide T it yields more than N steps, as ComfyUI's does.
    case ddimUniform = "ddim_uniform"
    /// Timesteps at the quantiles of a Beta(0.6, 0.6) distribution (arXiv 2407.12173), duplicates
    /// removed, so it can yield fewer than N steps.
    case beta

    /// The ComfyUI name (`"sgm_uniform"` etc.).
    public var comfyName: String { rawValue }

    /// The σ list for a full-strength run of `steps` steps (`steps + 1` values ending in 0 for all
    /// schedulers but `ddim_uniform` and `beta`, see their notes). Empty for `steps <= 0`.
    public func fullSigmas(steps: Int, schedule: DiscreteSchedule = .sdxl) -> [Float] {
        guard steps > 0 else { return [] }
        switch self {
        case .simple: return Self.simpleSigmas(steps, schedule)
        case .normal: return Self.normalSigmas(steps, schedule, sgm: false)
        case .sgmUniform: return Self.normalSigmas(steps, schedule, sgm: true)
        case .karras: return Self.karrasSigmas(steps, sigmaMin: schedule.sigmaMin, sigmaMax: schedule.sigmaMax)
        case .exponential: return Self.exponentialSigmas(steps, sigmaMin: schedule.sigmaMin, sigmaMax: schedule.sigmaMax)
        case .ddimUniform: return Self.ddimUniformSigmas(steps, schedule)
        case .beta: return Self.betaSigmas(steps, schedule)
        }
    }

    /// The σ list ComfyUI's `KSampler` runs for `steps` steps at strength `denoise` (img2img).
    ///
    /// `denoise` > 0.9999 gives the full schedule; `denoise` ≤ 0 gives an empty list (nothing to do:
    /// the latent is returned unchanged); otherwise the schedule for ⌊steps / denoise⌋ steps is built
    /// and its last `steps + 1` values are kept (`KSampler.set_steps`), so the run starts part-way down.
    public func sigmas(steps: Int, denoise: Double = 1, schedule: DiscreteSchedule = .sdxl) -> [Float] {
        if denoise > 0.9999 { return fullSigmas(steps: steps, schedule: schedule) }
        if denoise <= 0 { return [] }
        let longer = fullSigmas(steps: Int(Double(steps) / denoise), schedule: schedule)
        return Array(longer.suffix(steps + 1))
    }

    // MARK: - The schedulers

    static func simpleSigmas(_ steps: Int, _ s: DiscreteSchedule) -> [Float] {
        let stride = Double(s.count) / Double(steps)
        var out = (0..<steps).map { x in s.sigmas[s.count - 1 - Int(Double(x) * stride)] }
        out.append(0)
        return out
    }

    static func normalSigmas(_ steps: Int, _ s: DiscreteSchedule, sgm: Bool) -> [Float] {
        let start = Float(s.timestep(nearestTo: s.sigmaMax)), end = Float(s.timestep(nearestTo: s.sigmaMin))
        var n = steps, appendZero = true
        let timesteps: [Float]
        if sgm {
            timesteps = Array(DiscreteSchedule.linspace32(start, end, n + 1).dropLast())
        } else {
            // Schedules whose last σ is 0 already end at 0 and get one more point instead of the zero.
            if abs(s.sigma(end)) <= 1e-5 { n += 1; appendZero = false }
            timesteps = DiscreteSchedule.linspace32(start, end, n)
        }
        var out = timesteps.map { s.sigma($0) }
        if appendZero { out.append(0) }
        return out
    }

    static func karrasSigmas(_ n: Int, sigmaMin: Float, sigmaMax: Float, rho: Double = 7) -> [Float] {
        // The inverse-ρ powers are Python floats (double); torch rounds each to float32 when it
        // meets the float32 ramp.
        let minInv = Double(sigmaMin).pow(1 / rho), maxInv = Double(sigmaMax).pow(1 / rho)
        let span = Float(minInv - maxInv), top = Float(maxInv), p = Float(rho)
        var out = DiscreteSchedule.linspace32(0, 1, n).map { Foundation.pow(top + $0 * span, p) }
        out.append(0)
        return out
    }

    static func exponentialSigmas(_ n: Int, sigmaMin: Float, sigmaMax: Float) -> [Float] {
        let logs = DiscreteSchedule.linspace32(Float(Foundation.log(Double(sigmaMax))),
                                               Float(Foundation.log(Double(sigmaMin))), n)
        return logs.map { Foundation.exp($0) } + [0]
    }

    static func ddimUniformSigmas(_ steps: Int, _ s: DiscreteSchedule) -> [Float] {
        var x = 1, n = steps
        var out: [Float]
        if abs(s.sigmas[x]) <= 1e-5 { n += 1; out = [] } else { out = [0] }
        let stride = max(s.count / n, 1)
        while x < s.count { out.append(s.sigmas[x]); x += stride }
        return out.reversed()
    }

    static func betaSigmas(_ steps: Int, _ s: DiscreteSchedule, alpha: Double = 0.6, beta: Double = 0.6) -> [Float] {
        let total = Double(s.count - 1)
        var out = [Float](), last = -1.0
        for i in 0..<steps {
            // numpy.linspace(0, 1, steps, endpoint=False) is i·(1/steps).
            let q = 1 - Double(i) * (1 / Double(steps))
            let t = (BetaDistribution.quantile(q, alpha, beta) * total).rounded(.toNearestOrEven)
            if t != last { out.append(s.sigmas[Int(t)]) }
            last = t
        }
        out.append(0)
        return out
    }
}

private extension Double {
    func pow(_ e: Double) -> Double { Foundation.pow(self, e) }
}
