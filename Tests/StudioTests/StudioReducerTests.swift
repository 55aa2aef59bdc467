import Imaging
import XCTest
@testable import Studio
@testable import TerminalUI

/// The reducer: keys, mouse, time and engine events in; state and effects out.
final class StudioReducerTests: XCTestCase {
    /// Feeds messages, collecting effects.
    @discardableResult
    func send(_ s: inout AppState, _ messages: StudioMessage...) -> [StudioEffect] {
        var all: [StudioEffect] = []
        for m in messages {
            let (next, fx) = StudioReducer.update(s, m)
            s = next
            all += fx
        }
        return all
    }

    func keys(_ s: inout AppState, _ text: String) -> [StudioEffect] {
        var all: [StudioEffect] = []
        for e in InputDecoder.decode(text) { if case .key(let k) = e { all += send(&s, .key(k)) } }
        return all
    }

    func generateSpec(_ fx: [StudioEffect]) -> GenerationSpec? {
        for case .generate(let spec) in fx { return spec }
        return nil
    }

    /// A startup error (broken theme) is not replaced by an informational message within `messageSeconds`.
    func testErrorsOutliveInformationalMessagesForAWhile() {
        var s = AppState(size: Size(width: 120, height: 36))
        _ = send(&s, .tick(100))
        s.message = StatusMessage(text: "theme broken", role: .error, time: 100)
        StudioReducer.post("model ready", .statusText, &s)
        XCTAssertEqual(s.message?.text, "theme broken")
        _ = send(&s, .tick(100 + StudioReducer.messageSeconds + 1))
        XCTAssertEqual(s.message?.text, "theme broken", "errors do not fade by themselves")
        StudioReducer.post("model ready", .statusText, &s)
        XCTAssertEqual(s.message?.text, "model ready")
    }

    func testTypingGoesIntoTheFocusedEditorAndTabCycles() {
        var s = AppState(size: Size(width: 100, height: 30))
        _ = keys(&s, "a cat")
        XCTAssertEqual(s.prompt.text, "a cat")
        _ = send(&s, .key(.tab))
        XCTAssertEqual(s.focus, .negative)
        _ = keys(&s, "blurry")
        XCTAssertEqual(s.negative.text, "blurry")
        _ = send(&s, .key(.tab), .key(.tab), .key(.tab), .key(.tab))
        XCTAssertEqual(s.focus, .prompt)
        _ = send(&s, .key(Key(.tab, [.shift])))
        XCTAssertEqual(s.focus, .preview)
        _ = send(&s, .paste("two\nlines"))
        XCTAssertEqual(s.prompt.text, "a cat", "paste goes to editors only")
    }

    func testGenerateUsesSeedModes() throws {
        var s = StudioFixtures.state()
        s.sampler.seedMode = .fixed
        s.sampler.batchCount = 3
        let fixed = try XCTUnwrap(generateSpec(send(&s, .key(.ctrl("g")))))
        XCTAssertEqual(fixed.seeds, [1234, 1235, 1236])
        XCTAssertEqual(fixed.loras.map(\.id), [1, 2, 3])
        XCTAssertEqual(s.job, .queued(runID: fixed.runID))
        XCTAssertEqual(s.sampler.seed, 1234)
        XCTAssertEqual(s.prompt.history.last, s.prompt.text, "a generated prompt enters the history")

        s.sampler.seedMode = .increment
        s.sampler.batchCount = 2
        let inc = try XCTUnwrap(generateSpec(send(&s, .key(.ctrl("g")))))
        XCTAssertEqual(inc.seeds, [1234, 1235])
        XCTAssertEqual(s.sampler.seed, 1236)
        XCTAssertGreaterThan(inc.runID, fixed.runID)

        s.sampler.seedMode = .random
        s.sampler.batchCount = 1
        var copy = s
        let r1 = try XCTUnwrap(generateSpec(send(&s, .key(.ctrl("g")))))
        let r2 = try XCTUnwrap(generateSpec(send(&copy, .key(.ctrl("g")))))
        XCTAssertEqual(r1.seeds, r2.seeds, "random seeds come from the state: same state, same seed")
        XCTAssertEqual(s.sampler.seed, r1.seeds[0])
        XCTAssertLessThan(r1.seeds[0], 1 << 32)
        let r3 = try XCTUnwrap(generateSpec(send(&s, .key(.ctrl("g")))))
        XCTAssertNotEqual(r3.seeds, r1.seeds)
        XCTAssertTrue(send(&s, .key(.ctrl("g"))).contains(.cancel), "a new request supersedes the running one")
    }

