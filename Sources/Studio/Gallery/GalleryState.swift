import Foundation
import TerminalUI

/// A short note a pane shows in its footer (a path, an error, a confirmation result).
public struct PaneMessage: Equatable, Sendable {
    /// The text.
    public var text: String
    /// Whether it reports a problem (error role) or information (dim role).
    public var isError: Bool

    /// A message.
    public init(_ text: String, isError: Bool = false) {
        self.text = text
        self.isError = isError
    }
}

/// The gallery pane: the images of an output folder (this run's and earlier ones), newest first, each with the
/// recipe read back from its PNG metadata. Value state + pure `render` + `handle` reducers; file-system work
/// happens only in the explicitly named mutating calls (`rescan`, `add`, the delete confirmation,
/// `loadThumbnailIfNeeded`).
public struct GalleryState: Equatable {
    /// What the app should do after a key or click.
    public enum Outcome: Equatable {
        /// The key is not the gallery's; the app may handle it (global keys).
        case ignored
        /// Handled inside the gallery (redraw).
        case handled
        /// Restore the studio's settings from this recipe.
        case restore(ImageRecipe)
        /// The user asked for this image's path (the footer shows it; the app may also open a file manager or copy it).
        case reveal(String)
        /// The image was moved to the trash folder (the app may drop it from its preview).
        case deleted(path: String, trashedTo: String)
    }

    /// Everything the gallery's keys can do.
    public enum Action: String, CaseIterable, Hashable {
        case up, down, pageUp, pageDown, first, last, open, delete, reveal, rescan, confirmDelete, cancelDelete
    }

    /// The output folder shown.
    public var folder: String
    /// Images, newest first.
    public private(set) var entries: [GalleryEntry]
    /// Selection and scroll.
    public private(set) var list: ListState
    /// The path waiting for delete confirmation, if any.
    public private(set) var pendingDelete: String?
    /// The footer note.
    public var message: PaneMessage?
    /// Thumbnails by path (only the few recently selected are kept).
    public private(set) var thumbnails: [String: ThumbnailSlot] = [:]
    /// Time zone for the dates in the list (a value, so snapshot tests can pin it).
    public var timeZone: TimeZone = .current
    /// Rows a page key moves; `render`'s caller keeps it in step through `handle(_:rect:)` or by setting it.
    public var pageRows = 10

    /// A gallery over `folder` showing `entries` (sorted newest first here). No file-system access.
    public init(folder: String, entries: [GalleryEntry] = []) {
        self.folder = folder
        self.entries = GalleryScanner.sorted(entries)
        list = ListState(count: self.entries.count)
    }

    /// A gallery with `folder` scanned (see `GalleryScanner.scan`); a listing problem shows in the footer.
    public static func scanned(folder: String) -> GalleryState {
        var s = GalleryState(folder: folder)
        s.rescan()
        return s
    }

    /// The selected image, if any.
    public var selectedEntry: GalleryEntry? { entries.isEmpty ? nil : entries[list.selected] }

    /// Re-reads the folder, keeping the selection on the same file when it is still there.
    public mutating func rescan() {
        let (found, error) = GalleryScanner.scan(folder: folder)
        setEntries(found)
        message = error.map { PaneMessage($0, isError: true) }
    }

    /// Replaces the entries (sorted newest first), keeping the selection on the same path when possible.
    public mutating func setEntries(_ new: [GalleryEntry]) {
        let keep = selectedEntry?.path
        entries = GalleryScanner.sorted(new)
        list.setCount(entries.count)
        if let keep, let i = entries.firstIndex(where: { $0.path == keep }) { list.select(i) }
        list.scrollToSelection(height: pageRows)
        let paths = Set(entries.map(\.path))
        thumbnails = thumbnails.filter { paths.contains($0.key) }
    }

    /// Adds (or refreshes) the image just written at `path` and selects it — for images from this run.
    public mutating func add(path: String) {
        let name = path.hasPrefix(folder + "/") ? String(path.dropFirst(folder.count + 1)) : nil
        var all = entries.filter { $0.path != path }
        all.append(GalleryEntry.read(path: path, displayName: name))
        thumbnails[path] = nil
        setEntries(all)
        if let i = entries.firstIndex(where: { $0.path == path }) { list.select(i) }
        list.scrollToSelection(height: pageRows)
    }

    /// The path whose thumbnail the selected row needs, or nil when it is loaded (or there is nothing selected or
    /// the file is unreadable). The app loads it with `Thumbnail.load` and calls `setThumbnail`.
    public var thumbnailRequest: String? {
        guard let e = selectedEntry, e.error == nil, thumbnails[e.path] == nil else { return nil }
        return e.path
    }

    /// Stores a thumbnail for `path`, keeping at most 16 (the selected one always stays).
    public mutating func setThumbnail(_ slot: ThumbnailSlot, for path: String) {
        thumbnails[path] = slot
        if thumbnails.count > 16 {
            let keep = selectedEntry?.path
            for key in thumbnails.keys where key != keep && key != path && thumbnails.count > 16 { thumbnails[key] = nil }
        }
    }

    /// Loads the selected image's thumbnail now, on the calling thread (about 20–60 ms for a 1024² PNG).
    public mutating func loadThumbnailIfNeeded() {
        guard let path = thumbnailRequest else { return }
        do { setThumbnail(.image(try Thumbnail.load(path: path)), for: path) } catch {
            setThumbnail(.failed("\(error)"), for: path)
        }
    }

