import ArgumentParser
import Diffusion
import Foundation
import Imaging
import Tensor
import Trainer

/// `sumi eval nearest`: the embedded model's memorisation check. For prompts naming emoji of the training set,
/// generates an image each and asks whether the nearest training image (L2 at 32×32) is the prompt's own.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Nearest-training-image check of a model trained on the emoji dataset.",
        discussion: """
        Prompts are the names of `--count` emoji picked evenly over the dataset's key order (no hand picking). \
        Prints one line per prompt and the hit count; `--out DIR` also writes report.json and a contact sheet \
        (generated | own | nearest) as sheet.png.
        """)

    @Option(help: "Model folder (default: the embedded model, models/sumi-emoji).")
    var model: String?
    @Option(help: "Training shards (brace patterns allowed), e.g. /data/emoji-{000..003}.tar.")
    var data: String
    @Option(help: "Number of prompts.")
    var count = 20
    @Option(help: "Seed of the first prompt (the others use seed + index).")
    var seed: UInt64 = 1
    @Option(help: "Sampler.") var sampler = "euler"
    @Option(help: "Scheduler.") var scheduler = "normal"
    @Option(help: "Steps.") var steps = 20
    @Option(help: "CFG scale.") var cfg = 4.0
    @Option(help: "Negative prompt.") var negative = ""
    @Option(help: "Image side in pixels.") var size = 128
    @Option(help: "Comparison side in pixels.") var side = 32
    @Option(help: "Prompt per emoji: `name` (what a user types, the check's definition) or `caption` (its whole training caption, a diagnostic).")
    var prompt = "name"
    @Option(help: "Folder for report.json and sheet.png.") var out: String?
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() throws {
        do { try evaluate() } catch let error as CleanExit { throw error } catch {
            FileHandle.standardError.write(Data("sumi eval: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func evaluate() throws {
        let modelPath = try model ?? EmbeddedModelLocation.require()
        let eval = try NearestImageEval(shards: data, side: side)
        guard !eval.references.isEmpty else { throw GenerateError("\(data): no readable samples") }
        let picks = eval.selection(count: count)
        let c = Compute(threads: threads)
        let tokenizer = try CLIPTokenizer(mergesPath: try ResourceLocator.merges(modelPath: modelPath, explicit: nil))
        let pipeline = try SDXLPipeline.load(path: modelPath, tokenizer: tokenizer, width: size, height: size, c)
        guard let samplerValue = Sampler(rawValue: sampler) else { throw GenerateError("unknown sampler `\(sampler)`") }
        guard let schedulerValue = Scheduler(rawValue: scheduler) else { throw GenerateError("unknown scheduler `\(scheduler)`") }
        guard prompt == "name" || prompt == "caption" else { throw GenerateError("--prompt must be name or caption, not `\(prompt)`") }
        var matches: [NearestImageEval.Match] = []
        var rows: [[RGBImage]] = []
        for (i, ref) in picks.enumerated() {
            var request = GenerationRequest(prompt: prompt == "caption" ? ref.caption : ref.name, seed: seed + UInt64(i))
            request.negativePrompt = negative
            request.sampler = samplerValue
            request.scheduler = schedulerValue
            request.steps = steps
            request.cfg = cfg
            request.width = size
            request.height = size
            let image = try pipeline.generate(request, c).images[0]
            let m = eval.match(image, own: ref)
            matches.append(m)
            let nearest = eval.references.first { $0.key == m.nearestKey }?.image ?? ref.image
            rows.append([image, ref.image, nearest])
            print(String(format: "%2d %@ %-36@ nearest %-36@ own rank %d", i + 1, m.hit ? "HIT " : "miss",
                         String(ref.name.prefix(36)) as NSString, String(m.nearestName.prefix(36)) as NSString, m.ownRank))
        }
        let hits = matches.filter(\.hit).count
        print("\(hits) of \(matches.count) prompts: nearest training image (L2 at \(side)×\(side)) is the prompt's own emoji"
              + " (\(eval.references.count) training images)")
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let report: [String: Any] = [
                "model": modelPath, "data": data, "hits": hits, "count": matches.count, "side": side,
                "prompt": prompt, "sampler": sampler, "scheduler": scheduler, "steps": steps, "cfg": cfg, "seed": seed,
                "training_images": eval.references.count,
                "matches": matches.map { ["key": $0.key, "name": $0.name, "nearest_key": $0.nearestKey,
                                          "nearest_name": $0.nearestName, "own_rank": $0.ownRank, "hit": $0.hit] as [String: Any] },
            ]
            let json = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            let reportPath = (out as NSString).appendingPathComponent("report.json")
            try json.write(to: URL(fileURLWithPath: reportPath), options: .atomic)
            try PNG.write(contactSheet(rows), to: (out as NSString).appendingPathComponent("sheet.png"))
        }
    }

    /// Rows of equally sized images side by side, 4 px gaps on white.
    private func contactSheet(_ rows: [[RGBImage]]) -> RGBImage {
        let cell = size, gap = 4
        let columns = rows.map(\.count).max() ?? 0
        var sheet = RGBImage(width: columns * (cell + gap) + gap, height: rows.count * (cell + gap) + gap, fill: .white)
        for (r, row) in rows.enumerated() {
            for (col, image) in row.enumerated() {
                let img = image.resized(toWidth: cell, height: cell)
                for y in 0..<cell {
                    for x in 0..<cell { sheet[gap + col * (cell + gap) + x, gap + r * (cell + gap) + y] = img[x, y] }
                }
            }
        }
        return sheet
    }

}

/// Where the embedded default model lives: `models/sumi-emoji` next to the working directory or the executable.
enum EmbeddedModelLocation {
    static let relative = "models/sumi-emoji"

    /// The folder, if present.
    static func find() -> String? {
        ResourceLocator.candidates(relative).first {
            FileManager.default.fileExists(atPath: ($0 as NSString).appendingPathComponent("model_index.json"))
        }
    }

    /// The folder, or an error saying where it was looked for.
    static func require() throws -> String {
        guard let found = find() else {
            throw GenerateError("no --model given and the embedded model (\(relative)) was not found")
        }
        return found
    }
}
