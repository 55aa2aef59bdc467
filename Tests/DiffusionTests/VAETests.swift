import Foundation
import XCTest
import Checkpoint
import Tensor
import TestSupport
@testable import Diffusion

/// The SDXL VAE against diffusers `AutoencoderKL` (tiny config, random weights; fixtures written by
/// tools/reference/models/vae_fixtures.py), plus key maps, tiling, previews and byte conversion.
final class VAETests: XCTestCase {
    let c = Compute(threads: 2)

    func fixture(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("vae/\(name).safetensors", target: "DiffusionTests"))
    }

    func tinyVAE(_ weights: String = "weights_diffusers") throws -> AutoencoderKL {
        let vae = AutoencoderKL(.tiny)
        try vae.load(from: try fixture(weights))
        return vae
    }

    /// Encode and decode against the reference; returns the worst relative error seen.
    @discardableResult
    func checkForward(_ vae: AutoencoderKL, _ label: String) throws -> Double {
        let io = try fixture("io")
        let dist = vae.encode(try io.tensor("encode.in.image"), c.inference)
        let out = vae.decode(try io.tensor("decode.in.z"), c.inference)
        let pairs: [(String, Tensor, Tensor)] = [
            ("mean", dist.mean, try io.tensor("encode.mean")),
            ("logvar", dist.logvar, try io.tensor("encode.logvar")),
            ("decode", out, try io.tensor("decode.out")),
        ]
        var worst = 0.0
        for (name, actual, expected) in pairs {
            assertClose(actual, expected, rtol: 1e-4, "\(label) \(name)")
            let cl = closeness(actual, expected, rtol: 1e-4)
            worst = max(worst, cl.maxRelative)
            print("VAE \(label) \(name): \(cl)")
        }
        return worst
    }

    func testForwardMatchesDiffusersWithDiffusersWeights() throws {
        try checkForward(try tinyVAE("weights_diffusers"), "diffusers")
    }

    func testForwardMatchesDiffusersWithLDMWeights() throws {
        let file = try fixture("weights_ldm")
        let detected = AutoencoderKL.detectLayout(in: file)
        XCTAssertEqual(detected?.layout, .ldm)
        XCTAssertEqual(detected?.prefix, "first_stage_model.")
        try checkForward(try tinyVAE("weights_ldm"), "ldm")
    }

    func testForwardMatchesDiffusersWithLegacyAttentionNames() throws {
        XCTAssertEqual(AutoencoderKL.detectLayout(in: try fixture("weights_legacy"))?.layout, .diffusersLegacyAttention)
        try checkForward(try tinyVAE("weights_legacy"), "legacy")
    }

    func testGradientsMatchDiffusers() throws {
        let vae = try tinyVAE()
        let io = try fixture("io")
        let image = try io.tensor("encode.in.image"); image.requiresGrad = true
        let dist = vae.encode(image, c)
        let loss = c.add(c.sum(c.mul(dist.mean, try io.tensor("encode.dout.mean"))),
                         c.sum(c.mul(dist.logvar, try io.tensor("encode.dout.logvar"))))
        loss.backward(compute: c)
        assertClose(image.grad, try io.tensor("encode.grad.image"), rtol: 1e-4, "encode grad")

        let z = try io.tensor("decode.in.z"); z.requiresGrad = true
        vae.decode(z, c).backward(seed: try io.tensor("decode.dout"), compute: c)
        assertClose(z.grad, try io.tensor("decode.grad.z"), rtol: 1e-4, "decode grad")
        print("VAE grads: encode \(closeness(image.grad!, try io.tensor("encode.grad.image"), rtol: 1e-4)), decode \(closeness(z.grad!, try io.tensor("decode.grad.z"), rtol: 1e-4))")
    }

    func testGradientCheckpointingGivesSameGradients() throws {
        let vae = try tinyVAE()
        let z = try fixture("io").tensor("decode.in.z")
        let dOut = randomTensor([1, 3, 24, 20], seed: 3)
        var grads: [Tensor] = []
        for checkpointing in [false, true] {
            vae.gradientCheckpointing = checkpointing
            let zz = z.copy(); zz.requiresGrad = true
            vae.decode(zz, c).backward(seed: dOut, compute: c)
            grads.append(zz.grad!)
        }
        assertClose(grads[1], grads[0], rtol: 1e-6)
    }

    func testStrictLoading() throws {
        // Wrong architecture → shape mismatch naming the key.
        let wide = AutoencoderKL(VAEConfig(blockOutChannels: [8, 16, 32], layersPerBlock: 1, normGroups: 4))
        XCTAssertThrowsError(try wide.load(from: try fixture("weights_diffusers"))) { error in
            guard case LoadError.shapeMismatch = error else { return XCTFail("expected shapeMismatch, got \(error)") }
        }
        // Wrong layout → missing key.
        XCTAssertThrowsError(try AutoencoderKL(.tiny).load(from: try fixture("weights_ldm"), layout: .diffusers,
                                                            prefix: "first_stage_model.")) { error in
            guard case LoadError.missingKey = error else { return XCTFail("expected missingKey, got \(error)") }
        }
        // Fewer levels than the file → unexpected keys.
        let shallow = AutoencoderKL(VAEConfig(blockOutChannels: [8, 16], layersPerBlock: 1, normGroups: 4))
        XCTAssertThrowsError(try shallow.load(from: try fixture("weights_diffusers"))) { error in
            XCTAssertTrue("\(error)".contains("weights_diffusers"), "\(error)")
        }
    }

    func testSDXLNamesAndLDMMap() {
        let vae = AutoencoderKL(.sdxl)
        let names = vae.namedParameters.map(\.0)
        XCTAssertEqual(names.count, 248)   // diffusers AutoencoderKL SDXL state dict
        XCTAssertEqual(vae.parameterCount, 83_653_863)
        let ldm = Set(names.map { AutoencoderKL.ldmName($0, levels: 4) })
        XCTAssertEqual(ldm.count, names.count, "LDM names must be distinct")
        for expected in [
            "encoder.down.0.block.1.conv2.weight", "encoder.down.1.block.0.nin_shortcut.weight",
            "encoder.down.2.downsample.conv.bias", "encoder.mid.attn_1.proj_out.weight", "encoder.mid.block_2.norm1.bias",
            "encoder.norm_out.weight", "decoder.up.0.block.0.nin_shortcut.weight", "decoder.up.0.block.2.conv1.weight",
            "decoder.up.1.block.0.nin_shortcut.bias", "decoder.up.3.upsample.conv.weight", "decoder.up.1.upsample.conv.bias",
            "decoder.mid.attn_1.norm.weight", "decoder.mid.attn_1.q.bias", "quant_conv.weight", "post_quant_conv.bias",
        ] {
            XCTAssertTrue(ldm.contains(expected), expected)
        }
        XCTAssertFalse(ldm.contains("decoder.up.0.upsample.conv.weight"))
        XCTAssertFalse(ldm.contains("encoder.down.3.downsample.conv.weight"))
        XCTAssertEqual(AutoencoderKL.legacyAttentionName("decoder.mid_block.attentions.0.to_out.0.weight"),
                       "decoder.mid_block.attentions.0.proj_attn.weight")
    }

    func testPadAndSamplingGradients() {
        assertGradientsMatchFiniteDifferences([randomTensor([2, 3, 5, 4], seed: 11)]) { c, xs in c.padRightBottom(xs[0]) }
        let noise = randomTensor([1, 2, 3, 3], seed: 13)
        assertGradientsMatchFiniteDifferences([randomTensor([1, 2, 3, 3], seed: 12), randomTensor([1, 2, 3, 3], seed: 14)]) { c, xs in
            LatentDistribution(mean: xs[0], rawLogvar: xs[1], c).sample(noise: noise, c)
        }
    }

    /// PSNR (dB) of two [-1, 1] images after clamping, on the [0, 1] scale.
    func psnr(_ a: Tensor, _ b: Tensor) -> Double {
        var se = 0.0
        for i in 0..<a.count {
            let x = Double(min(max((a.data[i] + 1) / 2, 0), 1)), y = Double(min(max((b.data[i] + 1) / 2, 0), 1))
            se += (x - y) * (x - y)
        }
        return 10 * log10(1 / max(se / Double(a.count), 1e-20))
    }

    func testTiledDecode() throws {
        let vae = try tinyVAE()
        let z = randomTensor([1, 4, 40, 34], seed: 21, scale: 1.7)
        let full = vae.decode(z, c.inference)
        // 3 × 3 cores of ≤ 14 latent pixels, halo 8 (≥ the tiny up path's receptive field).
        let tiled = vae.decodeTiled(z, tileLatent: 14, overlap: 8, c)
        XCTAssertEqual(tiled.shape, full.shape)
        let db = psnr(tiled, full)
        print(String(format: "VAE tiled decode (tiny, latent 40×34, tile 14, halo 8): PSNR %.2f dB, %@", db,
                     closeness(tiled, full, rtol: 1e-4).description))
        XCTAssertGreaterThanOrEqual(db, 40)
        assertClose(tiled, full, rtol: 1e-4)
        // A halo below the receptive field is approximate but still close.
        let thin = psnr(vae.decodeTiled(z, tileLatent: 14, overlap: 4, c), full)
        print(String(format: "VAE tiled decode (tile 14, halo 4): PSNR %.2f dB", thin))
        XCTAssertGreaterThanOrEqual(thin, 30)

        // One tile covering everything is exactly the plain decode.
        assertBitEqual(vae.decodeTiled(z, tileLatent: 40, overlap: 4, c), full)
        XCTAssertEqual(AutoencoderKL.coreRanges(size: 128, tile: 64), [0..<64, 64..<128])
        XCTAssertEqual(AutoencoderKL.coreRanges(size: 130, tile: 64), [0..<43, 43..<86, 86..<130])
    }

    func testRGBImageConversion() {
        let x = Tensor(shape: [1, 3, 1, 4], values: [-1, 1, 0, 2, -2, 0.999, .nan, -0.5, 0.1, 0.2, 0.3, 1])
        let img = RGBImage(decoded: x)
        XCTAssertEqual(img.width, 4)
        XCTAssertEqual(img.height, 1)
        // Pixel p = (R, G, B) = (x[0, p], x[1, p], x[2, p]); value = trunc(clamp((x+1)/2, 0, 1) · 255).
        XCTAssertEqual(img.pixels, [0, 0, 140, 255, 254, 153, 127, 0, 165, 255, 63, 255])
    }

    func testLatentPreview() {
        let lat = Tensor(shape: [1, 4, 1, 2], values: [1, 0, 0, 1, 0, 0, 0, -1])
        let rgb = LatentPreview.sdxl.rgb(lat)
        XCTAssertEqual(rgb.shape, [3, 1, 2])
        let f = LatentPreview.sdxl.factors, b = LatentPreview.sdxl.bias
        for o in 0..<3 {
            XCTAssertEqual(rgb.data[o * 2], f[0][o] + b[o], accuracy: 1e-6)
            XCTAssertEqual(rgb.data[o * 2 + 1], f[1][o] - f[3][o] + b[o], accuracy: 1e-6)
        }
        let img = LatentPreview.sdxl.image(lat)
        XCTAssertEqual(img.pixels.count, 6)
        XCTAssertEqual(img.pixels[0], RGBImage.byte(f[0][0] + b[0]))
    }
}
