import Foundation
import Imaging
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

    /// Compares `frame`'s snapshot text with Snapshots/<name>.txt. SUMI_RECORD_SNAPSHOTS=1 writes it and fails on
    /// purpose (as in TerminalUITests), so a recording run never passes by accident.
    static func assert(_ frame: Frame, named name: String, theme: Theme?, file: StaticString = #filePath, line: UInt = #line) {
        let text = frame.snapshotText(theme: theme)
        let url = directory.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["SUMI_RECORD_SNAPSHOTS"] == "1" {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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
