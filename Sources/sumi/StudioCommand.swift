import ArgumentParser
import Foundation
import Studio
import Tensor
import TerminalUI

/// `sumi` (no subcommand): the terminal studio. Reads the environment and resolves paths here, so the
/// Studio target never touches either.
struct StudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studio",
        abstract: "Open the terminal studio (the default when sumi runs without a subcommand).",
        discussion: """
            Prompt and negative prompt editors, a LoRA stack with live strength sliders, sampler settings and a \
            preview (sixel when the terminal supports it, else coloured half-blocks). Images are saved as PNG with \
            the same metadata as `sumi generate`. Settings persist in $XDG_CONFIG_HOME/sumi/studio.toml. F1 lists the keys.
            """)

    @Option(help: "SDXL checkpoint (.safetensors) or diffusers folder.", completion: .file())
    var model: String?
    @Option(help: "Theme name (themes/NAME.toml) or path to a theme file.")
    var theme: String = "dark"
    @Option(name: .customLong("image-mode"), help: "Preview images: sixel, blocks or auto (ask the terminal).")
    var imageMode: String = "auto"
    @Option(help: "Folder for generated images.", completion: .directory)
    var output: String = "outputs"
    @Option(name: .customLong("lora-dir"), help: "Extra folder to look for LoRAs in (repeatable; models/ is always searched).")
    var loraDirs: [String] = []
    @Option(help: "CLIP merges file (default: the model folder's tokenizer/merges.txt, else models/tokenizer/clip-merges.txt).")
    var tokenizer: String?
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @Option(help: "Matrix-product precision: auto (bf16 for full-size models on CPUs with AVX512-BF16 when memory allows its cached panels, fp32 otherwise), fp32 or bf16.")
    var precision = "auto"
    @Option(help: "Training metrics file to follow in the Train tab (JSON lines).", completion: .file())
    var watch: String?
    @Flag(name: .customLong("no-settings"), help: "Neither read nor write the settings file.")
    var noSettings = false
    @Flag(name: .customLong("no-model-hash"), help: "Skip hashing the model file for the metadata.")
    var noModelHash = false
    @Option(help: .hidden)   // `tiny` runs the test fixtures' tiny architecture (end-to-end tests)
    var architecture: String = "sdxl"

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("sumi: \(message)\n".utf8))
            return ExitCode(1)
        }
        // Without --model the embedded emoji model (models/sumi-emoji) opens, with its preset on a first start.
        let embedded = model == nil && watch == nil ? EmbeddedModelLocation.find() : nil
        if model == nil && watch == nil && embedded == nil {
            throw fail("--model is required: the embedded model (\(EmbeddedModelLocation.relative)) was not found")
        }
        let model = self.model ?? embedded
        if let model, !FileManager.default.fileExists(atPath: model) { throw fail("\(model): no such file or folder") }
        guard let mode = ImageMode(rawValue: imageMode) else { throw fail("unknown --image-mode `\(imageMode)` (sixel, blocks or auto)") }
        guard precision == "auto" || Precision(rawValue: precision) != nil else {
            throw fail("--precision \(precision): expected auto, fp32 or bf16")
        }
        guard ["sdxl", "tiny"].contains(architecture) else { throw fail("unknown architecture `\(architecture)` (sdxl or tiny)") }
        guard isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0 else {
            throw fail("the studio needs a terminal (use `sumi generate` in scripts)")
        }
        let merges: String
        do { merges = try ResourceLocator.merges(modelPath: model ?? ".", explicit: tokenizer) } catch { throw fail("\(error)") }

        var options = StudioOptions(modelPath: model, tokenizerPath: merges)
        options.tinyArchitecture = architecture == "tiny"
        (options.theme, options.themeError) = Self.loadTheme(theme)
        options.imageMode = mode
        options.outputDirectory = output
        options.settingsPath = noSettings ? nil : StudioSettings.path(configHome: StudioSettings.configHome(environment: env))
        options.presetDirectories = ResourceLocator.candidates("models/presets").filter { FileManager.default.fileExists(atPath: $0) }
        if embedded != nil { options.defaultPreset = "emoji" }
        options.loraDirectories = loraDirs + ResourceLocator.candidates("models").filter { FileManager.default.fileExists(atPath: $0) }.prefix(1)
        let cacheHome = env["XDG_CACHE_HOME"] ?? ((env["HOME"] ?? NSTemporaryDirectory()) as NSString).appendingPathComponent(".cache")
        options.hashCachePath = noModelHash ? nil : (cacheHome as NSString).appendingPathComponent("sumi/hashes.json")
        options.generator = "sumi \(Sumi.configuration.version)"
        options.environment = env
        options.threads = threads
        options.precision = Precision(rawValue: precision)
        options.watchPath = watch

        let app: StudioApp
        do { app = try StudioApp(options: options) } catch { throw fail("\(error)") }
        let code = app.run()
        if code != 0 { throw ExitCode(code) }
    }

    /// A theme by name (themes/NAME.toml next to the working directory or the executable) or path; a broken or
    /// missing file gives the default theme and the error (which names the file, line and key).
    static func loadTheme(_ name: String) -> (Theme, String?) {
        if name == "dark" && !ResourceLocator.candidates("themes").contains(where: {
            FileManager.default.fileExists(atPath: ($0 as NSString).appendingPathComponent("dark.toml"))
        }) {
            return (.dark, nil)
        }
        let path: String
        if name.contains("/") || name.hasSuffix(".toml") {
            path = name
        } else {
            let candidates = ResourceLocator.candidates("themes").map { ($0 as NSString).appendingPathComponent("\(name).toml") }
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                return (.dark, "theme `\(name)` not found (looked for \(candidates.first ?? "themes/\(name).toml"))")
            }
            path = found
        }
        let (theme, error) = Theme.loadOrDefault(path: path)
        return (theme, error.map { "\($0)" })
    }

}
