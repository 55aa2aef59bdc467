import Foundation
import XCTest

/// Text snapshots shared by the terminal UI and studio tests.
public enum TextSnapshot {
    /// Compares `text` against `<directory>/<name>.txt`. With SUMI_RECORD_SNAPSHOTS=1 it writes the file and fails
    /// on purpose, so a recording run can never pass by accident; re-run without it to verify. On a mismatch the
    /// failure names the first differing line and the actual output is written next to the temporary directory.
    public static func assert(_ text: String, named name: String, in directory: URL,
                              file: StaticString = #filePath, line: UInt = #line) {
        let url = directory.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["SUMI_RECORD_SNAPSHOTS"] == "1" {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            do { try text.write(to: url, atomically: true, encoding: .utf8) } catch {
                XCTFail("cannot record \(url.path): \(error)", file: file, line: line)
            }
            XCTFail("recorded snapshot \(name) (SUMI_RECORD_SNAPSHOTS=1 always fails; run again without it)", file: file, line: line)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            XCTFail("missing snapshot \(url.path); record with SUMI_RECORD_SNAPSHOTS=1. Actual:\n\(text)", file: file, line: line)
            return
        }
        guard expected != text else { return }
        let e = expected.components(separatedBy: "\n"), a = text.components(separatedBy: "\n")
        let i = Array(zip(e, a)).firstIndex { $0 != $1 } ?? min(e.count, a.count)
        let actualURL = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).actual.txt")
        try? text.write(to: actualURL, atomically: true, encoding: .utf8)
        XCTFail("""
            snapshot \(name) differs at line \(i + 1):
              expected: \(i < e.count ? e[i] : "<end>")
              actual:   \(i < a.count ? a[i] : "<end>")
            full actual output: \(actualURL.path)
            """, file: file, line: line)
    }
}