    func testGenerateNeedsTheModel() {
        var s = StudioFixtures.state()
        s.model = .loading("reading weights")
        XCTAssertNil(generateSpec(send(&s, .key(.ctrl("g")))))
        XCTAssertEqual(s.message?.text, "the model is still loading")
        XCTAssertEqual(s.job, .idle)
    }

    func testProgressAndFinishFromEngineEvents() {
        var s = StudioFixtures.state()
        let spec = generateSpec(send(&s, .key(.ctrl("g"))))!
        let img = RGBImage(width: 4, height: 4, fill: .white)
        send(&s, .engine(.started(runID: spec.runID, image: 0, imageCount: 1, steps: 4, seed: 1234)),
             .engine(.step(runID: spec.runID, step: 2, steps: 4, elapsed: 1, preview: img)))
        guard case .running(let p) = s.job else { return XCTFail("\(s.job)") }
        XCTAssertEqual(p.step, 2)
        XCTAssertEqual(p.info.rateText, "2.00 it/s")
        XCTAssertEqual(p.info.etaText, "ETA 0:01")
        XCTAssertEqual(s.preview, img)
        XCTAssertFalse(s.previewIsFinal)
        // Events of another (superseded) run change nothing.
        let before = s
        send(&s, .engine(.step(runID: spec.runID - 1, step: 4, steps: 4, elapsed: 9, preview: nil)),
             .engine(.finished(runID: spec.runID + 5, seconds: 1)))
        XCTAssertEqual(s, before)
        send(&s, .engine(.imageDone(runID: spec.runID, image: img, path: "outputs/00001-1234.png", seed: 1234)),
             .engine(.finished(runID: spec.runID, seconds: 2.5)))
        XCTAssertEqual(s.job, .idle)
        XCTAssertTrue(s.previewIsFinal)
        XCTAssertEqual(s.finished?.paths, ["outputs/00001-1234.png"])
        XCTAssertEqual(s.message?.text, "done in 2.5 s · saved outputs/00001-1234.png")
    }

    func testEscCancelsAndSecondCtrlCQuits() {
        var s = StudioFixtures.state()
        let spec = generateSpec(send(&s, .key(.ctrl("g"))))!
        XCTAssertEqual(send(&s, .key(.escape)), [.cancel])
        XCTAssertEqual(s.job, .cancelling(runID: spec.runID))
        send(&s, .engine(.cancelled(runID: spec.runID)))
        XCTAssertEqual(s.job, .idle)

        _ = generateSpec(send(&s, .key(.ctrl("g"))))
        XCTAssertEqual(send(&s, .key(.ctrl("c"))), [.cancel], "first ctrl+c cancels")
        XCTAssertFalse(s.shouldQuit)
        let fx = send(&s, .tick(101), .key(.ctrl("c")))
        XCTAssertTrue(s.shouldQuit, "second ctrl+c quits")
        XCTAssertTrue(fx.contains(.quit) && fx.contains(.saveSettings))

        var idle = StudioFixtures.state()
        send(&idle, .key(.ctrl("c")), .tick(100 + StudioReducer.quitWindow + 1), .key(.ctrl("c")))
        XCTAssertFalse(idle.shouldQuit, "two presses far apart do not quit")
        XCTAssertEqual(idle.message?.text, "press ctrl+c again to quit")
    }

