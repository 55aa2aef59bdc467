import ArgumentParser
import Diffusion
import Foundation

/// `sumi inspect FILE…`: what each checkpoint, diffusers folder or LoRA is, what it holds, and whether it
/// fits in memory. Reads headers only (and a LoRA's alpha scalars), so it is instant even on 14 GB files.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe checkpoint files, diffusers folders and LoRAs (layout, parameters, dtypes, memory)."
    )

    @Argument(help: "Safetensors files or diffusers folders.", completion: .file())
    var paths: [String]

    @Flag(name: .long, help: "Print a JSON array instead of text.")
    var json = false

    @Option(name: .long, help: "Image width for the memory estimate.")
    var width = 1024

    @Option(name: .long, help: "Image height for the memory estimate.")
    var height = 1024

    func run() throws {
        let available = MemInfo.read().availableBytes
        var entries: [InspectReport.Entry] = []
        var failures = 0
        for (i, path) in paths.enumerated() {
            do {
                let layout = try CheckpointLayout.detect(path: path)
                let memory = MemoryEstimate(layout: layout, width: width, height: height)
                if json {
                    entries.append(InspectReport.entry(layout, memory: memory, availableBytes: available))
                } else {
                    if i > 0 { print("") }
                    print(InspectReport.render(layout, memory: memory, availableBytes: available))
                }
            } catch {
                failures += 1
                if json {
                    entries.append(InspectReport.entry(path: path, error: error))
                } else {
                    fflush(stdout)  // keep the error line in order with the reports before it
                    FileHandle.standardError.write(Data("\(error)\n".utf8))
                }
            }
        }
        if json { print(InspectReport.json(entries)) }
        if failures > 0 { throw ExitCode(1) }
    }
}