    // MARK: Keys

    /// The gallery's key table (context `gallery`; `gallery.confirm` while a delete waits for an answer).
    public static let keyTable = KeyTable<Action, GalleryState>([
        KeyBinding(.up, .char("k"), action: .up, help: "previous image", context: "gallery"),
        KeyBinding(.down, .char("j"), action: .down, help: "next image", context: "gallery"),
        KeyBinding(Key(.pageUp), .ctrl("u"), action: .pageUp, help: "page up", context: "gallery"),
        KeyBinding(Key(.pageDown), .ctrl("d"), action: .pageDown, help: "page down", context: "gallery"),
        KeyBinding(Key(.home), .char("g"), action: .first, help: "newest image", context: "gallery"),
        KeyBinding(Key(.end), .char("G"), action: .last, help: "oldest image", context: "gallery"),
        KeyBinding(.enter, .char("o"), action: .open, help: "restore this image's settings", context: "gallery",
                   whyDisabled: { s in
                       guard let e = s.selectedEntry else { return "no images" }
                       return e.recipe == nil ? "\(e.displayName) has no sumi or A1111 metadata" : nil
                   }),
        KeyBinding(.char("d"), Key(.delete), action: .delete, help: "move image to the trash folder", context: "gallery",
                   whyDisabled: { $0.entries.isEmpty ? "no images" : nil }),
        KeyBinding(.char("p"), .char("y"), action: .reveal, help: "show the image's path", context: "gallery",
                   whyDisabled: { $0.entries.isEmpty ? "no images" : nil }),
        KeyBinding(.char("R"), action: .rescan, help: "re-read the output folder", context: "gallery"),
        KeyBinding(.char("y"), .enter, action: .confirmDelete, help: "yes, move to trash", context: "gallery.confirm"),
        KeyBinding(.char("n"), .escape, action: .cancelDelete, help: "no, keep it", context: "gallery.confirm"),
    ])

    /// The contexts that apply now, most specific first.
    public var keyContexts: [String] { pendingDelete == nil ? ["gallery"] : ["gallery.confirm"] }

    /// Help lines for the overlay, with current disabled reasons.
    public var helpEntries: [HelpEntry] { Self.keyTable.helpEntries(contexts: keyContexts, state: self) }

    /// Handles a key press.
    public mutating func handle(_ key: Key) -> Outcome {
        switch Self.keyTable.resolve(key, contexts: keyContexts, state: self) {
        case .perform(let action): return perform(action)
        case .disabled(_, let reason):
            message = PaneMessage(reason, isError: true)
            return .handled
        case .unbound:
            // A pending question swallows every other key so a stray press cannot act behind it.
            if pendingDelete != nil { return .handled }
            return .ignored
        }
    }

    /// Runs `action` (also for callers with their own bindings).
    public mutating func perform(_ action: Action) -> Outcome {
        if action != .reveal && action != .delete { message = nil }
        switch action {
        case .up: list.move(-1)
        case .down: list.move(1)
        case .pageUp: list.pageUp(height: pageRows)
        case .pageDown: list.pageDown(height: pageRows)
        case .first: list.first()
        case .last: list.last()
        case .open:
            guard let e = selectedEntry else { return .handled }
            guard let recipe = e.recipe else {
                message = PaneMessage("\(e.displayName): no sumi or A1111 metadata to restore", isError: true)
                return .handled
            }
            message = PaneMessage("restored settings from \(e.displayName)")
            return .restore(recipe)
        case .delete:
            guard let e = selectedEntry else { return .handled }
            pendingDelete = e.path
            message = nil
        case .confirmDelete:
            guard let path = pendingDelete else { return .handled }
            pendingDelete = nil
            do {
                let target = try GalleryScanner.moveToTrash(path, folder: folder)
                let name = entries.first { $0.path == path }?.displayName ?? path
                let index = list.selected
                setEntries(entries.filter { $0.path != path })
                list.select(index)
                message = PaneMessage("moved \(name) to \(GalleryScanner.trashFolderName)/")
                return .deleted(path: path, trashedTo: target)
            } catch {
                message = PaneMessage("\(error)", isError: true)
            }
        case .cancelDelete:
            pendingDelete = nil
        case .reveal:
            guard let e = selectedEntry else { return .handled }
            message = PaneMessage(e.path)
            return .reveal(e.path)
        case .rescan:
            rescan()
        }
        list.scrollToSelection(height: pageRows)
        return .handled
    }

    // MARK: Mouse

    /// Handles a click or wheel step inside the pane drawn at `rect`: a click selects a row, a click on the
    /// selected row opens it, the wheel moves the selection by three.
    public mutating func handle(_ mouse: MouseEvent, rect: Rect) -> Outcome {
        let layout = GalleryLayout(rect: rect, hasFooter: true)
        pageRows = max(1, layout.list.height)
        guard mouse.pressed, rect.contains(col: mouse.col, row: mouse.row), pendingDelete == nil else {
            return rect.contains(col: mouse.col, row: mouse.row) ? .handled : .ignored
        }
        switch list.press(mouse.button, col: mouse.col, row: mouse.row, list: layout.list) {
        case .activated: return perform(.open)
        case .selected: message = nil
        case .scrolled, .none: break
        }
        return .handled
    }
}
