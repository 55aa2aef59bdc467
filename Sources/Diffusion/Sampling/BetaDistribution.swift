import Foundation

/// The Beta distribution's CDF and quantile, for the `beta` scheduler (which ComfyUI gets from
/// `scipy.stats.beta.ppf`). Only the timestep ⌊quantile·999⌉ is used, so double precision bisection
/// is far more than enough; it is exact to the last few ulps of the CDF.
enum BetaDistribution {
    /// Regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz),
    /// using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    static func cdf(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - cdf(1 - x, b, a) }
        let logFront = a * log(x) + b * log1p(-x) - (lgamma(a) + lgamma(b) - lgamma(a + b)) - log(a)
        return exp(logFront) * continuedFraction(x, a, b)
    }

    /// 1 / (1 + d₁/(1 + d₂/(1 + …))) with the standard coefficients of the incomplete beta function.
    private static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        func guarded(_ v: Double) -> Double { abs(v) < tiny ? tiny : v }
        var c = 1.0, d = 1 / guarded(1 - (a + b) * x / (a + 1))
        var f = d
        for m in 1...10_000 {
            let m2 = Double(2 * m), md = Double(m)
            for k in 0..<2 {
                let coefficient = k == 0
                    ? md * (b - md) * x / ((a + m2 - 1) * (a + m2))
                    : -(a + md) * (a + b + md) * x / ((a + m2) * (a + m2 + 1))
                d = 1 / guarded(1 + coefficient * d)
                c = guarded(1 + coefficient / c)
                f *= c * d
            }
            if abs(c * d - 1) < 1e-16 { break }
        }
        return f
    }

    /// The x with I_x(a, b) = q, by bisection until the interval stops shrinking.
    static func quantile(_ q: Double, _ a: Double, _ b: Double) -> Double {
        if q <= 0 { return 0 }
        if q >= 1 { return 1 }
        var lo = 0.0, hi = 1.0
        while true {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { return mid }
            if cdf(mid, a, b) < q { lo = mid } else { hi = mid }
        }
    }
}
