import Checkpoint

// Key-name rules that sort a file's tensors into components (docs/sdxl-inference-reference.md §1a, §1c).

/// Tensors of one component as found in a file.
struct ComponentGroup {
    var role: CheckpointLayout.Role
    var naming: CheckpointLayout.Naming
    var prefix: String
    var tensors: [TensorInfo]

    /// Shape of `prefix + local`, if present.
    func shape(_ local: String) -> [Int]? { tensors.first { $0.name == prefix + local }?.shape }
    /// Shape of the first tensor whose local name contains `fragment`.
    func firstShape(containing fragment: String) -> [Int]? {
        tensors.first { $0.name.dropFirst(prefix.count).contains(fragment) }?.shape
    }
}

/// The outcome of sorting a file's keys.
struct LayoutClassification {
    var kind: CheckpointLayout.Kind
    var groups: [ComponentGroup]
    var other: [TensorInfo]
    var notes: [String]
}

extension CheckpointLayout {
    /// Pipeline prefixes of single-file checkpoints. Text-encoder roles are settled later from widths.
    static let singleFilePrefixes: [(prefix: String, role: Role, naming: Naming)] = [
        ("model.diffusion_model.", .unet, .ldm),
        ("conditioner.embedders.0.transformer.", .clipL, .transformers),
        ("conditioner.embedders.1.model.", .clipG, .openCLIP),
        // SDXL refiner: bigG alone at index 0.
        ("conditioner.embedders.0.model.", .clipG, .openCLIP),
        ("first_stage_model.", .vae, .ldm),
        ("cond_stage_model.transformer.", .clipL, .transformers),
        ("cond_stage_model.model.", .textEncoder, .openCLIP),
    ]

    /// Sorts tensors into components by key names (pure; shapes only refine labels).
    static func classify(_ infos: [TensorInfo]) -> LayoutClassification {
        var byPrefix: [String: [TensorInfo]] = [:]
        var rest: [TensorInfo] = []
        for t in infos {
            if let p = singleFilePrefixes.first(where: { t.name.hasPrefix($0.prefix) }) {
                byPrefix[p.prefix, default: []].append(t)
            } else {
                rest.append(t)
            }
        }
        if !byPrefix.isEmpty {
            var groups: [ComponentGroup] = []
            for p in singleFilePrefixes {
                guard let ts = byPrefix[p.prefix] else { continue }
                var g = ComponentGroup(role: p.role, naming: p.naming, prefix: p.prefix, tensors: ts)
                if g.role != .unet && g.role != .vae { g.role = textRole(g) }
                groups.append(g)
            }
            return singleFile(groups: ordered(groups), other: rest)
        }
        // A UNet saved with ComfyUI's inner prefix only.
        let inner = "diffusion_model."
        if infos.contains(where: { $0.name.hasPrefix(inner + "input_blocks.") }) {
            let ts = infos.filter { $0.name.hasPrefix(inner) }
            let g = ComponentGroup(role: .unet, naming: .ldm, prefix: inner, tensors: ts)
            return LayoutClassification(kind: .component(.unet), groups: [g],
                                        other: infos.filter { !$0.name.hasPrefix(inner) }, notes: unetNotes(g))
        }
        return bare(infos)
    }

    /// Kind and notes for a file with pipeline prefixes.
    private static func singleFile(groups: [ComponentGroup], other: [TensorInfo]) -> LayoutClassification {
        let legacy = groups.contains { $0.prefix.hasPrefix("cond_stage_model.") }
        let unet = groups.first { $0.role == .unet }
        let sdxlUNet = unet.map { adm($0) == 2816 } ?? false
        let hasConditioner = groups.contains { $0.prefix.hasPrefix("conditioner.") }
        var notes: [String] = []
        let kind: Kind
        if legacy || (!hasConditioner && unet != nil && !sdxlUNet) {
            kind = .sd1SingleFile
            notes.append("SD 1.x/2.x checkpoint: recognised, but this engine runs SDXL-family models only")
        } else {
            kind = .sdxlSingleFile
            let have = Set(groups.map(\.role))
            let missing = [Role.unet, .clipL, .clipG, .vae].filter { !have.contains($0) }
            if !missing.isEmpty {
                notes.append("not in this file: " + missing.map(\.label).joined(separator: ", "))
            }
        }
        if let u = unet { notes += unetNotes(u) }
        return LayoutClassification(kind: kind, groups: groups, other: other, notes: notes)
    }

