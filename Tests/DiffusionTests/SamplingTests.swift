import Foundation
import Checkpoint
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// Schedules, schedulers and samplers against tools/reference/sampling_fixtures.py (a float32 transcription
/// of ComfyUI's formulas driven by closed-form toy ε-models, so no UNet is involved).
final class SamplingTests: XCTestCase {
    static let schedules = try! SafeTensorsFile(path: Fixtures.path("sampling/schedules.safetensors", target: "DiffusionTests"))
    static let trajectories = try! SafeTensorsFile(path: Fixtures.path("sampling/trajectories.safetensors", target: "DiffusionTests"))
    let sdxl = DiscreteSchedule.sdxl

    /// Elementwise |a − e| ≤ rtol·|e| (σ lists: every value matters, including the small ones).
    func assertElementsClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-6, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        guard actual.count == expected.count else {
            XCTFail("\(what): \(actual.count) values vs expected \(expected.count): \(actual) vs \(expected)", file: file, line: line)
            return
        }
        for (i, (a, e)) in zip(actual, expected).enumerated() where !(abs(a - e) <= rtol * abs(e)) {
            XCTFail("\(what)[\(i)]: \(a) vs \(e) (rel \(abs(a - e) / abs(e)))", file: file, line: line)
            return
        }
    }

    func floats(_ name: String, in file: SafeTensorsFile = schedules) throws -> [Float] { try file.tensor(name).scalars }

    // MARK: - Schedule

    func testTableMatchesComfy() throws {
        let sigmas = try floats("table.sigmas"), logs = try floats("table.log_sigmas")
        assertElementsClose(sdxl.sigmas, sigmas, "sigmas")
        assertElementsClose(sdxl.logSigmas, logs, "log sigmas")
        XCTAssertEqual(sdxl.sigmas, sigmas, "σ table is bit-identical to ComfyUI's")
        let offByUlp = zip(sdxl.logSigmas, logs).filter { $0 != $1 }.count
        print("σ table: log σ not bit-identical in \(offByUlp) of 1000 entries")
        XCTAssertEqual(sdxl.count, 1000)
        XCTAssertEqual(sdxl.sigmaMin, 0.029167, accuracy: 1e-6)
        XCTAssertEqual(sdxl.sigmaMax, 14.614641, accuracy: 1e-5)
    }

    func testNearestTimestepIsComfys() throws {
        let sigmas = try floats("lookup.sigma"), ts = try floats("lookup.t")
        for (s, t) in zip(sigmas, ts) { XCTAssertEqual(sdxl.timestep(nearestTo: s), Int(t), "σ = \(s)") }
    }

    func testFractionalSigma() throws {
        let ts = try floats("interp.t")
        assertElementsClose(ts.map { sdxl.sigma($0) }, try floats("interp.sigma"), "σ(t)")
    }

    // MARK: - Schedulers

    func testSchedulerListsMatchComfy() throws {
        var checked = 0, worst: Float = 0, inexact = 0
        for scheduler in Scheduler.allCases {
            for n in [1, 2, 3, 4, 5, 7, 8, 20, 30] {
                let expected = try floats("sched.\(scheduler.comfyName).\(n)")
                let actual = scheduler.fullSigmas(steps: n)
                assertElementsClose(actual, expected, "\(scheduler.comfyName) \(n) steps")
                for (a, e) in zip(actual, expected) where a != e { inexact += 1; worst = max(worst, abs(a - e) / abs(e)) }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 63)
        print("scheduler lists: \(inexact) values not bit-identical, max relative error \(worst)")
    }

    func testDenoiseListsMatchKSampler() throws {
        let json = try XCTUnwrap(Self.schedules.metadata["denoise_cases"]).data(using: .utf8)!
        let cases = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [[String: Any]])
        XCTAssertEqual(cases.count, 77)
        for c in cases {
            let scheduler = try XCTUnwrap(Scheduler(rawValue: c["scheduler"] as! String))
            let steps = (c["steps"] as! NSNumber).intValue, denoise = (c["denoise"] as! NSNumber).doubleValue
            let expected = try floats(c["key"] as! String)
            assertElementsClose(scheduler.sigmas(steps: steps, denoise: denoise), expected,
                                "\(scheduler.comfyName) \(steps) steps denoise \(denoise)")
        }
    }

    /// The timesteps the UNet sees (ComfyUI v0.3.64 behaviour, sdxl-inference-reference §3b and §8).
    func testKnownTimesteps() {
        func t(_ s: Scheduler, _ n: Int) -> [Int] { s.fullSigmas(steps: n).dropLast().map { sdxl.timestep(nearestTo: $0) } }
        XCTAssertEqual(t(.simple, 4), [999, 749, 499, 249])
        XCTAssertEqual(t(.simple, 5), [999, 799, 599, 399, 199])
        XCTAssertEqual(t(.normal, 6), [999, 799, 599, 400, 200, 0])
        let karras = Scheduler.karras.fullSigmas(steps: 8)
        for (a, e) in zip(karras, [14.6146, 7.9029, 4.0277, 1.9104, 0.8289, 0.3211, 0.1072, 0.0292, 0] as [Float]) {
            XCTAssertEqual(a, e, accuracy: 1e-4)
        }
        XCTAssertEqual(Scheduler.simple.sigmas(steps: 4, denoise: 0), [])
        XCTAssertEqual(Scheduler.simple.sigmas(steps: 4, denoise: 1), Scheduler.simple.fullSigmas(steps: 4))
        XCTAssertEqual(Scheduler.simple.fullSigmas(steps: 0), [])
    }

    func testBetaQuantile() {
        XCTAssertEqual(BetaDistribution.quantile(0.5, 0.6, 0.6), 0.5, accuracy: 1e-14)
        for q in [1e-6, 0.01, 0.3, 0.77, 0.999] {
            XCTAssertEqual(BetaDistribution.cdf(BetaDistribution.quantile(q, 0.6, 0.6), 0.6, 0.6), q, accuracy: 1e-13)
            XCTAssertEqual(BetaDistribution.cdf(BetaDistribution.quantile(q, 2.5, 0.7), 2.5, 0.7), q, accuracy: 1e-13)
        }
        // Uniform case: Beta(1, 1) is the identity.
        XCTAssertEqual(BetaDistribution.cdf(0.3, 1, 1), 0.3, accuracy: 1e-14)
    }

    // MARK: - Samplers

    struct TrajectoryCase {
        let name: String, sampler: Sampler, scheduler: Scheduler, steps: Int, denoise: Double, cfg: Double
        let img2img: Bool, noiseDraws: Int, condCalls: Int, uncondCalls: Int
    }

    func trajectoryCases() throws -> [TrajectoryCase] {
        let json = try XCTUnwrap(Self.trajectories.metadata["cases"]).data(using: .utf8)!
        let raw = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [[String: Any]])
        return raw.map { c in
            func i(_ k: String) -> Int { (c[k] as! NSNumber).intValue }
            func d(_ k: String) -> Double { (c[k] as! NSNumber).doubleValue }
            return TrajectoryCase(name: c["name"] as! String, sampler: Sampler(rawValue: c["sampler"] as! String)!,
                                  scheduler: Scheduler(rawValue: c["scheduler"] as! String)!, steps: i("steps"),
                                  denoise: d("denoise"), cfg: d("cfg"), img2img: (c["img2img"] as! NSNumber).boolValue,
                                  noiseDraws: i("noise_draws"), condCalls: i("cond_calls"), uncondCalls: i("uncond_calls"))
        }
    }

    /// Exact ε of Gaussian data N(μ, s²) at the table σ of timestep t, from the model input x/√(σ²+1); the
    /// same float32 operations as the fixture script's `toy_eps`.
    final class ToyEps {
        let mu: Tensor, s2: Float, schedule: DiscreteSchedule
        var calls = 0
        init(mu: Tensor, s2: Float, schedule: DiscreteSchedule) { self.mu = mu; self.s2 = s2; self.schedule = schedule }
        func callAsFunction(_ xs: Tensor, _ t: Float) -> Tensor {
            calls += 1
            let sg = schedule.sigmas[Int(t)]
            let f = (sg * sg + 1).squareRoot(), denom = s2 + sg * sg
            let out = Tensor(uninitialized: xs.shape)
            for i in 0..<xs.count { out.data[i] = (sg * (xs.data[i] * f - mu.data[i])) / denom }
            return out
        }
    }

    /// Feeds back the fixture's recorded step noise, in order.
    struct FixtureNoise: NoiseSource {
        let draws: Tensor
        var used = 0
        mutating func noise(shape: [Int], sigma: Float, sigmaNext: Float) -> Tensor {
            precondition(draws.shape.dropFirst().elementsEqual(shape), "noise shape \(shape)")
            let n = shape.product
            let t = Tensor(shape: shape, values: Array(draws.scalars[used * n..<(used + 1) * n]))
            used += 1
            return t
        }
    }

    /// Runs one fixture case step by step and compares start, every step's x and denoised, the number of
    /// model calls and noise draws. `torchNoise` uses the seeded `TorchGenerator` instead of the recorded noise.
    func checkTrajectory(_ c: TrajectoryCase, torchNoise: Bool) throws -> Double {
        let f = Self.trajectories
        let cond = ToyEps(mu: try f.tensor("mu_cond"), s2: 0.25, schedule: sdxl)
        let uncond = ToyEps(mu: try f.tensor("mu_uncond"), s2: 0.49, schedule: sdxl)
        let denoiser = EpsDenoiser(schedule: sdxl, cfgScale: c.cfg, cond: { cond($0, $1) }, uncond: { uncond($0, $1) })
        let sigmas = c.scheduler.sigmas(steps: c.steps, denoise: c.denoise)
        assertElementsClose(sigmas, try f.tensor("\(c.name).sigmas").scalars, "\(c.name) sigmas")
        let latent = c.img2img ? try f.tensor("latent") : nil
        let run: SamplingRun
        if torchNoise {
            let seed = UInt64(try XCTUnwrap(f.metadata["seed"]))!
            run = SamplingRun(sampler: c.sampler, sigmas: sigmas, denoiser: denoiser, shape: [1, 4, 6, 5], seed: seed, latent: latent)
        } else {
            run = SamplingRun(sampler: c.sampler, sigmas: sigmas, denoiser: denoiser, noise: try f.tensor("noise.initial"),
                              latent: latent, stepNoise: FixtureNoise(draws: try f.tensor("noise.steps")))
        }
        assertClose(run.x, try f.tensor("\(c.name).start"), rtol: 1e-6, "\(c.name) start")
        let xs = try f.tensor("\(c.name).x"), ds = try f.tensor("\(c.name).denoised")
        let n = xs.count / xs.shape[0]
        func slice(_ t: Tensor, _ k: Int) -> Tensor { Tensor(shape: [1, 4, 6, 5], values: Array(t.scalars[k * n..<(k + 1) * n])) }
        var worst = 0.0, steps = 0
        for step in run {
            XCTAssertEqual(step.index, steps)
            XCTAssertEqual(step.count, xs.shape[0])
            XCTAssertEqual(step.sigma, sigmas[steps])
            let ex = slice(xs, steps), ed = slice(ds, steps)
            assertClose(step.x, ex, rtol: 1e-5, "\(c.name) x after step \(steps)")
            assertClose(step.denoised, ed, rtol: 1e-5, "\(c.name) denoised at step \(steps)")
            worst = max(worst, closeness(step.x, ex, rtol: 1e-5).maxRelative, closeness(step.denoised, ed, rtol: 1e-5).maxRelative)
            steps += 1
        }
        XCTAssertEqual(steps, xs.shape[0], c.name)
        XCTAssertTrue(run.isFinished)
        XCTAssertEqual(cond.calls, c.condCalls, "\(c.name) cond calls")
        XCTAssertEqual(uncond.calls, c.uncondCalls, "\(c.name) uncond calls (cfg \(c.cfg))")
        return worst
    }

    func testTrajectoriesWithFixtureNoise() throws {
        let cases = try trajectoryCases()
        XCTAssertEqual(cases.count, 72)
        XCTAssertEqual(Set(cases.map(\.sampler)), Set(Sampler.allCases))
        var worst = (0.0, "")
        for c in cases {
            let e = try checkTrajectory(c, torchNoise: false)
            if e > worst.0 { worst = (e, c.name) }
        }
        print("sampling trajectories (fixture noise): max relative error \(worst.0) in \(worst.1)")
    }

    /// Same cases with the noise drawn by `TorchGenerator` (ComfyUI CPU seeding): initial noise from the seed,
    /// step noise from a fresh generator with the same seed.
    func testTrajectoriesWithTorchGeneratorNoise() throws {
        var worst = 0.0
        for c in try trajectoryCases() { worst = max(worst, try checkTrajectory(c, torchNoise: true)) }
        print("sampling trajectories (TorchGenerator noise): max relative error \(worst)")
    }

    func testStepNoiseDrawsMatchComfy() throws {
        let f = Self.trajectories
        var source = TorchNoiseSource(seed: 42)
        let draws = try f.tensor("noise.steps")
        let n = draws.count / draws.shape[0]
        for k in 0..<draws.shape[0] {
            let got = source.noise(shape: [1, 4, 6, 5], sigma: 1, sigmaNext: 0.5)
            assertBitEqual(got, Tensor(shape: [1, 4, 6, 5], values: Array(draws.scalars[k * n..<(k + 1) * n])), "draw \(k)")
        }
        // ComfyUI CPU: the first step-noise draw is the initial noise.
        assertBitEqual(try f.tensor("noise.initial"), Tensor(shape: [1, 4, 6, 5], values: Array(draws.scalars[0..<n])))
    }

    // MARK: - Behaviour

    func testCfgOneSkipsUncondAndEqualsCond() {
        var uncondCalls = 0, seenT: [Float] = []
        let eps: EpsDenoiser.EpsModel = { xs, t in seenT.append(t); return xs }
        let d1 = EpsDenoiser(cfgScale: 1, cond: eps, uncond: { xs, _ in uncondCalls += 1; return xs })
        let x = randomTensor([1, 4, 3, 5], seed: 3, scale: 5)
        let out = d1.denoise(x, sigma: 4.081729, step: 0)
        XCTAssertEqual(uncondCalls, 0)
        XCTAssertEqual(seenT, [749])
        let s = (Float(4.081729) * 4.081729 + 1).squareRoot()
        for i in 0..<x.count { XCTAssertEqual(out.data[i], x.data[i] - (x.data[i] / s) * 4.081729) }
        // cfg ≠ 1 calls both and guides in denoised space.
        let d2 = EpsDenoiser(cfgScale: 2, cond: { xs, _ in xs }, uncond: { xs, _ in uncondCalls += 1; return SamplingMath.map(xs) { $0 * 0 } })
        let g = d2.denoise(x, sigma: 2, step: 0)
        XCTAssertEqual(uncondCalls, 1)
        let s2 = Float(5).squareRoot()
        for i in 0..<x.count {
            let c = x.data[i] - (x.data[i] / s2) * 2, u = x.data[i]
            XCTAssertEqual(g.data[i], u + (c - u) * 2)
        }
    }

    func testStartNoiseScalingAndEmptyRun() {
        let noise = randomTensor([1, 4, 2, 3], seed: 5), latent = randomTensor([1, 4, 2, 3], seed: 6)
        struct Identity: Denoiser { func denoise(_ x: Tensor, sigma: Float, step: Int) -> Tensor { x } }
        let txt = SamplingRun(sampler: .euler, sigmas: Scheduler.simple.fullSigmas(steps: 4), denoiser: Identity(),
                              noise: noise, stepNoise: TorchNoiseSource(seed: 0))
        let f = (1 + sdxl.sigmaMax * sdxl.sigmaMax).squareRoot()
        for i in 0..<noise.count { XCTAssertEqual(txt.x.data[i], noise.data[i] * f) }
        let img = SamplingRun(sampler: .euler, sigmas: [2, 1, 0], denoiser: Identity(), noise: noise, latent: latent,
                              stepNoise: TorchNoiseSource(seed: 0))
        for i in 0..<noise.count { XCTAssertEqual(img.x.data[i], noise.data[i] * 2 + latent.data[i]) }
        let empty = SamplingRun(sampler: .lcm, sigmas: Scheduler.simple.sigmas(steps: 4, denoise: 0), denoiser: Identity(),
                                noise: noise, latent: latent, stepNoise: TorchNoiseSource(seed: 0))
        XCTAssertEqual(empty.stepCount, 0)
        XCTAssertNil(empty.next())
        XCTAssertEqual(empty.run().scalars, latent.scalars)
    }

    func testRunCanStopEarly() {
        var calls = 0
        let denoiser = EpsDenoiser(cond: { xs, _ in calls += 1; return SamplingMath.map(xs) { $0 * 0.5 } })
        let run = SamplingRun(sampler: .lcm, sigmas: Scheduler.simple.fullSigmas(steps: 4), denoiser: denoiser,
                              shape: [1, 4, 4, 4], seed: 1)
        XCTAssertEqual(run.stepCount, 4)
        XCTAssertNotNil(run.next())
        XCTAssertNotNil(run.next())
        XCTAssertFalse(run.isFinished)
        XCTAssertEqual(run.stepIndex, 2)
        XCTAssertEqual(calls, 2)
        _ = run.run()
        XCTAssertTrue(run.isFinished)
        XCTAssertEqual(calls, 4)
        XCTAssertNil(run.next())
    }

    func testComfyNames() {
        XCTAssertEqual(Sampler.allCases.map(\.comfyName), ["lcm", "euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde", "ddim"])
        XCTAssertEqual(Scheduler.allCases.map(\.comfyName),
                       ["simple", "normal", "karras", "exponential", "sgm_uniform", "ddim_uniform", "beta"])
    }
}
