import Diffusion
import Foundation

/// Reading AUTOMATIC1111's `parameters` text, following `parse_generation_parameters` in
/// AUTOMATIC1111/stable-diffusion-webui `modules/infotext_utils.py`:
///
/// ```
/// a fox <lora:ink:0.8>
/// Negative prompt: blurry
/// Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 832x1216, Model: sdxl, ...
/// ```
///
/// The last line holds `Key: value` pairs (values with a comma, colon or newline are JSON strings); lines before it
/// are the prompt, then the negative prompt from the line starting `Negative prompt:`. Defaults for fields the text
/// lacks: sampler `euler`, scheduler `normal`, CFG 7, size 1024×1024. LoRAs come from `<lora:name:strength>` tags in
/// the prompt (removed from the restored prompt, since sumi takes LoRAs from its stack, not the prompt) and from
/// `Lora hashes`; a LoRA listed only in the hashes gets strength 1.
extension ImageRecipe {
    /// Parses A1111 `parameters` text; nil when it has no parameter line with `Steps` and `Seed`.
    public init?(a1111 text: String) {
        var lines = text.trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "\n")
        guard let last = lines.last, let fields = Self.parseFields(last), fields.count >= 3 else { return nil }
        lines.removeLast()
        let f = Dictionary(fields, uniquingKeysWith: { _, b in b })
        guard let stepsText = f["Steps"], let steps = Int(stepsText), let seedText = f["Seed"],
              let seed = UInt64(seedText) ?? Int64(seedText).map({ UInt64(bitPattern: $0) }) else { return nil }

        var prompt = "", negative = "", inNegative = false
        for line in lines {
            var l = line
            if l.hasPrefix("Negative prompt:") {
                inNegative = true
                l = String(l.dropFirst("Negative prompt:".count)).trimmingCharacters(in: .whitespaces)
            }
            if inNegative { negative += (negative.isEmpty ? "" : "\n") + l } else { prompt += (prompt.isEmpty ? "" : "\n") + l }
        }

