import Foundation
import TerminalUI

/// A file picker over a few root folders (`models/` and user folders): browse folders, see only files with the
/// wanted extensions (`.safetensors` by default) and their sizes, type to filter, and pick a file. The highlighted
/// file gets a one-line LoRA summary read from its header. Listing a folder and reading a summary happen in the
/// mutating calls that move there (never in `render`).
///
/// Keys: printable characters type into the filter (so `j`/`k` are not navigation here), arrows and ctrl+n/ctrl+p
/// move, enter opens a folder or picks a file, → opens a folder, ← (or backspace with an empty filter) goes up,
/// esc clears the filter or, when it is empty, cancels.
public struct FilePickerState: Equatable {
    /// What the app should do after a key or click.
    public enum Outcome: Equatable {
        /// Not the picker's key.
        case ignored
        /// Handled here (redraw).
        case handled
        /// The user picked this file.
        case picked(String)
        /// The user closed the picker without picking.
        case cancelled
    }

    /// Everything the picker's keys can do.
    public enum Action: String, CaseIterable, Hashable {
        case up, down, pageUp, pageDown, first, last, activate, enterFolder, parent, backspace, clearFilter, cancel
    }

    /// One row: a folder or a matching file (or, at the top with several roots, a root).
    public struct Item: Equatable, Sendable {
        /// Name shown (a root shows its path as given).
        public var name: String
        /// Full path.
        public var path: String
        /// Whether it is a folder.
        public var isDirectory: Bool
        /// Size in bytes (files).
        public var byteCount: Int?

        /// An item.
        public init(name: String, path: String, isDirectory: Bool, byteCount: Int? = nil) {
            self.name = name
            self.path = path
            self.isDirectory = isDirectory
            self.byteCount = byteCount
        }
    }

    /// The roots; the picker never goes above them.
    public let roots: [String]
    /// File extensions shown, lower case without the dot.
    public let extensions: Set<String>
    /// Whether the highlighted file gets a LoRA summary line.
    public var showLoRAInfo: Bool
    /// The folder listed, or nil for the list of roots (only with several roots).
    public private(set) var directory: String?
    /// Every row of the folder (before filtering).
    public private(set) var items: [Item] = []
    /// The filter text.
    public private(set) var filter = ""
    /// Rows that pass the filter.
    public private(set) var visible: [Item] = []
    /// Selection and scroll over `visible`.
    public private(set) var list = ListState(count: 0)
    /// Summary lines by path (see `FileSummary`).
    public private(set) var summaries: [String: PaneMessage] = [:]
    /// The footer note.
    public var message: PaneMessage?
    /// Rows a page key moves (`handle(_:rect:)` keeps it in step with the drawn list).
    public var pageRows = 10

