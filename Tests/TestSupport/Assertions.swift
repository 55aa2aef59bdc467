import XCTest
import Tensor

/// Error of `actual` against `expected`: max |a − e| over max |e| (relative to the signal's scale),
/// plus the NMSE and the first element that misses the tolerance.
public struct Closeness: CustomStringConvertible {
    public let maxRelative: Double
    public let nmse: Double
    public let firstMismatch: (index: Int, actual: Float, expected: Float)?

    public var description: String {
        var s = String(format: "max rel %.3g, NMSE %.3g", maxRelative, nmse)
        if let m = firstMismatch { s += " — first mismatch at [\(m.index)]: \(m.actual) vs \(m.expected)" }
        return s
    }
}

/// Measures how close two equally shaped tensors are (see `Closeness`).
public func closeness(_ actual: Tensor, _ expected: Tensor, rtol: Double) -> Closeness {
    let a = actual.buffer, e = expected.buffer
    var scale = 0.0, maxDiff = 0.0, errSq = 0.0, sigSq = 0.0
    for v in e { scale = max(scale, Double(abs(v))) }
    let denom = max(scale, 1e-30)
    var first: (Int, Float, Float)? = nil
    for i in 0..<min(a.count, e.count) {
        let d = abs(Double(a[i]) - Double(e[i]))
        if !(d <= maxDiff) { maxDiff = d.isNaN ? .infinity : max(maxDiff, d) }
        errSq += d * d; sigSq += Double(e[i]) * Double(e[i])
        if first == nil, !(d / denom <= rtol) { first = (i, a[i], e[i]) }
    }
    return Closeness(maxRelative: maxDiff / denom, nmse: errSq / max(sigSq, 1e-300), firstMismatch: first)
}

/// Fails unless shapes match and max |a − e| ≤ rtol · max |e|.
public func assertClose(_ actual: Tensor?, _ expected: Tensor?, rtol: Double = 1e-5, _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    guard let actual, let expected else {
        XCTFail("assertClose: missing tensor (actual \(actual == nil ? "nil" : "set"), expected \(expected == nil ? "nil" : "set")) \(message())", file: file, line: line)
        return
    }
    guard actual.shape == expected.shape else {
        XCTFail("shape \(actual.shape) vs expected \(expected.shape) \(message())", file: file, line: line)
        return
    }
    let c = closeness(actual, expected, rtol: rtol)
    if !(c.maxRelative <= rtol) {
        XCTFail("not close (rtol \(rtol)): \(c) \(message())", file: file, line: line)
    }
}

/// Fails unless both tensors hold bit-identical values.
public func assertBitEqual(_ actual: Tensor, _ expected: Tensor, _ message: @autoclosure () -> String = "",
                           file: StaticString = #filePath, line: UInt = #line) {
    guard actual.shape == expected.shape else {
        XCTFail("shape \(actual.shape) vs expected \(expected.shape) \(message())", file: file, line: line); return
    }
    for i in 0..<actual.count where actual.data[i].bitPattern != expected.data[i].bitPattern {
        XCTFail("bits differ at [\(i)]: \(actual.data[i]) vs \(expected.data[i]) \(message())", file: file, line: line)
        return
    }
}