        let (mapped, implied) = Self.comfySampler(f["Sampler"] ?? "euler")
        let sampler = mapped.isEmpty ? "euler" : mapped
        let scheduler = f["Schedule type"].map(Self.comfyScheduler) ?? implied ?? "normal"
        var width = 1024, height = 1024
        if let size = f["Size"] {
            let parts = size.split(separator: "x")
            if parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]) { width = w; height = h }
        }
        let (cleanPrompt, tagged) = Self.extractLoRATags(prompt)
        var loras = tagged
        if let hashes = f["Lora hashes"] {
            for item in hashes.split(separator: ",") {
                let kv = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, !kv[0].isEmpty else { continue }
                let hash = kv[1] == "unknown" ? nil : kv[1]
                if let i = loras.firstIndex(where: { $0.name == kv[0] }) { loras[i].hash = hash }
                else { loras.append(LoRAReference(name: kv[0], hash: hash, strength: 1)) }
            }
        }
        let model = f["Model"].map { ModelReference(name: $0, hash: f["Model hash"]) }
            ?? f["Model hash"].map { ModelReference(name: $0, hash: $0) }
        self.init(prompt: cleanPrompt, negativePrompt: negative, seed: seed, sampler: sampler, scheduler: scheduler,
                  steps: steps, cfg: f["CFG scale"].flatMap(Double.init) ?? 7, width: width, height: height,
                  model: model, loras: loras, denoise: f["Denoising strength"].flatMap(Double.init),
                  syntax: PromptSyntax.a1111.rawValue, generator: f["Version"], source: .a1111)
    }

    /// The `Key: value` pairs of a parameter line, in order; nil when the line is not one (a key that does not fit
    /// A1111's `\w[\w \-/]+` or an unterminated quoted value).
    static func parseFields(_ line: String) -> [(String, String)]? {
        let chars = Array(line)
        var i = 0, out: [(String, String)] = []
        func isKeyChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == " " || c == "-" || c == "/" }
        while i < chars.count {
            while i < chars.count, chars[i] == " " { i += 1 }
            if i == chars.count { break }
            let keyStart = i
            while i < chars.count, chars[i] != ":" {
                guard isKeyChar(chars[i]) else { return nil }
                i += 1
            }
            guard i < chars.count, i - keyStart >= 2 else { return nil }
            let key = String(chars[keyStart..<i])
            i += 1
            while i < chars.count, chars[i] == " " { i += 1 }
            var value = ""
            if i < chars.count, chars[i] == "\"" {
                let start = i
                i += 1
                while i < chars.count, chars[i] != "\"" { i += chars[i] == "\\" ? 2 : 1 }
                guard i < chars.count else { return nil }
                i += 1
                let quoted = String(chars[start..<i])
                guard let data = "[\(quoted)]".data(using: .utf8),
                      let arr = try? JSONSerialization.jsonObject(with: data) as? [String], let s = arr.first else { return nil }
                value = s
                while i < chars.count, chars[i] != "," { i += 1 }
            } else {
                let start = i
                while i < chars.count, chars[i] != "," { i += 1 }
                value = String(chars[start..<i]).trimmingCharacters(in: .whitespaces)
            }
            if i < chars.count { i += 1 }   // the comma
            out.append((key, value))
        }
        return out
    }

    /// An A1111 sampler name as ComfyUI's, plus the scheduler its old combined names imply (`DPM++ 2M Karras`).
    static func comfySampler(_ name: String) -> (sampler: String, scheduler: String?) {
        var base = name, scheduler: String? = nil
        for (suffix, s) in [(" Karras", "karras"), (" Exponential", "exponential")] where base.hasSuffix(suffix) {
            base = String(base.dropLast(suffix.count))
            scheduler = s
        }
        let map: [String: String] = [
            "Euler a": "euler_ancestral", "Euler": "euler", "LMS": "lms", "Heun": "heun", "DPM2": "dpm_2",
            "DPM2 a": "dpm_2_ancestral", "DPM++ 2S a": "dpmpp_2s_ancestral", "DPM++ 2M": "dpmpp_2m",
            "DPM++ SDE": "dpmpp_sde", "DPM++ 2M SDE": "dpmpp_2m_sde", "DPM++ 3M SDE": "dpmpp_3m_sde",
            "DPM fast": "dpm_fast", "DPM adaptive": "dpm_adaptive", "DDIM": "ddim", "LCM": "lcm", "UniPC": "uni_pc",
        ]
        return (map[base] ?? base, scheduler)
    }

    /// An A1111 `Schedule type` as ComfyUI's scheduler name (`Automatic` → `normal`; ComfyUI names pass through).
    static func comfyScheduler(_ name: String) -> String {
        let map: [String: String] = [
            "Automatic": "normal", "Uniform": "normal", "Karras": "karras", "Exponential": "exponential",
            "SGM Uniform": "sgm_uniform", "Simple": "simple", "Normal": "normal", "DDIM": "ddim_uniform", "Beta": "beta",
        ]
        return map[name] ?? name
    }

    /// Removes `<lora:name>` / `<lora:name:strength>` tags (extra `:te` weights ignored) from `prompt`, tidying the
    /// commas and spaces they leave, and returns them as references.
    static func extractLoRATags(_ prompt: String) -> (String, [LoRAReference]) {
        var out = "", loras: [LoRAReference] = []
        var rest = Substring(prompt)
        while let open = rest.range(of: "<lora:") {
            guard let close = rest[open.upperBound...].firstIndex(of: ">") else { break }
            out += rest[..<open.lowerBound]
            let parts = rest[open.upperBound..<close].split(separator: ":", omittingEmptySubsequences: false)
            if let name = parts.first, !name.isEmpty {
                let strength = parts.count > 1 ? Double(parts[1].trimmingCharacters(in: .whitespaces)) ?? 1 : 1
                loras.append(LoRAReference(name: String(name), strength: strength))
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        // Collapse what the tags leave behind: doubled spaces, ", ," and trailing separators.
        var cleaned = out
        for (from, to) in [("  ", " "), (" ,", ","), (",,", ",")] {
            while cleaned.contains(from) { cleaned = cleaned.replacingOccurrences(of: from, with: to) }
        }
        cleaned = cleaned.trimmingCharacters(in: CharacterSet(charactersIn: " ,"))
        return (loras.isEmpty ? prompt : cleaned, loras)
    }
}
