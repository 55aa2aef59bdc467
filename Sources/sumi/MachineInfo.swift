import Foundation
import Tensor

/// CPU and memory facts the benchmarks and the studio report.
struct MachineInfo: CustomStringConvertible, Encodable {
    let cpuModel: String
    let cores: Int
    let memoryGiB: Double
    let avx512: Bool
    let avx512bf16: Bool
    let avx2: Bool
    let blasCore: String

    static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return MachineInfo(cpuModel: model, cores: ProcessInfo.processInfo.activeProcessorCount,
                           memoryGiB: Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824,
                           avx512: CPUFeatures.hasAVX512, avx512bf16: CPUFeatures.hasAVX512BF16, avx2: CPUFeatures.hasAVX2,
                           blasCore: BLAS.coreName)
    }

    var description: String {
        let feats = [avx512 ? "AVX-512" : nil, avx512bf16 ? "AVX512-BF16" : nil, avx2 ? "AVX2+FMA" : nil].compactMap { $0 }
        return """
        sumi 0.1.0 — engine check
          CPU:     \(cpuModel), \(cores) cores, \(String(format: "%.1f", memoryGiB)) GiB
          SIMD:    \(feats.isEmpty ? "baseline x86-64" : feats.joined(separator: ", "))
          OpenBLAS kernel: \(blasCore)
        """
    }
}
