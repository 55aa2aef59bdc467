import XCTest
import Checkpoint
import Tensor
import TestSupport

final class OptimizerTests: XCTestCase {
    let c = Compute(threads: 2)

    func fixture(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("optim/\(name).safetensors"))
    }

    func options(_ f: SafeTensorsFile, _ name: String) -> [String: Any] {
        let data = f.metadata[name]!.data(using: .utf8)!
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    // MARK: AdamW

    func testAdamWMatchesTorch() throws {
        let f = try fixture("adamw")
        for name in ["default", "options"] {
            let o = options(f, name)
            let betas = (o["betas"] as! [Double])
            let p = try f.tensor("\(name).param0")
            let opt = AdamW([ParameterGroup(name: "g", params: [p])], betas: (betas[0], betas[1]),
                            eps: o["eps"] as! Double, weightDecay: Float(o["weight_decay"] as! Double), compute: c)
            var worst = 0.0
            for k in 1...5 {
                p.grad = try f.tensor("\(name).grad.\(k)")
                opt.step(lr: Float(o["lr"] as! Double))
                let want = try f.tensor("\(name).param.\(k)")
                assertClose(p, want, rtol: 1e-6, "\(name) step \(k)")
                worst = max(worst, closeness(p, want, rtol: 1e-6).maxRelative)
            }
            print("AdamW \(name): max rel error vs torch over 5 steps \(worst)")
        }
    }

    // MARK: 8-bit maps and quantiser

    func testDynamicMapsMatchBitsandbytes() throws {
        let f = try fixture("adamw8bit")
        for (map, key) in [(QuantizationMap.signed, "map.signed"), (QuantizationMap.unsigned, "map.unsigned")] {
            let want = try f.tensor(key)
            assertBitEqual(Tensor(shape: [256], values: map.values), want, key)
            XCTAssertEqual(map.values[Int(map.zeroCode)], 0)
        }
        XCTAssertEqual(QuantizationMap.signed.zeroCode, 127)
        XCTAssertEqual(QuantizationMap.unsigned.zeroCode, 0)
        XCTAssertEqual(QuantizationMap.signed.values[128], 5.5e-7, accuracy: 1e-12)
        XCTAssertEqual(QuantizationMap.unsigned.values[1], 3.25e-7, accuracy: 1e-12)
    }

    func testQuantiserFastMatchesNaive() {
        var rng = SplitMix64(seed: 3)
        for map in [QuantizationMap.signed, QuantizationMap.unsigned] {
            var xs: [Float] = map.values + [1, -1, 0, -0.0, .nan, 2e-9, -2e-9]
            for k in 0..<255 {
                let mid = (map.values[k] + map.values[k + 1]) * 0.5
                xs += [mid, mid.nextUp, mid.nextDown]
            }
            for _ in 0..<20000 {
                let u = Float(rng.nextDouble() * 2 - 1)
                // Spread magnitudes over the map's 7 decades.
                xs.append(u * Float(pow(10, -7 * rng.nextDouble())))
            }
            for x in xs where map.values[0] >= 0 ? x >= 0 || x.isNaN : true {
                XCTAssertEqual(map.code(for: x), map.codeNaive(x), "x = \(x)")
            }
            // Codes reproduce the table values themselves.
            for k in 0..<256 { XCTAssertEqual(map.code(for: map.values[k]), UInt8(k)) }
        }
    }

    // MARK: AdamW8bit vs reference

    func testAdamW8bitMatchesReference() throws {
        let f = try fixture("adamw8bit")
        for name in ["blockwise", "fp32state"] {
            let o = options(f, name)
            let p = try f.tensor("\(name).param0")
            let opt = AdamW8bit([ParameterGroup(name: "g", params: [p])], eps: o["eps"] as! Double,
                                weightDecay: Float(o["weight_decay"] as! Double), compute: c)
            var worst = 0.0, codeMismatches = 0, offByMore = 0
            for k in 1...5 {
                p.grad = try f.tensor("\(name).grad.\(k)")
                opt.step(lr: Float(o["lr"] as! Double))
                let want = try f.tensor("\(name).param.\(k)")
                assertClose(p, want, rtol: 1e-6, "\(name) step \(k)")
                worst = max(worst, closeness(p, want, rtol: 1e-6).maxRelative)
                guard f.info("\(name).code1.\(k)") != nil else { continue }
                let state = Dictionary(uniqueKeysWithValues: opt.stateTensors())
                for field in ["1", "2"] {
                    let got = state["g.0.state\(field)"]!, ref = try f.tensor("\(name).code\(field).\(k)")
                    for i in 0..<ref.count where got.data[i] != ref.data[i] {
                        codeMismatches += 1
                        if abs(got.data[i] - ref.data[i]) > 1 { offByMore += 1 }
                    }
                    assertBitEqual(state["g.0.absmax\(field)"]!, try f.tensor("\(name).absmax\(field).\(k)"), "absmax\(field) step \(k)")
                }
            }
            XCTAssertEqual(offByMore, 0, "codes off by more than one")
            XCTAssertLessThanOrEqual(codeMismatches, 4, "\(name): code mismatches")
            print("AdamW8bit \(name): max rel param error \(worst), code mismatches \(codeMismatches) of \(2 * 5 * p.count)")
            // bitsandbytes' own CPU backend (approximate quantiser, decay first) stays close.
            let bnb = try f.tensor("\(name).bnb_cpu.param.5")
            let rel = closeness(p, bnb, rtol: 1e-3).maxRelative
            print("AdamW8bit \(name): vs bitsandbytes CPU backend after 5 steps, max rel \(rel)")
            XCTAssertLessThan(rel, 1e-3)
        }
    }

    func testNonFiniteGradientResetsStateAndSkipsElement() {
        let n = 4096
        let p = randomTensor([n], seed: 1)
        let opt = AdamW8bit([ParameterGroup(name: "g", params: [p])], compute: c)
        p.grad = randomTensor([n], seed: 2)
        opt.step(lr: 1e-2)
        let before = p.copy()
        let g = randomTensor([n], seed: 3)
        g.data[5] = .nan; g.data[300] = .infinity; g.data[301] = -.infinity
        p.grad = g
        opt.step(lr: 1e-2)
        let st = Dictionary(uniqueKeysWithValues: opt.stateTensors())
        for i in [5, 300, 301] {
            XCTAssertEqual(p.data[i], before.data[i], "element \(i) must be skipped")
            XCTAssertEqual(st["g.0.state1"]!.data[i], Float(QuantizationMap.signed.zeroCode))
            XCTAssertEqual(st["g.0.state2"]!.data[i], Float(QuantizationMap.unsigned.zeroCode))
        }
        XCTAssertNotEqual(p.data[6], before.data[6])
        XCTAssertTrue(p.scalars.allSatisfy { $0.isFinite })
        // fp32-state path follows the same rule.
        let small = randomTensor([10], seed: 4), small0 = small.copy()
        let opt2 = AdamW8bit([ParameterGroup(name: "s", params: [small])], compute: c)
        let g2 = randomTensor([10], seed: 5); g2.data[2] = .nan; small.grad = g2
        opt2.step(lr: 1e-2)
        XCTAssertEqual(small.data[2], small0.data[2])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: opt2.stateTensors())["s.0.exp_avg"]!.data[2], 0)
    }

    func testSignFixKeepsTinyNegativeMomentumNegative() {
        // First step: m = 0.1·g. Element 1's m/absmax = −1e-9 would round to the zero code; the kernel's
        // sign fix moves it one code down, to the smallest negative value.
        let n = 4096
        let p = Tensor(zeros: [n])
        let g = Tensor(zeros: [n]); g.data[0] = 1; g.data[1] = -1e-9; g.data[2] = 1e-9
        p.grad = g
        let opt = AdamW8bit([ParameterGroup(name: "g", params: [p])], weightDecay: 0, compute: c)
        opt.step(lr: 1e-3)
        let codes = Dictionary(uniqueKeysWithValues: opt.stateBytes())["g.0.state1"]!
        XCTAssertEqual(codes[1], QuantizationMap.signed.zeroCode - 1)
        XCTAssertLessThan(QuantizationMap.signed.values[Int(codes[1])], 0)
        XCTAssertEqual(codes[2], QuantizationMap.signed.zeroCode)     // positive stays on zero: same sign bit
        XCTAssertEqual(codes[0], 255)
        XCTAssertEqual(codes[3], QuantizationMap.signed.zeroCode)
    }

    func testStateBytesPerParameter() {
        let n = 1 << 20
        let p = Tensor(zeros: [n]); p.grad = Tensor(shape: [n], repeating: 0.5)
        let opt = AdamW8bit([ParameterGroup(name: "g", params: [p])], compute: c)
        opt.step(lr: 1e-3)
        let perParam = Double(opt.stateByteCount) / Double(n)
        print("AdamW8bit state bytes per parameter (1M elements): \(perParam)")
        XCTAssertEqual(perParam, 2 + 8.0 / 256)
        XCTAssertLessThanOrEqual(perParam, 2.1)
    }

    // MARK: Convergence

    func testQuadraticConvergesToSameMinimum() {
        for n in [1000, 5000] {
            let target = randomTensor([n], seed: 11, scale: 2)
            var results: [Tensor] = []
            for eightBit in [false, true] {
                let p = randomTensor([n], seed: 12)
                let group = ParameterGroup(name: "q", params: [p], weightDecay: 0)
                let opt: Optimizer = eightBit ? AdamW8bit([group], compute: c) : AdamW([group], compute: c)
                let steps = 800
                for s in 0..<steps {
                    // ∇ ½‖p − target‖² = p − target
                    p.grad = Tensor(shape: [n], values: (0..<n).map { p.data[$0] - target.data[$0] })
                    opt.step(lr: 0.05 * Float(steps - s) / Float(steps))
                }
                let err = (0..<n).map { abs(p.data[$0] - target.data[$0]) }.max()!
                print("quadratic n=\(n) \(eightBit ? "AdamW8bit" : "AdamW"): max |p − target| = \(err)")
                XCTAssertLessThan(err, 1e-2)
                results.append(p)
            }
            assertClose(results[1], results[0], rtol: 1e-2, "8-bit vs fp32 minimum, n=\(n)")
        }
    }

    // MARK: State export / import

    func roundTrip(_ make: ([ParameterGroup]) -> Optimizer, bytes: Bool = false) throws {
        let a = randomTensor([5000], seed: 1), b = randomTensor([3, 7], seed: 2)
        let a2 = a.copy(), b2 = b.copy()
        let opt = make([ParameterGroup(name: "big", params: [a]), ParameterGroup(name: "small", params: [b])])
        for s in 0..<2 {
            a.grad = randomTensor([5000], seed: 10 + UInt64(s)); b.grad = randomTensor([3, 7], seed: 20 + UInt64(s))
            opt.step(lr: 1e-2)
        }
        a2.data.update(from: a.data, count: a.count); b2.data.update(from: b.data, count: b.count)
        let opt2 = make([ParameterGroup(name: "big", params: [a2]), ParameterGroup(name: "small", params: [b2])])
        var tensors = Dictionary(uniqueKeysWithValues: opt.stateTensors())
        let scalars = Dictionary(uniqueKeysWithValues: opt.stateScalars())
        if bytes, let o = opt as? AdamW8bit, let o2 = opt2 as? AdamW8bit {
            let codes = Dictionary(uniqueKeysWithValues: o.stateBytes())
            for k in codes.keys { tensors[k] = nil }
            try o2.loadState(tensors: tensors, scalars: scalars, codes: codes)
        } else {
            try opt2.loadState(tensors: tensors, scalars: scalars)
        }
        XCTAssertEqual(scalars["big.0.step"], 2)
        a.grad = randomTensor([5000], seed: 30); b.grad = randomTensor([3, 7], seed: 31)
        a2.grad = a.grad!.copy(); b2.grad = b.grad!.copy()
        opt.step(lr: 1e-2); opt2.step(lr: 1e-2)
        assertBitEqual(a2, a); assertBitEqual(b2, b)
        for ((k1, t1), (k2, t2)) in zip(opt.stateTensors(), opt2.stateTensors()) {
            XCTAssertEqual(k1, k2); assertBitEqual(t2, t1, k1)
        }
    }

    func testStateRoundTripsExactly() throws {
        try roundTrip { AdamW($0, compute: self.c) }
        try roundTrip { AdamW8bit($0, compute: self.c) }
        try roundTrip({ AdamW8bit($0, compute: self.c) }, bytes: true)
    }

    func testLoadStateRejectsBadInput() {
        let p = randomTensor([10], seed: 1)
        let opt = AdamW([ParameterGroup(name: "g", params: [p])], compute: c)
        XCTAssertThrowsError(try opt.loadState(tensors: ["h.0.exp_avg": Tensor(zeros: [10])], scalars: [:])) {
            XCTAssertEqual($0 as? OptimizerStateError, .unknownKey("h.0.exp_avg"))
        }
        XCTAssertThrowsError(try opt.loadState(tensors: ["g.0.exp_avg": Tensor(zeros: [9]), "g.0.exp_avg_sq": Tensor(zeros: [10])],
                                               scalars: ["g.0.step": 1])) {
            XCTAssertEqual($0 as? OptimizerStateError, .shapeMismatch(key: "g.0.exp_avg", expected: [10], found: [9]))
        }
        XCTAssertThrowsError(try opt.loadState(tensors: ["g.0.exp_avg": Tensor(zeros: [10])], scalars: ["g.0.step": 1])) {
            XCTAssertEqual($0 as? OptimizerStateError, .incomplete(key: "g.0"))
        }
        let q = randomTensor([4096], seed: 2)
        let opt8 = AdamW8bit([ParameterGroup(name: "g", params: [q])], compute: c)
        let bad = Tensor(shape: [4096], repeating: 3.5)
        XCTAssertThrowsError(try opt8.loadState(tensors: ["g.0.state1": bad, "g.0.state2": bad,
                                                          "g.0.absmax1": Tensor(zeros: [16]), "g.0.absmax2": Tensor(zeros: [16])],
                                                scalars: ["g.0.step": 1])) {
            XCTAssertEqual($0 as? OptimizerStateError, .invalidCode(key: "g.0.state1", value: 3.5))
        }
    }

    // MARK: Parameter groups

    func testGroupsShareTensorsAndRespectSettings() {
        // Teacher and student share the base weight; only the student's LoRA factors train.
        let base = randomTensor([4, 3], seed: 1)
        let loraDown = randomTensor([2, 3], seed: 2), loraUp = Tensor(zeros: [4, 2])
        let teacher = ParameterGroup(name: "teacher", params: [base], trainable: false)
        XCTAssertFalse(base.requiresGrad)
        let lora = ParameterGroup(name: "lora", params: [loraDown, loraUp], lrScale: 2)
        XCTAssertTrue(loraDown.requiresGrad && loraUp.requiresGrad)
        // A second, fully trained UNet with its own tensors and its own optimizer.
        let fake = randomTensor([4, 3], seed: 3)
        let fakeGroup = ParameterGroup(name: "fake", params: [fake], lrScale: 0)
        let genOpt = AdamW([teacher, lora], weightDecay: 0, compute: c)
        let fakeOpt = AdamW8bit([fakeGroup], compute: c)

        let base0 = base.copy(), fake0 = fake.copy(), up0 = loraUp.copy()
        for t in [base, loraDown, loraUp, fake] { t.grad = Tensor(shape: t.shape, repeating: 1) }
        genOpt.step(lr: 0.01); fakeOpt.step(lr: 0.01)
        assertBitEqual(base, base0, "frozen group must not move even with a grad")
        assertBitEqual(fake, fake0, "lrScale 0 leaves the parameter (wd scales with lr too)")
        // Adam's first step moves each element by ≈ lr·lrScale = 0.02.
        XCTAssertEqual(loraUp.data[0] - up0.data[0], -0.02, accuracy: 1e-5)

        genOpt.zeroGrad()
        XCTAssertNil(loraDown.grad); XCTAssertNil(base.grad)
        teacher.trainable = true
        XCTAssertTrue(base.requiresGrad)
        lora.trainable = false
        XCTAssertFalse(loraUp.requiresGrad)
    }

    // MARK: Gradient clipping

    func testClipGradNorm() {
        let a = Tensor(zeros: [2]), b = Tensor(zeros: [1]), noGrad = Tensor(zeros: [3])
        a.grad = Tensor(shape: [2], values: [3, 0]); b.grad = Tensor(shape: [1], values: [4])
        let norm = clipGradNorm([a, b, noGrad], maxNorm: 1)
        XCTAssertEqual(norm, 5)
        let coef: Float = 1 / (5 + 1e-6)
        XCTAssertEqual(a.grad!.data[0], 3 * coef); XCTAssertEqual(b.grad!.data[0], 4 * coef)
        // Below the limit nothing changes.
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.data[0], 3 * coef)
        // Large tensor, several threads: norm of N equal values v is v·√N.
        let big = Tensor(zeros: [1 << 18]); big.grad = Tensor(shape: [1 << 18], repeating: 0.25)
        XCTAssertEqual(clipGradNorm([big], maxNorm: 64, compute: c), 128, accuracy: 1e-3)
        XCTAssertEqual(big.grad!.data[12345], 0.25 * Float(64 / (128 + 1e-6)), accuracy: 1e-7)
    }
}