    func testSliderMovesRerenderWithTheSameSeedAfterADebounce() throws {
        var s = StudioFixtures.finished()
        s.sampler.seedMode = .random
        s.loraSelection = 0
        XCTAssertEqual(s.focus, .loras)
        var fx = send(&s, .key(.right), .key(.right), .key(Key(.left, [.shift])))
        XCTAssertEqual(s.loras[0].strength, 0.85, accuracy: 1e-9)
        XCTAssertNil(generateSpec(fx), "nothing starts while the slider moves")
        fx = send(&s, .tick(100 + StudioReducer.rerenderDelay / 2))
        XCTAssertNil(generateSpec(fx))
        fx = send(&s, .tick(100 + StudioReducer.rerenderDelay + 0.01))
        let spec = try XCTUnwrap(generateSpec(fx))
        XCTAssertEqual(spec.seeds, [1234], "same seed, one image, whatever the seed mode")
        XCTAssertEqual(spec.loras[0].strength, 0.85, accuracy: 1e-9)
        XCTAssertNil(generateSpec(send(&s, .tick(200))), "one re-render per burst of moves")
    }

    func testLoRAStackEdits() {
        var s = StudioFixtures.state()
        s.focus = .loras
        send(&s, .key(.char("j")), .key(.char(" ")))
        XCTAssertTrue(s.loras[1].enabled)
        send(&s, .key(.char("K")))
        XCTAssertEqual(s.loras.map(\.id), [2, 1, 3])
        XCTAssertEqual(s.loraSelection, 0)
        let fx = send(&s, .key(.char("d")))
        XCTAssertEqual(s.loras.map(\.id), [1, 3])
        XCTAssertTrue(fx.contains(.syncLoRAs(s.loras.map(\.slot))))
        XCTAssertEqual(send(&s, .key(.char("a"))), [.openLoRAPicker])
        send(&s, .key(.char("0")))
        XCTAssertEqual(s.loras[0].strength, 0)
        // Engine reports fill the badge.
        send(&s, .engine(.loraReady(id: 3, modules: 5, matchedKeys: 15, unmatchedKeys: 2)))
        XCTAssertEqual(s.loras[1].status, .ready(modules: 5, matchedKeys: 15, unmatchedKeys: 2))
        send(&s, .engine(.loraFailed(id: 1, message: "x.safetensors: bad")))
        XCTAssertEqual(s.loras[0].status, .failed("x.safetensors: bad"))
        XCTAssertEqual(s.message?.role, .error)
    }

    func testTypedValues() {
        var s = StudioFixtures.state()
        s.focus = .loras
        send(&s, .key(.enter))
        XCTAssertEqual(s.entry?.editor.text, "1.00")
        send(&s, .key(.ctrl("u")))
        _ = keys(&s, "-1.3")
        send(&s, .key(.enter))
        XCTAssertNil(s.entry)
        XCTAssertEqual(s.loras[0].strength, -1.3, accuracy: 1e-9)
        send(&s, .key(.enter), .key(.ctrl("u")))
        _ = keys(&s, "7")
        send(&s, .key(.enter))
        XCTAssertNotNil(s.entry, "out of range: the entry stays open")
        XCTAssertEqual(s.message?.text, "'7' is not a strength in -2.0…2.0")
        send(&s, .key(.escape))
        XCTAssertNil(s.entry)
        XCTAssertEqual(s.loras[0].strength, -1.3, accuracy: 1e-9)

        s.focus = .sampler
        s.samplerField = .seed
        send(&s, .key(.enter), .key(.ctrl("u")))
        _ = keys(&s, "987654321")
        send(&s, .key(.enter))
        XCTAssertEqual(s.sampler.seed, 987_654_321)
    }

