import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// Issue 4's full-size check (not in CI): lcm / simple / 4 steps / CFG 1 at 256×256 on the random full-size SDXL UNet
/// with a rank-64 DMD2-shaped LoRA at 0.9, against diffusers + ComfyUI's sampler semantics. Files: make_full_sdxl.py
/// then full_sdxl_lora_check.py (tools/reference/models) into `$SUMI_FULL_SDXL_DIR`. Needs ~12 GB of memory and
/// minutes. Runs the LoRA as runtime adapters and merged (with the checkpoint as base provider, so no 10 GB of
/// pristine copies), and prints both generation times and a strength change in each mode.
final class LoRAFullSizeTests: XCTestCase {
    func testDMD2ShapedLoRAGenerationMatchesReference() throws {
        guard let dir = ProcessInfo.processInfo.environment["SUMI_FULL_SDXL_DIR"], !dir.isEmpty else {
            throw XCTSkip("SUMI_FULL_SDXL_DIR not set")
        }
        let ref = try SafeTensorsFile(path: "\(dir)/lora_check.safetensors")
        let c = Compute()
        let file = try SafeTensorsFile(path: "\(dir)/unet_diffusers.safetensors")
        let unet = UNet(config: .sdxl)
        try unet.load(from: file, layout: .diffusers)
        let net = try LoRANetwork.load(path: "\(dir)/dmd2_shaped_lora.safetensors", targets: LoRATargetSpace(unet: .sdxl))
        XCTAssertEqual(net.unmatchedKeys, [])
        XCTAssertEqual(net.modules.count, 788)
        XCTAssertEqual(net.format, .kohyaDiffusers)
        XCTAssertEqual(Set(net.modules.map(\.alphaScale)), [0.125])

        let context = try ref.tensor("context"), pooled = try ref.tensor("pooled")
        let sigmas = try ref.tensor("sigmas").scalars
        XCTAssertEqual(Scheduler.simple.sigmas(steps: 4), sigmas)
        func generate() -> (latent: Tensor, seconds: Double) {
            let inf = c.inference
            let denoiser = EpsDenoiser(cond: { x, t in
                unet(x, timestep: [t], context: context, addTextEmbeds: pooled, timeIds: [[256, 256, 0, 0, 256, 256]], inf)
            })
            let start = Date()
            let x = SamplingRun(sampler: .lcm, sigmas: sigmas, denoiser: denoiser, shape: [1, 4, 32, 32], seed: 42).run()
            return (x, Date().timeIntervalSince(start))
        }
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = Date()
            try body()
            return Date().timeIntervalSince(start)
        }
        let want = try ref.tensor("latent"), wantBase = try ref.tensor("latent_base")

        // Runtime adapters.
        let stack = LoRAStack()
        let id = stack.add(net, strength: 0.9)
        let attach = try seconds { try stack.attach(to: LoRAStack.layers(unet: unet)) }
        let runtime = generate()
        assertClose(runtime.latent, want, rtol: 1e-3, "runtime LoRA at 0.9")
        let change = seconds { stack.setStrength(0.5, for: id); stack.setStrength(0.9, for: id) } / 2
        stack.setStrength(0, for: id)
        let base = generate()
        assertClose(base.latent, wantBase, rtol: 1e-3, "runtime LoRA at 0 (base)")
        stack.detach()

        // Merged, pristine weights re-read from the checkpoint.
        let merged = LoRAStack(baseProvider: { name in try file.tensor(String(name.dropFirst("unet.".count))) })
        let mid = merged.add(net, strength: 0.9)
        let params = LoRAStack.parameters(unet: unet)
        let first = try merged.apply(to: params, compute: c)
        let mergedRun = generate()
        assertClose(mergedRun.latent, want, rtol: 1e-3, "merged LoRA at 0.9")
        merged.setStrength(0.5, for: mid)
        let mergedChange = try merged.apply(to: params, compute: c)

        print("LoRA full-size check (lcm/simple/4, CFG 1, 256×256, rank 64 ×788 at 0.9):")
        print("  runtime vs reference: \(closeness(runtime.latent, want, rtol: 1e-3))")
        print("  merged  vs reference: \(closeness(mergedRun.latent, want, rtol: 1e-3))")
        print("  base    vs reference: \(closeness(base.latent, wantBase, rtol: 1e-3))")
        print(String(format: "  sampling 4 steps: runtime adapters %.1f s, merged %.1f s, no LoRA (adapters at 0) %.1f s", runtime.seconds,
                     mergedRun.seconds, base.seconds))
        print(String(format: "  strength change: runtime %.6f s (attach %.3f s); merged %.2f s (first merge %.2f s, %d GEMMs)", change,
                     attach, mergedChange.seconds, first.seconds, mergedChange.gemms))
    }
}
