import Foundation

/// PEFT's scaling for modules without a stored `.alpha`, read from the `lora_adapter_metadata` JSON that
/// diffusers (≥ 0.34) writes into the safetensors metadata: the `LoraConfig` of each component with keys
/// prefixed by the component (`unet.lora_alpha`, `unet.r`, `unet.use_rslora`, `unet.alpha_pattern`, …).
///
/// PEFT scales by lora_alpha / r (or lora_alpha / √r with rsLoRA); `alpha_pattern` overrides lora_alpha for
/// modules whose path ends with a pattern key (PEFT matches `.*\.<key>$`; keys are taken literally here).
/// Source: huggingface/peft src/peft/tuners/lora/layer.py `update_layer`; huggingface/diffusers
/// src/diffusers/loaders/lora_base.py `LORA_ADAPTER_METADATA_KEY`.
struct PEFTAlphas {
    struct Config { var alpha: Float; var rsLoRA: Bool; var alphaPattern: [String: Float] }
    /// Per component raw value ("unet", "text_encoder", "text_encoder_2"), or "" for unprefixed keys.
    private var configs: [String: Config] = [:]

    init(_ metadata: [String: String]) {
        guard let raw = metadata["lora_adapter_metadata"], let data = raw.data(using: .utf8),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return }
        for prefix in [""] + LoRAComponent.allCases.map({ $0.rawValue + "." }) {
            guard let alpha = (json[prefix + "lora_alpha"] as? NSNumber)?.floatValue else { continue }
            let rs = (json[prefix + "use_rslora"] as? NSNumber)?.boolValue ?? false
            var pattern: [String: Float] = [:]
            for (k, v) in (json[prefix + "alpha_pattern"] as? [String: Any]) ?? [:] {
                if let f = (v as? NSNumber)?.floatValue { pattern[k] = f }
            }
            configs[prefix.isEmpty ? "" : String(prefix.dropLast())] = Config(alpha: alpha, rsLoRA: rs, alphaPattern: pattern)
        }
    }

    /// alpha / rank for `module` (file spelling) adapting `target`, or nil when the metadata says nothing.
    func scale(module: String, target: LoRATargetSpace.Target, rank: Int) -> Float? {
        guard rank > 0, !configs.isEmpty else { return nil }
        let qualified: String
        switch target {
        case .weight(let w): qualified = w
        case .packedQKV(let q, _, _): qualified = q
        }
        let component = String(qualified.prefix { $0 != "." })
        guard let c = configs[component] ?? configs[""] else { return nil }
        let path = String(qualified.dropFirst(component.count + 1).dropLast(".weight".count))
        var alpha = c.alpha
        // Longest matching pattern wins (PEFT takes the first regex match; patterns rarely overlap).
        if let hit = c.alphaPattern.keys.filter({ path == $0 || path.hasSuffix("." + $0) }).max(by: { $0.count < $1.count }) {
            alpha = c.alphaPattern[hit]!
        }
        return alpha / (c.rsLoRA ? Float(rank).squareRoot() : Float(rank))
    }
}