    /// A file without pipeline prefixes: one component, chosen by the first key segment.
    private static func bare(_ infos: [TensorInfo]) -> LayoutClassification {
        func first(_ n: String) -> Substring { n.split(separator: ".", maxSplits: 1).first ?? "" }
        let tokens = Set(infos.map { first($0.name) })
        let names = infos.map(\.name)

        var role: Role?, naming: Naming = .diffusers, members: Set<Substring> = []
        if tokens.contains("input_blocks") || tokens.contains("output_blocks") {
            role = .unet; naming = .ldm
            members = ["input_blocks", "middle_block", "output_blocks", "time_embed", "label_emb", "out"]
        } else if tokens.contains("down_blocks") && tokens.contains("conv_in") {
            role = .unet; naming = .diffusers
            members = ["down_blocks", "mid_block", "up_blocks", "conv_in", "conv_out", "conv_norm_out",
                       "time_embedding", "add_embedding", "class_embedding"]
        } else if tokens.contains("encoder") && tokens.contains("decoder") {
            role = .vae
            naming = names.contains { $0.hasPrefix("encoder.down_blocks.") || $0.hasPrefix("decoder.up_blocks.") }
                ? .diffusers : .ldm
            members = ["encoder", "decoder", "quant_conv", "post_quant_conv"]
        } else if tokens.contains("text_model") {
            role = .textEncoder; naming = .transformers
            members = ["text_model", "text_projection"]
        } else if tokens.contains("transformer") && tokens.contains("token_embedding") {
            role = .textEncoder; naming = .openCLIP
            members = ["transformer", "token_embedding", "positional_embedding", "ln_final", "text_projection",
                       "logit_scale"]
        }
        guard let r = role else {
            return LayoutClassification(kind: .unknown, groups: [], other: infos, notes: [])
        }
        var g = ComponentGroup(role: r, naming: naming, prefix: "", tensors: infos.filter { members.contains(first($0.name)) })
        if r == .textEncoder { g.role = textRole(g) }
        let other = infos.filter { !members.contains(first($0.name)) }
        return LayoutClassification(kind: .component(g.role), groups: [g], other: other,
                                    notes: r == .unet ? unetNotes(g) : [])
    }

    /// CLIP-L / bigG / other, from the token-embedding width.
    static func textRole(_ g: ComponentGroup) -> Role {
        switch textWidth(g) {
        case 768: return .clipL
        case 1280: return .clipG
        default: return .textEncoder
        }
    }

    private static func textWidth(_ g: ComponentGroup) -> Int? {
        let s = g.naming == .openCLIP ? g.shape("token_embedding.weight")
            : g.shape("text_model.embeddings.token_embedding.weight")
        return s.flatMap { $0.count == 2 ? $0[1] : nil }
    }

    /// ADM (class-embedding input) width of a UNet: 2816 for SDXL base, absent for SD 1.x.
    static func adm(_ g: ComponentGroup) -> Int? {
        let s = g.naming == .ldm ? g.shape("label_emb.0.0.weight") : g.shape("add_embedding.linear_1.weight")
        return s.flatMap { $0.count == 2 ? $0[1] : nil }
    }

    private static func unetNotes(_ g: ComponentGroup) -> [String] {
        let a = adm(g)
        if a == 2560 { return ["UNet looks like the SDXL refiner (ADM 2560), which this engine does not run"] }
        return []
    }

    /// UNet, CLIP-L, CLIP-bigG, text encoder, VAE.
    static func ordered(_ gs: [ComponentGroup]) -> [ComponentGroup] {
        let order: [Role] = [.unet, .clipL, .clipG, .textEncoder, .vae]
        return gs.sorted { order.firstIndex(of: $0.role)! < order.firstIndex(of: $1.role)! }
    }

    /// A one-phrase architecture summary read from shapes.
    static func describe(_ g: ComponentGroup) -> String? {
        switch g.role {
        case .unet:
            let ch = (g.naming == .ldm ? g.shape("input_blocks.0.0.weight") : g.shape("conv_in.weight"))?.first
            let ctx = g.firstShape(containing: "attn2.to_k.weight").flatMap { $0.count == 2 ? $0[1] : nil }
            let blocks = Set(g.tensors.compactMap { t -> Substring? in
                guard let r = t.name.range(of: ".transformer_blocks.") else { return nil }
                let tail = t.name[r.upperBound...]
                return t.name[..<r.upperBound] + (tail.split(separator: ".").first ?? "")
            }).count
            var parts: [String] = []
            if let c = ch { parts.append("\(c) ch") }
            if let c = ctx { parts.append("context \(c)") }
            if let a = adm(g) { parts.append("ADM \(a)") }
            if blocks > 0 { parts.append("\(blocks) transformer blocks") }
            let family = adm(g) == 2816 && ctx == 2048 ? "SDXL: " : ""
            return parts.isEmpty ? nil : family + parts.joined(separator: ", ")
        case .vae:
            let latent = g.shape("decoder.conv_in.weight").flatMap { $0.count == 4 ? $0[1] : nil }
            let base = g.shape("encoder.conv_in.weight")?.first
            var parts: [String] = []
            if let l = latent { parts.append("latent \(l) ch") }
            if let b = base { parts.append("base \(b) ch") }
            return parts.isEmpty ? nil : parts.joined(separator: ", ")
        case .clipL, .clipG, .textEncoder:
            let marker = g.naming == .openCLIP ? "transformer.resblocks." : "text_model.encoder.layers."
            let layers = Set(g.tensors.compactMap { t -> Substring? in
                guard let r = t.name.range(of: marker) else { return nil }
                return t.name[r.upperBound...].split(separator: ".").first
            }).count
            var s = "\(layers) layers"
            if let w = textWidth(g) { s += " × \(w)" }
            if g.naming == .openCLIP { s += ", packed qkv" }
            if g.shape(g.naming == .openCLIP ? "text_projection" : "text_projection.weight") != nil { s += ", with projection" }
            return s
        }
    }
}
