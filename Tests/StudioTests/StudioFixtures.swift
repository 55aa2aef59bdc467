import Diffusion
import Foundation
import Imaging
import XCTest
@testable import Studio
@testable import TerminalUI

/// Ready-made studio states for the pane snapshots and reducer tests.
enum StudioFixtures {
    /// A studio mid-session: prompts with emphasis syntax, three LoRAs (ready, disabled with unmatched keys,
    /// still loading), a tiny model loaded, sampler on `steps`.
    static func state(size: Size = Size(width: 100, height: 30)) -> AppState {
        var s = AppState(size: size)
        s.now = 100
        s.prompt = TextEditorState(text: "1girl, (smile:1.2), [sky], BREAK night \\(city\\)")
        s.negative = TextEditorState(text: "lowres, (bad hands:1.4)")
        s.promptTokens = TokenCount(clipL: [12], clipG: [12])
        s.negativeTokens = TokenCount(clipL: [80, 3], clipG: [80, 3])
        s.model = .ready(name: "tiny_sdxl", sizeMultiple: 16, tiny: true)
        s.loras = [
            LoRAItem(id: 1, path: "models/loras/dmd2.safetensors", strength: 1,
                     status: .ready(modules: 257, matchedKeys: 771, unmatchedKeys: 0)),
            LoRAItem(id: 2, path: "/home/u/loras/style.safetensors", strength: -0.5, enabled: false,
                     status: .ready(modules: 12, matchedKeys: 36, unmatchedKeys: 4)),
            LoRAItem(id: 3, path: "broken.safetensors", strength: 0.75, status: .loading),
        ]
        s.nextLoRAID = 4
        s.sampler.seed = 1234
        s.sampler.seedMode = .fixed
        (s.sampler.width, s.sampler.height) = (64, 64)
        s.presets = [NamedPreset(name: "dmd2", preset: try! GenerationPresetFixture.dmd2())]
        s.sampler.preset = "dmd2"
        s.samplerField = .steps
        return s
    }

    /// `state()` with a generation running at step 3 of 8 and a step preview.
    static func running() -> AppState {
        var s = state()
        s.job = .running(RunProgress(runID: 1, image: 0, imageCount: 2, step: 3, steps: 8, elapsed: 1.5, seed: 1234, phase: "sampling"))
        s.preview = PaneSnapshot.testImage(width: 16, height: 16)
        s.lastSeed = 1234
        s.focus = .preview
        return s
    }

    /// `state()` after a finished run.
    static func finished() -> AppState {
        var s = state()
        s.preview = PaneSnapshot.testImage(width: 16, height: 16)
        s.previewIsFinal = true
        s.finished = FinishedRun(paths: ["outputs/00007-1234.png"], seeds: [1234], seconds: 2.25, width: 64, height: 64)
        s.lastSeed = 1234
        s.focus = .loras
        return s
    }
}

enum GenerationPresetFixture {
    static func dmd2() throws -> GenerationPreset {
        try GenerationPreset(text: "sampler = \"lcm\"\nscheduler = \"simple\"\nsteps = 4\ncfg = 1.0\nwidth = 1024\nheight = 1024\n")
    }
}
