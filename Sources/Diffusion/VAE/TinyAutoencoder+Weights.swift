import Checkpoint
import Tensor

/// How a TAESD file's tensors are named.
public enum TinyAutoencoderWeightLayout: Sendable, Equatable {
    /// diffusers `AutoencoderTiny` names (`decoder.layers.N…`, and `encoder.layers.N…` when the file has the
    /// encoder), as in madebyollin/taesdxl `diffusion_pytorch_model.safetensors`.
    case diffusers
    /// The original madebyollin/taesd decoder file (`taesdxl_decoder.safetensors`): bare `nn.Sequential` keys whose
    /// index 0 is a parameter-free `Clamp()`, so key `N+1.…` = diffusers `decoder.layers.N.…`.
    case originalDecoder
    /// The original encoder file (`taesdxl_encoder.safetensors`): key `N.…` = diffusers `encoder.layers.N.…`.
    case originalEncoder
}

// Every checkpoint key of TAESD lives in this file.
// Original names after madebyollin/taesd `taesd.py` (Encoder / Decoder Sequentials, Decoder starting with Clamp());
// diffusers names after huggingface/diffusers `models/autoencoders/vae.py` (EncoderTiny / DecoderTiny `layers`).
extension TinyAutoencoder {
    /// Finds the layout of a TAESD file, or nil when it holds none.
    public static func detectLayout(in file: SafeTensorsFile) -> TinyAutoencoderWeightLayout? {
        if file.info("decoder.layers.0.weight") != nil || file.info("encoder.layers.0.weight") != nil { return .diffusers }
        // The decoder's first conv sits at 1 (after Clamp); the encoder's at 0.
        if file.info("1.weight") != nil && file.info("0.weight") == nil { return .originalDecoder }
        if file.info("0.weight") != nil { return .originalEncoder }
        return nil
    }

    /// Loads weights from `file`, strictly: a missing or mis-shaped tensor, or any unused tensor, throws
    /// `LoadError` naming the key. `.diffusers` loads the decoder and — when the file has any `encoder.` tensor —
    /// the encoder; `.originalDecoder` / `.originalEncoder` load that half only. Layout is detected unless given.
    public func load(from file: SafeTensorsFile, layout: TinyAutoencoderWeightLayout? = nil) throws {
        guard let layout = layout ?? TinyAutoencoder.detectLayout(in: file) else {
            throw LoadError.missingKey(file: file.path, key: "decoder.layers.0.weight")
        }
        switch layout {
        case .diffusers:
            let hasEncoder = file.names.contains { $0.hasPrefix("encoder.") }
            try ParameterLoader.load(decoder, from: file, prefix: "decoder.")
            if hasEncoder { try ParameterLoader.load(encoder, from: file, prefix: "encoder.") }
            let extra = file.names.filter { !$0.hasPrefix("decoder.") && !$0.hasPrefix("encoder.") }
            if !extra.isEmpty { throw LoadError.unexpectedKeys(file: file.path, keys: extra) }
        case .originalDecoder:
            try ParameterLoader.load(decoder, from: file, sourceName: { TinyAutoencoder.originalName($0, indexShift: 1) })
        case .originalEncoder:
            try ParameterLoader.load(encoder, from: file, sourceName: { TinyAutoencoder.originalName($0, indexShift: 0) })
        }
    }

    /// A `TinySequential` parameter name (`layers.N.rest`) → the original single-file key (`N+shift.rest`).
    public static func originalName(_ name: String, indexShift: Int) -> String {
        let p = name.split(separator: ".", maxSplits: 2).map(String.init)
        precondition(p.count == 3 && p[0] == "layers", "TAESD parameter name '\(name)' is not layers.N.…")
        return "\(Int(p[1])! + indexShift).\(p[2])"
    }
}
