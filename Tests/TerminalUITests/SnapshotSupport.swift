import Foundation
import TestSupport
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

/// Compares `text` against Snapshots/<name>.txt (see `TextSnapshot.assert`).
func assertSnapshot(text: String, named name: String, file: StaticString = #filePath, line: UInt = #line) {
    TextSnapshot.assert(text, named: name, in: snapshotDir, file: file, line: line)
}
