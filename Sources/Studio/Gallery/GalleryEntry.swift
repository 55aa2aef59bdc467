import Foundation
import Imaging
import TerminalUI

/// One image in the gallery: its file facts and the recipe read back from it. Files that cannot be read keep
/// their place in the list with `error` set (shown with an error badge); a gallery never fails as a whole.
public struct GalleryEntry: Equatable, Sendable {
    /// Absolute (or as given) path.
    public var path: String
    /// Path relative to the gallery folder, shown in the list.
    public var displayName: String
    /// Modification time (the gallery lists newest first).
    public var modified: Date
    /// File size in bytes.
    public var byteCount: Int
    /// Pixel size from the PNG header, when readable.
    public var pixelSize: Size?
    /// How the image was made; nil when the PNG carries no sumi / A1111 metadata.
    public var recipe: ImageRecipe?
    /// Why the file is unusable (one line naming the file), or nil.
    public var error: String?

    /// An entry from its parts.
    public init(path: String, displayName: String? = nil, modified: Date, byteCount: Int,
                pixelSize: Size? = nil, recipe: ImageRecipe? = nil, error: String? = nil) {
        self.path = path
        self.displayName = displayName ?? (path as NSString).lastPathComponent
        self.modified = modified
        self.byteCount = byteCount
        self.recipe = recipe
        self.error = error
        self.pixelSize = pixelSize
    }

    /// Reads `path`'s header and text chunks (not its pixels). Never throws: problems land in `error`.
    public static func read(path: String, displayName: String? = nil) -> GalleryEntry {
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        var entry = GalleryEntry(path: path, displayName: displayName,
                                 modified: attrs?[.modificationDate] as? Date ?? Date(timeIntervalSince1970: 0),
                                 byteCount: (attrs?[.size] as? NSNumber)?.intValue ?? 0)
        do {
            let info = try PNGMetadataReader.read(path: path)
            entry.pixelSize = Size(width: info.width, height: info.height)
            entry.recipe = ImageRecipe.from(pngText: info.text)
        } catch {
            entry.error = "\(error)"
        }
        return entry
    }
}

/// Finding the images of an output folder.
public enum GalleryScanner {
    /// Where deleted images go, inside the gallery folder (hidden, so scans skip it).
    public static let trashFolderName = ".trash"

    /// Every `.png` under `folder` (down to `maxDepth` levels of subfolders, hidden folders and the trash
    /// skipped), read with `GalleryEntry.read`, newest first (ties: name descending, so `x-2` precedes `x-1`).
    /// A missing folder gives no entries and no error (nothing was generated yet); an unlistable one, an error.
    public static func scan(folder: String, maxDepth: Int = 2) -> (entries: [GalleryEntry], error: String?) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDir) else { return ([], nil) }
        guard isDir.boolValue else { return ([], "\(folder): not a folder") }
        var found: [(path: String, name: String)] = []
        var firstError: String?
        func walk(_ dir: String, prefix: String, depth: Int) {
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: dir) } catch {
                if firstError == nil { firstError = "\(dir): cannot list folder" }
                return
            }
            for name in names where !name.hasPrefix(".") {
                let path = (dir as NSString).appendingPathComponent(name)
                var sub: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &sub) else { continue }
                if sub.boolValue {
                    if depth < maxDepth { walk(path, prefix: prefix + name + "/", depth: depth + 1) }
                } else if name.lowercased().hasSuffix(".png") {
                    found.append((path, prefix + name))
                }
            }
        }
        walk(folder, prefix: "", depth: 0)
        return (sorted(found.map { GalleryEntry.read(path: $0.path, displayName: $0.name) }), firstError)
    }

    /// Newest first; equal times by display name descending.
    public static func sorted(_ entries: [GalleryEntry]) -> [GalleryEntry] {
        entries.sorted { a, b in a.modified != b.modified ? a.modified > b.modified : a.displayName > b.displayName }
    }

    /// Moves `path` into `folder`/.trash (created when needed), renaming `x.png` to `x-1.png`, … when the trash
    /// already holds that name. Returns the new path. Moving rather than deleting keeps a mistaken delete
    /// recoverable by hand; emptying the trash is left to the user.
    public static func moveToTrash(_ path: String, folder: String) throws -> String {
        let fm = FileManager.default
        let trash = (folder as NSString).appendingPathComponent(trashFolderName)
        do { try fm.createDirectory(atPath: trash, withIntermediateDirectories: true) } catch {
            throw GalleryError.trash(path: trash, reason: "cannot create folder")
        }
        let name = (path as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension, ext = (name as NSString).pathExtension
        var target = (trash as NSString).appendingPathComponent(name)
        var n = 1
        while fm.fileExists(atPath: target) {
            target = (trash as NSString).appendingPathComponent("\(stem)-\(n)" + (ext.isEmpty ? "" : ".\(ext)"))
            n += 1
        }
        do { try fm.moveItem(atPath: path, toPath: target) } catch {
            throw GalleryError.trash(path: path, reason: "cannot move to \(target)")
        }
        return target
    }
}

/// Gallery file operations that failed.
public enum GalleryError: Error, Equatable, CustomStringConvertible {
    /// Moving an image to the trash failed.
    case trash(path: String, reason: String)

    /// One line naming the file.
    public var description: String {
        switch self {
        case let .trash(path, reason): return "\(path): \(reason)"
        }
    }
}