    /// A picker over `roots` (paths as given; `~` is expanded), listing the only root or the list of roots.
    /// Lists the folder (file-system access).
    public init(roots: [String], extensions: Set<String> = ["safetensors"], showLoRAInfo: Bool = true) {
        self.roots = roots.map { (($0 as NSString).expandingTildeInPath as NSString).standardizingPath }
        self.extensions = Set(extensions.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")) })
        self.showLoRAInfo = showLoRAInfo
        directory = self.roots.count == 1 ? self.roots[0] : nil
        reload()
    }

    /// The highlighted row, if any.
    public var highlighted: Item? { visible.isEmpty ? nil : visible[list.selected] }

    /// The root `directory` lies in.
    public var currentRoot: String? {
        guard let d = directory else { return nil }
        return roots.filter { d == $0 || d.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }.max { $0.count < $1.count }
    }

    /// `models/loras/` style location: the root's folder name and the path below it.
    public var location: String {
        guard let d = directory, let root = currentRoot else { return roots.count > 1 ? "roots" : "" }
        let name = (root as NSString).lastPathComponent
        let below = String(d.dropFirst(root.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return name + "/" + (below.isEmpty ? "" : below + "/")
    }

    /// Re-lists the folder (keeping the filter and, when possible, the highlighted name).
    public mutating func reload() {
        let keep = highlighted?.name
        message = nil
        if let d = directory {
            do { items = try Self.list(d, extensions: extensions) } catch {
                items = []
                message = PaneMessage("\(d): cannot list folder", isError: true)
            }
        } else {
            items = roots.map { Item(name: $0, path: $0, isDirectory: true) }
        }
        applyFilter(keeping: keep)
    }

    /// Folders and matching files of `dir`: hidden entries skipped, folders first, each group by name ignoring case.
    public static func list(_ dir: String, extensions: Set<String>) throws -> [Item] {
        let fm = FileManager.default
        var folders: [Item] = [], files: [Item] = []
        for name in try fm.contentsOfDirectory(atPath: dir) where !name.hasPrefix(".") {
            let path = (dir as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            if isDir.boolValue {
                folders.append(Item(name: name, path: path, isDirectory: true))
            } else if extensions.contains((name as NSString).pathExtension.lowercased()) {
                let size = (try? fm.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
                files.append(Item(name: name, path: path, isDirectory: false, byteCount: size))
            }
        }
        func order(_ a: Item, _ b: Item) -> Bool {
            let (x, y) = (a.name.lowercased(), b.name.lowercased())
            return x != y ? x < y : a.name < b.name
        }
        return folders.sorted(by: order) + files.sorted(by: order)
    }

    /// Whether `name` passes `filter`: every space-separated term occurs in it, ignoring case.
    public static func matches(_ name: String, filter: String) -> Bool {
        let n = name.lowercased()
        return filter.lowercased().split(separator: " ").allSatisfy { n.contains($0) }
    }

    private mutating func applyFilter(keeping name: String?) {
        visible = items.filter { Self.matches($0.name, filter: filter) }
        list = ListState(count: visible.count, selected: name.flatMap { n in visible.firstIndex { $0.name == n } } ?? 0)
        list.scrollToSelection(height: pageRows)
        updateSummary()
    }

    /// Reads the highlighted file's summary when it is not cached yet.
    private mutating func updateSummary() {
        guard showLoRAInfo, let item = highlighted, !item.isDirectory, summaries[item.path] == nil else { return }
        let (text, isError) = FileSummary.line(path: item.path)
        if summaries.count > 64 { summaries.removeAll() }
        summaries[item.path] = PaneMessage(text, isError: isError)
    }

    /// Types `text` into the filter.
    public mutating func type(_ text: String) {
        filter += text
        applyFilter(keeping: highlighted?.name)
    }

    /// Opens `path` (a folder under one of the roots); other paths are refused with a footer note.
    public mutating func open(folder path: String) {
        let p = (path as NSString).standardizingPath
        guard roots.contains(where: { p == $0 || p.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            message = PaneMessage("\(path): outside the picker's folders", isError: true)
            return
        }
        directory = p
        filter = ""
        list = ListState(count: 0)
        reload()
    }

    // MARK: Keys

    /// The picker's key table (context `filepicker`).
    public static let keyTable = KeyTable<Action, FilePickerState>([
        KeyBinding(.up, .ctrl("p"), action: .up, help: "previous entry", context: "filepicker"),
        KeyBinding(.down, .ctrl("n"), action: .down, help: "next entry", context: "filepicker"),
        KeyBinding(Key(.pageUp), action: .pageUp, help: "page up", context: "filepicker"),
        KeyBinding(Key(.pageDown), action: .pageDown, help: "page down", context: "filepicker"),
        KeyBinding(Key(.home), action: .first, help: "first entry", context: "filepicker"),
        KeyBinding(Key(.end), action: .last, help: "last entry", context: "filepicker"),
        KeyBinding(.enter, action: .activate, help: "open folder / pick file", context: "filepicker",
                   whyDisabled: { $0.highlighted == nil ? "nothing matches" : nil }),
        KeyBinding(.right, action: .enterFolder, help: "open folder", context: "filepicker",
                   whyDisabled: { $0.highlighted?.isDirectory == true ? nil : "not a folder" }),
        KeyBinding(.left, action: .parent, help: "parent folder", context: "filepicker",
                   whyDisabled: { $0.canGoUp ? nil : "already at the top" }),
        KeyBinding(.backspace, action: .backspace, help: "delete filter character / parent folder", context: "filepicker"),
        KeyBinding(.ctrl("u"), action: .clearFilter, help: "clear the filter", context: "filepicker"),
        KeyBinding(.escape, action: .cancel, help: "clear the filter, or close", context: "filepicker"),
    ])

    /// Help lines for the overlay, with current disabled reasons.
    public var helpEntries: [HelpEntry] {
        [HelpEntry(keys: "a-z…", help: "type to filter", context: "filepicker")]
            + Self.keyTable.helpEntries(contexts: ["filepicker"], state: self)
    }

    /// Whether there is a folder above (within the roots, or the list of roots).
    public var canGoUp: Bool {
        guard let d = directory else { return false }
        return roots.count > 1 || d != currentRoot
    }

    /// Handles a key press: bound keys run their action, other printable keys go into the filter.
    public mutating func handle(_ key: Key) -> Outcome {
        switch Self.keyTable.resolve(key, contexts: ["filepicker"], state: self) {
        case .perform(let a): return perform(a)
        case .disabled(_, let reason):
            message = PaneMessage(reason, isError: true)
            return .handled
        case .unbound:
            if case .char(let c) = key.code, key.modifiers.subtracting(.shift).isEmpty {
                type(String(c))
                return .handled
            }
            return .ignored
        }
    }

    /// Runs `action`.
    public mutating func perform(_ action: Action) -> Outcome {
        message = nil
        switch action {
        case .up: list.move(-1)
        case .down: list.move(1)
        case .pageUp: list.pageUp(height: pageRows)
        case .pageDown: list.pageDown(height: pageRows)
        case .first: list.first()
        case .last: list.last()
        case .activate, .enterFolder:
            guard let item = highlighted else { return .handled }
            if item.isDirectory { open(folder: item.path); return .handled }
            if action == .activate { return .picked(item.path) }
        case .parent: goUp()
        case .backspace:
            if filter.isEmpty { if canGoUp { goUp() } } else {
                filter.removeLast()
                applyFilter(keeping: highlighted?.name)
            }
        case .clearFilter:
            filter = ""
            applyFilter(keeping: highlighted?.name)
        case .cancel:
            if filter.isEmpty { return .cancelled }
            filter = ""
            applyFilter(keeping: highlighted?.name)
        }
        list.scrollToSelection(height: pageRows)
        updateSummary()
        return .handled
    }

    private mutating func goUp() {
        guard let d = directory, canGoUp else { return }
        let child = (d as NSString).lastPathComponent
        if d == currentRoot {
            directory = nil
        } else {
            directory = (d as NSString).deletingLastPathComponent
        }
        filter = ""
        list = ListState(count: 0)
        reload()
        // Land on the folder we came from.
        if let i = visible.firstIndex(where: { $0.name == child || $0.path == d }) { list.select(i) }
        list.scrollToSelection(height: pageRows)
        updateSummary()
    }

    // MARK: Mouse

    /// Handles a click or wheel step inside the pane drawn at `rect`: a click highlights a row, a click on the
    /// highlighted row opens or picks it, the wheel moves by three.
    public mutating func handle(_ mouse: MouseEvent, rect: Rect) -> Outcome {
        let layout = FilePickerLayout(rect: rect)
        pageRows = max(1, layout.list.height)
        guard mouse.pressed, rect.contains(col: mouse.col, row: mouse.row) else { return .ignored }
        switch list.press(mouse.button, col: mouse.col, row: mouse.row, list: layout.list) {
        case .activated: return perform(.activate)
        case .scrolled, .selected: updateSummary()
        case .none: break
        }
        return .handled
    }
}
