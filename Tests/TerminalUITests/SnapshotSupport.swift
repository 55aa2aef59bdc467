import Foundation
import XCTest
@testable import TerminalUI

/// Repository root, found from this file's path (Tests/TerminalUITests/SnapshotSupport.swift).
let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let snapshotDir = repoRoot.appendingPathComponent("Tests/TerminalUITests/Snapshots")

/// The three shipped themes, loaded from themes/*.toml (a broken file fails the test that uses it).
func shippedThemes(file: StaticString = #filePath, line: UInt = #line) -> [Theme] {
    ["dark", "light", "high-contrast"].compactMap { name in
        do { return try Theme.load(path: repoRoot.appendingPathComponent("themes/\(name).toml").path) } catch {
            XCTFail("theme \(name): \(error)", file: file, line: line)
            return nil
        }
    }
}

/// Compares `frame`'s snapshot text (with the theme layer) against Snapshots/<name>.txt.
func assertSnapshot(_ frame: Frame, named name: String, theme: Theme? = nil, file: StaticString = #filePath, line: UInt = #line) {
    assertSnapshot(text: frame.snapshotText(theme: theme), named: name, file: file, line: line)
}

/// Compares `text` against Snapshots/<name>.txt. With SUMI_RECORD_SNAPSHOTS=1 it writes the file and
/// fails on purpose, so a recording run can never pass by accident; re-run without it to verify.
func assertSnapshot(text: String, named name: String, file: StaticString = #filePath, line: UInt = #line) {
    let url = snapshotDir.appendingPathComponent("\(name).txt")
    if ProcessInfo.processInfo.environment["SUMI_RECORD_SNAPSHOTS"] == "1" {
        try? FileManager.default.createDirectory(at: snapshotDir, withIntermediateDirectories: true)
        do { try text.write(to: url, atomically: true, encoding: .utf8) } catch { XCTFail("cannot record \(url.path): \(error)", file: file, line: line) }
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
