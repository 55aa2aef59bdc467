import ArgumentParser
import Foundation

/// The `sumi` executable: the studio by default (once it exists), plus headless subcommands that
/// share the same engine. Errors are mapped to one human line and a non-zero exit code here only.
@main
struct Sumi: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sumi",
        abstract: "Few-step SDXL generation and DMD2 distillation in the terminal.",
        version: "0.1.0",
        subcommands: [Bench.self, Generate.self, Info.self, Inspect.self],
        defaultSubcommand: Info.self
    )
}

/// Prints what this build of the engine sees on this machine (the default until the studio lands).
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the engine's view of this machine.")

    func run() throws {
        print(MachineInfo.current().description)
    }
}
