import Foundation
import Imaging
import TestSupport
import XCTest
@testable import TerminalUI

/// Snapshot and temp-dir helpers for the gallery, dashboard and file-picker tests. Namespaced so the studio's
/// other test files can have their own helpers without clashing.
enum PaneSnapshot {
    /// Repository root, from this file's path (Tests/StudioTests/…).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let directory = repoRoot.appendingPathComponent("Tests/StudioTests/Snapshots")

    /// The three shipped themes from themes/*.toml.
    static func themes(file: StaticString = #filePath, line: UInt = #line) -> [Theme] {
        ["dark", "light", "high-contrast"].compactMap { name in
            do { return try Theme.load(path: repoRoot.appendingPathComponent("themes/\(name).toml").path) } catch {
                XCTFail("theme \(name): \(error)", file: file, line: line)
                return nil
            }
        }
    }

    /// Draws with `draw` into a `width`×`height` frame in every theme and compares with Snapshots/<name>-<theme>.txt.
    static func each(_ name: String, width: Int, height: Int, file: StaticString = #filePath, line: UInt = #line,
                     _ draw: (inout Frame, Theme) -> Void) {
        for theme in themes() {
            var f = Frame(width: width, height: height)
            draw(&f, theme)
            assert(f, named: "\(name)-\(theme.name)", theme: theme, file: file, line: line)
        }
    }

    /// Compares `frame`'s snapshot text with Snapshots/<name>.txt (see `TextSnapshot.assert`).
    static func assert(_ frame: Frame, named name: String, theme: Theme?, file: StaticString = #filePath, line: UInt = #line) {
        TextSnapshot.assert(frame.snapshotText(theme: theme), named: name, in: directory, file: file, line: line)
    }

    /// A fresh temporary folder (removed by the caller's `addTeardownBlock`).
    static func tempDir(_ test: XCTestCase) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sumi-panes-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// A small deterministic test image of four flat quadrants and a yellow square (few colours, so snapshot
    /// colour legends stay short when it is drawn at 1:1 scale).
    static func testImage(width: Int = 12, height: Int = 8) -> RGBImage {
        var px: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let inSquare = x >= width / 3 && x < width / 3 + 3 && y >= height / 3 && y < height / 3 + 3
                let quadrant: [UInt8] = x < width / 2 ? (y < height / 2 ? [30, 60, 160] : [40, 140, 70])
                                                      : (y < height / 2 ? [200, 80, 60] : [90, 90, 100])
                px += inSquare ? [250, 240, 60] : quadrant
            }
        }
        return RGBImage(width: width, height: height, pixels: px)
    }
}
