import Checkpoint
import Diffusion
import Foundation

/// One line about a `.safetensors` file for the picker's footer, from its header only: the file is memory-mapped
/// and `LoRAInfo` reads tensor names, shapes and the tiny `.alpha` scalars, so even a 7 GB checkpoint costs a few
/// milliseconds.
public enum FileSummary {
    /// `LoRA · kohya (LDM UNet paths) · 722 modules (unet 700, te1 11, te2 11) · rank 32 · α 16`, or
    /// `not a LoRA · 2515 tensors` for checkpoints, or `⚠ <error naming the file>`.
    public static func line(path: String) -> (text: String, isError: Bool) {
        do {
            let file = try SafeTensorsFile(path: path)
            guard let info = try LoRAInfo.analyze(file) else {
                return ("not a LoRA · \(file.names.count) tensors", false)
            }
            return (line(info), false)
        } catch {
            return ("⚠ \(error)", true)
        }
    }

    /// The summary of an analysed LoRA.
    public static func line(_ info: LoRAInfo) -> String {
        var parts = ["LoRA", info.format.rawValue]
        let targets = ["unet", "te1", "te2", "te"].compactMap { t in info.modulesPerTarget[t].map { "\(t) \($0)" } }
        parts.append("\(info.moduleCount) modules" + (targets.count > 1 ? " (\(targets.joined(separator: ", ")))" : ""))
        if let lo = info.minRank, let hi = info.maxRank { parts.append(lo == hi ? "rank \(lo)" : "rank \(lo)–\(hi)") }
        if !info.alphas.isEmpty {
            let a = info.alphas.map { PaneText.number(Double($0)) }
            parts.append("α " + (a.count > 2 ? "\(a.first!)–\(a.last!)" : a.joined(separator: ", ")))
        }
        if info.hasConv { parts.append("\(info.convModules) conv") }
        if info.unrecognisedKeys > 0 { parts.append("\(info.unrecognisedKeys) unrecognised keys") }
        return parts.joined(separator: " · ")
    }
}
