import XCTest
import Imaging
@testable import TerminalUI

final class ThemeTests: XCTestCase {
    func testShippedThemesLoad() throws {
        let themes = shippedThemes()
        XCTAssertEqual(themes.map(\.name), ["dark", "light", "high-contrast"])
        XCTAssertEqual(themes[0], Theme.dark, "themes/dark.toml and Theme.dark must match")
        XCTAssertEqual(themes[2].border, .heavy)
        XCTAssertEqual(themes[2].focusAttributes, .bold)
        XCTAssertEqual(themes[2].selectionAttributes, .underline)
        for t in themes { XCTAssertEqual(Set(t.colors.keys), Set(Role.allCases)) }
    }

    func testSyntaxErrorNamesFileAndLine() {
        let toml = "name = \"x\"\n[colors]\ntext = \"#ffffff\n"
        XCTAssertThrowsError(try Theme.parse(toml: toml, file: "themes/bad.toml")) { error in
            guard case let ThemeError.syntax(file, line, _, _)? = error as? ThemeError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "themes/bad.toml")
            XCTAssertEqual(line, 3)
            XCTAssertTrue("\(error)".hasPrefix("themes/bad.toml:3:"), "\(error)")
        }
    }

    func testBadValueNamesLineAndKey() {
        let toml = "name = \"x\"\n\n[colors]\ntext = \"#ffffff\"\n  accent = \"#12345\"\n"
        XCTAssertThrowsError(try Theme.parse(toml: toml, file: "t.toml")) { error in
            XCTAssertEqual(error as? ThemeError, .invalidValue(file: "t.toml", line: 5, key: "colors.accent",
                                                               message: "'#12345' is not a \"#rrggbb\" colour"))
            XCTAssertEqual("\(error)", "t.toml:5: key 'colors.accent': '#12345' is not a \"#rrggbb\" colour")
        }
        let unknown = "[colors]\ntext = \"#ffffff\"\nbordr = \"#000000\"\n"
        XCTAssertThrowsError(try Theme.parse(toml: unknown, file: "u.toml")) { error in
            guard case let ThemeError.invalidValue(_, line, key, message)? = error as? ThemeError else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 3)
            XCTAssertEqual(key, "colors.bordr")
            XCTAssertTrue(message.contains("unknown colour role"))
        }
        let style = "[style]\nborder = \"dotted\"\n"
        XCTAssertThrowsError(try Theme.parse(toml: style, file: "s.toml")) { error in
            XCTAssertEqual((error as? ThemeError).map { "\($0)" }, "s.toml:2: key 'style.border': expected \"rounded\", \"light\" or \"heavy\"")
        }
        let wrongType = "name = \"n\"\n[colors]\ntext = 12\n"
        XCTAssertThrowsError(try Theme.parse(toml: wrongType, file: "w.toml")) { error in
            guard case let ThemeError.invalidValue(_, line, key, _)? = error as? ThemeError else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 3)
            XCTAssertEqual(key, "colors.text")
        }
    }

    func testPartialThemeInheritsAndFallback() throws {
        let t = try Theme.parse(toml: "[colors]\naccent = \"#FF0000\"\n", file: "themes/red.toml")
        XCTAssertEqual(t.name, "red")
        XCTAssertEqual(t[.accent], RGBPixel(r: 255, g: 0, b: 0))
        XCTAssertEqual(t[.text], Theme.dark[.text])
        let (fallback, error) = Theme.loadOrDefault(path: "/nonexistent/theme.toml")
        XCTAssertEqual(fallback, .dark)
        XCTAssertEqual(error?.file, "/nonexistent/theme.toml")
    }

    func testPaletteMapping() {
        XCTAssertEqual(XtermPalette.nearest256(RGBPixel(r: 255, g: 0, b: 0)), 196)
        XCTAssertEqual(XtermPalette.nearest256(RGBPixel(r: 0, g: 0, b: 0)), 16)
        XCTAssertEqual(XtermPalette.nearest256(RGBPixel(r: 255, g: 255, b: 255)), 231)
        XCTAssertEqual(XtermPalette.nearest256(RGBPixel(r: 128, g: 128, b: 128)), 244)
        XCTAssertEqual(XtermPalette.nearest256(RGBPixel(r: 95, g: 135, b: 175)), 67)
        XCTAssertEqual(XtermPalette.color(67), RGBPixel(r: 95, g: 135, b: 175))
        XCTAssertEqual(XtermPalette.color(232), RGBPixel(r: 8, g: 8, b: 8))
        // Round trip: every palette entry maps back to itself (16…255).
        for i in 16..<256 { XCTAssertEqual(XtermPalette.nearest256(XtermPalette.color(i)), i, "entry \(i)") }
        XCTAssertEqual(XtermPalette.nearest16(RGBPixel(r: 250, g: 5, b: 5)), 9)
        XCTAssertEqual(ColorMode(colorCount: 1 << 24), .direct)
        XCTAssertEqual(ColorMode(colorCount: 256), .palette256)
        XCTAssertEqual(ColorMode(colorCount: 8), .ansi16)
        XCTAssertEqual(ColorMode.direct.colorNumber(for: RGBPixel(r: 1, g: 2, b: 3)), 0x010203)
        XCTAssertEqual(RGBPixel(hex: "#A0b1C2")?.hexString, "#a0b1c2")
        XCTAssertNil(RGBPixel(hex: "a0b1c2"))
        XCTAssertNil(RGBPixel(hex: "#a0b1cz"))
    }
}
