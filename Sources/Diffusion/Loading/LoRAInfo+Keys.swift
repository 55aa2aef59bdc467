// How LoRA / LyCORIS tensor names split into (module, part), per docs/sdxl-inference-reference.md §1d
// (kohya `lora_unet_…​.lora_down.weight`, PEFT `….lora_A.weight`, LyCORIS `.lora_mid` / `.hada_*` / `.lokr_*`,
// old diffusers `…processor.to_q_lora.down.weight`, transformers `…lora_linear_layer.down.weight`).

/// One tensor's role inside an adapter module.
enum LoRAPart: Equatable {
    case down, up, mid, alpha, upBias, doraScale
    case hadaW1A, hadaW1B, hadaW2A, hadaW2B, hadaT1, hadaT2
    case lokrW1, lokrW2, lokrW1A, lokrW1B, lokrW2A, lokrW2B, lokrT2
    case diff, diffBias, norm
}

/// Which family of key spellings a tensor name uses.
enum LoRAKeyStyle: Equatable {
    case kohya, peft, legacyDiffusers, lycoris, other
}

enum LoRAKeys {
    /// Suffix → part and key style; longer suffixes first where one ends another.
    static let suffixes: [(suffix: String, part: LoRAPart, style: LoRAKeyStyle)] = [
        (".lora_down.weight", .down, .kohya), (".lora_up.weight", .up, .kohya), (".lora_mid.weight", .mid, .lycoris),
        (".lora_A.default.weight", .down, .peft), (".lora_B.default.weight", .up, .peft),
        (".lora_A.weight", .down, .peft), (".lora_B.weight", .up, .peft), (".lora_B.bias", .upBias, .peft),
        (".lora_linear_layer.down.weight", .down, .legacyDiffusers), (".lora_linear_layer.up.weight", .up, .legacyDiffusers),
        ("_lora.down.weight", .down, .legacyDiffusers), ("_lora.up.weight", .up, .legacyDiffusers),
        (".lora.down.weight", .down, .legacyDiffusers), (".lora.up.weight", .up, .legacyDiffusers),
        (".alpha", .alpha, .other), (".dora_scale", .doraScale, .other),
        (".hada_w1_a", .hadaW1A, .lycoris), (".hada_w1_b", .hadaW1B, .lycoris),
        (".hada_w2_a", .hadaW2A, .lycoris), (".hada_w2_b", .hadaW2B, .lycoris),
        (".hada_t1", .hadaT1, .lycoris), (".hada_t2", .hadaT2, .lycoris),
        (".lokr_w1_a", .lokrW1A, .lycoris), (".lokr_w1_b", .lokrW1B, .lycoris),
        (".lokr_w2_a", .lokrW2A, .lycoris), (".lokr_w2_b", .lokrW2B, .lycoris),
        (".lokr_w1", .lokrW1, .lycoris), (".lokr_w2", .lokrW2, .lycoris), (".lokr_t2", .lokrT2, .lycoris),
        (".diff_b", .diffBias, .lycoris), (".diff", .diff, .lycoris),
        (".w_norm", .norm, .lycoris), (".b_norm", .norm, .lycoris),
    ]

    /// Splits a tensor name into its module name and part, or nil when it is no adapter key.
    static func split(_ name: String) -> (module: String, part: LoRAPart, style: LoRAKeyStyle)? {
        for s in suffixes where name.hasSuffix(s.suffix) && name.count > s.suffix.count {
            return (String(name.dropLast(s.suffix.count)), s.part, s.style)
        }
        return nil
    }

    /// Module-name prefixes and the component they address. kohya joins the path with `_`; PEFT keeps dots.
    static let targetPrefixes: [(prefix: String, target: String)] = [
        ("lora_unet_", "unet"), ("lycoris_", "unet"), ("lora_te1_", "te1"), ("lora_te2_", "te2"), ("lora_te_", "te"),
        ("unet.", "unet"), ("text_encoder_2.", "te2"), ("text_encoder.", "te1"),
        ("model.diffusion_model.", "unet"), ("diffusion_model.", "unet"),
    ]

    /// (component, module path without the component prefix).
    static func target(of module: String) -> (target: String, path: String) {
        for p in targetPrefixes where module.hasPrefix(p.prefix) {
            return (p.target, String(module.dropFirst(p.prefix.count)))
        }
        return (module.contains("text_model") ? "te" : "unet", module)
    }

    /// LDM or diffusers block naming of a UNet module path (either separator).
    static func unetPathStyle(_ path: String) -> String? {
        if path.contains("input_blocks") || path.contains("output_blocks") || path.contains("middle_block") { return "ldm" }
        if path.contains("down_blocks") || path.contains("up_blocks") || path.contains("mid_block") { return "diffusers" }
        return nil
    }

    /// Module types in display form, matched against the path with `.` replaced by `_`.
    /// LDM names map to their diffusers equivalents (§1c) so both styles summarise alike.
    private static let types: [(underscored: String, display: String)] = [
        ("to_out_0", "to_out.0"), ("to_q", "to_q"), ("to_k", "to_k"), ("to_v", "to_v"), ("to_out", "to_out.0"),
        ("ff_net_0_proj", "ff.net.0.proj"), ("ff_net_2", "ff.net.2"), ("proj_in", "proj_in"), ("proj_out", "proj_out"),
        ("time_emb_proj", "time_emb_proj"), ("emb_layers_1", "time_emb_proj"),
        ("conv_shortcut", "conv_shortcut"), ("skip_connection", "conv_shortcut"),
        ("in_layers_2", "conv1"), ("out_layers_3", "conv2"), ("conv1", "conv1"), ("conv2", "conv2"),
        ("downsamplers_0_conv", "downsample"), ("upsamplers_0_conv", "upsample"), ("op", "downsample"),
        ("time_embedding_linear_1", "time_embedding"), ("time_embedding_linear_2", "time_embedding"),
        ("add_embedding_linear_1", "add_embedding"), ("add_embedding_linear_2", "add_embedding"),
        ("conv_in", "conv_in"), ("conv_out", "conv_out"),
        ("q_proj", "q_proj"), ("k_proj", "k_proj"), ("v_proj", "v_proj"), ("out_proj", "out_proj"),
        ("fc1", "mlp.fc1"), ("fc2", "mlp.fc2"), ("text_projection", "text_projection"),
    ]

    /// The module type of a path such as `down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q`.
    static func moduleType(_ path: String) -> String {
        var u = path.replacingOccurrences(of: ".", with: "_")
        for pre in ["processor_"] where u.contains(pre) { u = u.replacingOccurrences(of: pre, with: "") }
        switch u {
        case "time_embed_0", "time_embed_2": return "time_embedding"
        case "label_emb_0_0", "label_emb_0_2": return "add_embedding"
        case "input_blocks_0_0": return "conv_in"
        case "out_2": return "conv_out"
        default: break
        }
        for t in types where u == t.underscored || u.hasSuffix("_" + t.underscored) { return t.display }
        // LDM upsampler: output_blocks_<n>_<1|2>_conv.
        if u.hasSuffix("_conv"), u.contains("output_blocks") { return "upsample" }
        return u.split(separator: "_").last.map(String.init) ?? u
    }
}