    func testSamplerFieldsStepAndPresetsApply() {
        var s = StudioFixtures.state()
        s.focus = .sampler
        s.samplerField = .steps
        send(&s, .key(.char("l")), .key(.char("L")))
        XCTAssertEqual(s.sampler.steps, 10)
        XCTAssertNil(s.sampler.preset, "a hand-made change leaves the preset")
        send(&s, .key(.char("k")), .key(.char("k")), .key(.char("l")))   // scheduler → sampler
        XCTAssertEqual(s.samplerField, .sampler)
        XCTAssertEqual(s.sampler.sampler, .euler)
        s.samplerField = .size
        send(&s, .key(.right))
        XCTAssertEqual([s.sampler.width, s.sampler.height], [128, 128], "tiny model: ⅛-size buckets, from the first")
        send(&s, .key(.right))
        XCTAssertEqual([s.sampler.width, s.sampler.height], [144, 112])
        s.samplerField = .preset
        send(&s, .key(.right))
        XCTAssertEqual(s.sampler.preset, "dmd2")
        XCTAssertEqual([s.sampler.steps, s.sampler.width, s.sampler.height], [4, 128, 128],
                       "the preset's 1024² falls back to a size the tiny model can run")
    }

    func testMouseOnSlidersListsAndTabs() {
        var s = StudioFixtures.state()
        let layout = StudioLayout(size: s.size, loraCount: s.loras.count)
        let list = layout.loraList
        let row = LoRARowLayout(row: Rect(x: list.x, y: list.y + 2, width: list.width, height: 1))
        let track = row.track(label: s.loras[2].name)
        send(&s, .mouse(MouseEvent(button: .left, col: track.maxX - 1, row: row.slider.y)))
        XCTAssertEqual(s.focus, .loras)
        XCTAssertEqual(s.loraSelection, 2)
        XCTAssertEqual(s.loras[2].strength, 2, "the right end of the track is +2")
        send(&s, .mouse(MouseEvent(button: .wheelDown, col: track.x + 1, row: row.slider.y)))
        XCTAssertEqual(s.loras[2].strength, 1.95, accuracy: 1e-9)
        send(&s, .mouse(MouseEvent(button: .left, col: row.marker.x, row: row.marker.y)))
        XCTAssertFalse(s.loras[2].enabled)
        let cell = layout.samplerCell(.cfg)
        send(&s, .mouse(MouseEvent(button: .wheelUp, col: cell.x + 1, row: cell.y)))
        XCTAssertEqual(s.samplerField, .cfg)
        XCTAssertEqual(s.sampler.cfg, 1.5)
        let tabs = StudioView.tabsRect(layout)
        let fx = send(&s, .mouse(MouseEvent(button: .left, col: tabs.x + 12, row: 0)))
        XCTAssertEqual(s.tab, .gallery)
        XCTAssertEqual(fx, [.scanGallery])
    }

    func testModelEvents() {
        var s = AppState(size: Size(width: 100, height: 30))
        (s.sampler.width, s.sampler.height) = (1024, 1024)
        send(&s, .engine(.modelLoading("hashing")))
        XCTAssertEqual(s.model, .loading("hashing"))
        send(&s, .engine(.modelReady(name: "tiny", sizeMultiple: 16, tiny: true)))
        XCTAssertTrue(s.modelReady)
        XCTAssertEqual([s.sampler.width, s.sampler.height], [128, 128], "1024² on the tiny model would take minutes")
        var t = AppState(size: Size(width: 100, height: 30))
        (t.sampler.width, t.sampler.height) = (832, 1216)
        send(&t, .engine(.modelReady(name: "xl", sizeMultiple: 32, tiny: false)))
        XCTAssertEqual([t.sampler.width, t.sampler.height], [832, 1216])
        send(&t, .engine(.modelFailed("m.safetensors: truncated")))
        XCTAssertEqual(t.model, .failed("m.safetensors: truncated"))
    }

    func testMessagesExpire() {
        var s = StudioFixtures.state()
        send(&s, .key(.ctrl("c")))
        XCTAssertNotNil(s.message)
        send(&s, .tick(100 + StudioReducer.messageSeconds + 1))
        XCTAssertNil(s.message)
    }

    func testResizeUpdatesSize() {
        var s = StudioFixtures.state()
        send(&s, .resize(Size(width: 70, height: 20)))
        XCTAssertEqual(s.size, Size(width: 70, height: 20))
    }
}
