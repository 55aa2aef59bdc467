import Imaging
import Tensor

@_exported import struct Imaging.RGBImage

extension RGBImage {
    /// Converts a decoded image in [−1, 1] the way ComfyUI saves one: v = clamp((x + 1) / 2, 0, 1) · 255, then
    /// truncation to UInt8 (ComfyUI `comfy/sd.py` VAE.decode clamps to [0, 1]; `nodes.py` SaveImage does
    /// `np.clip(255 · i, 0, 255).astype(np.uint8)`). NaN becomes 0.
    /// decoded: [B, 3, H, W] (image `batchIndex` is taken) or [3, H, W].
    public init(decoded: Tensor, batchIndex: Int = 0) {
        precondition((decoded.rank == 4 && decoded.dim(1) == 3 && batchIndex < decoded.dim(0)) || (decoded.rank == 3 && decoded.dim(0) == 3),
                     "RGBImage: decoded \(decoded.shape) must be [B, 3, H, W] (batch index \(batchIndex)) or [3, H, W]")
        let (h, w) = (decoded.dim(-2), decoded.dim(-1))
        let plane = h * w
        let base = decoded.data + (decoded.rank == 4 ? batchIndex * 3 * plane : 0)
        var bytes = [UInt8](repeating: 0, count: plane * 3)
        for ch in 0..<3 {
            let src = base + ch * plane
            for i in 0..<plane { bytes[i * 3 + ch] = RGBImage.byte(src[i]) }
        }
        self.init(width: w, height: h, pixels: bytes)
    }

    /// [−1, 1] → 0…255 with ComfyUI's clamp-then-truncate rule.
    @inline(__always)
    static func byte(_ x: Float) -> UInt8 {
        guard !x.isNaN else { return 0 }
        let unit = min(max((x + 1) / 2, 0), 1)
        return UInt8(unit * 255)   // truncates toward zero
    }
}
