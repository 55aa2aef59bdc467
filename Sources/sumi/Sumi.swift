import ArgumentParser
import Foundation

/// The `sumi` executable: the studio by default, plus headless subcommands that
/// share the same engine. Errors are mapped to one human line and a non-zero exit code here only.
@main
struct Sumi: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sumi",
        abstract: "Few-step SDXL generation and DMD2 distillation in the terminal.",
        version: "0.1.0",
        subcommands: [StudioCommand.self, Bench.self, Eval.self, Generate.self, Info.self, Inspect.self, Train.self],
        defaultSubcommand: StudioCommand.self
    )

    static func main() {
        BLASEnvironment.reexecWithShortSpinIfNeeded()
        main(nil)
    }
}

/// Prints what this build of the engine sees on this machine.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the engine's view of this machine.")

    func run() throws {
        print(MachineInfo.current().description)
    }
}
