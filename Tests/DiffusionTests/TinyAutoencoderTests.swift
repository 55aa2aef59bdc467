import Foundation
import XCTest
import Checkpoint
import Tensor
import TestSupport
@testable import Diffusion

/// TAESD / TAESD-XL against diffusers `AutoencoderTiny` (tiny config, random weights; fixtures written by
/// tools/reference/models/taesd_fixtures.py), with diffusers and original single-file weight names.
final class TinyAutoencoderTests: XCTestCase {
    let c = Compute(threads: 2)

    func fixture(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("taesd/\(name).safetensors", target: "DiffusionTests"))
    }

    func checkDecode(_ taesd: TinyAutoencoder, _ label: String) throws {
        let io = try fixture("io")
        let out = taesd.decode(try io.tensor("decode.in.latent"), c.inference)
        let expected = try io.tensor("decode.out")
        XCTAssertEqual(out.shape, [1, 3, 40, 48])
        assertClose(out, expected, rtol: 1e-4, "\(label) decode")
        print("TAESD \(label) decode: \(closeness(out, expected, rtol: 1e-4))")
    }

    func checkEncode(_ taesd: TinyAutoencoder, _ label: String) throws {
        let io = try fixture("io")
        let out = taesd.encode(try io.tensor("encode.in.image"), c.inference)
        let expected = try io.tensor("encode.out")
        XCTAssertEqual(out.shape, [1, 4, 5, 6])
        assertClose(out, expected, rtol: 1e-4, "\(label) encode")
        print("TAESD \(label) encode: \(closeness(out, expected, rtol: 1e-4))")
    }

    func testDiffusersWeights() throws {
        let file = try fixture("weights_diffusers")
        XCTAssertEqual(TinyAutoencoder.detectLayout(in: file), .diffusers)
        let taesd = TinyAutoencoder(.tiny)
        try taesd.load(from: file)
        try checkDecode(taesd, "diffusers")
        try checkEncode(taesd, "diffusers")
    }

    func testOriginalSingleFileWeights() throws {
        let dec = try fixture("weights_decoder_original"), enc = try fixture("weights_encoder_original")
        XCTAssertEqual(TinyAutoencoder.detectLayout(in: dec), .originalDecoder)
        XCTAssertEqual(TinyAutoencoder.detectLayout(in: enc), .originalEncoder)
        let taesd = TinyAutoencoder(.tiny)
        try taesd.load(from: dec)
        try checkDecode(taesd, "original")
        try taesd.load(from: enc)
        try checkEncode(taesd, "original")
    }

    func testDecodeGradientMatchesReference() throws {
        let io = try fixture("io")
        let taesd = TinyAutoencoder(.tiny)
        try taesd.load(from: try fixture("weights_diffusers"))
        let latent = try io.tensor("grad.in.latent")
        latent.requiresGrad = true
        let out = taesd.decode(latent, c)
        out.backward(seed: try io.tensor("grad.dout"), compute: c)
        let expected = try io.tensor("grad.latent")
        assertClose(latent.grad, expected, rtol: 1e-4, "decode grad")
        print("TAESD decode grad: \(closeness(latent.grad!, expected, rtol: 1e-4))")
    }

    func testPointwiseOpsFiniteDifferences() {
        // Values kept away from 0 so the ReLU kink is not straddled by the ±eps probes.
        var rng = SplitMix64(seed: 7)
        let x = Tensor(shape: [2, 3, 5, 7], values: (0..<210).map { _ in
            let v = Float(rng.nextDouble() * 8 - 4)
            return abs(v) < 0.1 ? v + 0.3 : v
        })
        assertGradientsMatchFiniteDifferences([x]) { c, xs in TAESDOps.relu(xs[0], c) }
        assertGradientsMatchFiniteDifferences([x]) { c, xs in TAESDOps.softClamp(xs[0], limit: 3, c) }
        let y = TAESDOps.softClampForward(x, limit: 3, c)
        for i in 0..<x.count { XCTAssertEqual(Double(y.data[i]), 3 * tanh(Double(x.data[i]) / 3), accuracy: 1e-6) }
    }

    func testStrictLoading() throws {
        let taesd = TinyAutoencoder(.tiny)
        // The tiny decoder's slots: conv 0, relu 1, block 2, up 3, conv 4, block 5, up 6, conv 7, block 8, up 9,
        // conv 10, block 11, conv 12 — loading a tiny file into the SDXL-sized model must fail on a named key.
        let sdxl = TinyAutoencoder(.sdxl)
        XCTAssertThrowsError(try sdxl.load(from: try fixture("weights_decoder_original"))) { error in
            print("TAESD strict: \(error)")
            XCTAssertTrue("\(error)".contains("1.weight") || "\(error)".contains("3.conv"), "\(error)")
        }
        // A decoder file forced to the encoder layout is rejected.
        XCTAssertThrowsError(try taesd.load(from: try fixture("weights_decoder_original"), layout: .originalEncoder))
    }

    func testSDXLParameterNames() {
        let names = TinyAutoencoder(.sdxl).namedParameters.map(\.0)
        // DecoderTiny for (3, 3, 3, 1): conv 0, relu 1, blocks 2–4, up 5, conv 6, blocks 7–9, up 10, conv 11,
        // blocks 12–14, up 15, conv 16, block 17, conv 18 (→ 3 channels, with bias).
        XCTAssertTrue(names.contains("decoder.layers.0.bias"))
        XCTAssertTrue(names.contains("decoder.layers.17.conv.4.weight"))
        XCTAssertTrue(names.contains("decoder.layers.18.bias"))
        XCTAssertFalse(names.contains("decoder.layers.16.bias"))
        XCTAssertTrue(names.contains("encoder.layers.14.weight"))
        XCTAssertEqual(TinyAutoencoder.originalName("layers.17.conv.4.weight", indexShift: 1), "18.conv.4.weight")
        XCTAssertEqual(TinyAutoencoderConfig.sdxl.downsamplingFactor, 8)
    }

    func testPreview() throws {
        let taesd = TinyAutoencoder(.tiny)
        try taesd.load(from: try fixture("weights_diffusers"))
        let latent = try fixture("io").tensor("decode.in.latent")
        let both = c.concat([latent, latent], dim: 0)
        let image = taesd.preview(both, batchIndex: 1, c)
        XCTAssertEqual(image.width, 48)
        XCTAssertEqual(image.height, 40)
        XCTAssertEqual(image, RGBImage(decoded: taesd.decode(latent, c.inference)))
    }
}
