import Foundation
import TerminalUI
import Trainer

/// The training dashboard: loss curves per loss term, learning rate, gradient norm, speed, ETA, progress, stage
/// markers, samples and checkpoints — fed by `MetricsRecord`s from the in-process trainer (`ingest`) or from a file
/// another process writes (`poll(_:)` with a `MetricsFileFollower`, for `sumi --watch FILE`).
public struct DashboardState: Equatable {
    /// What the app should do after a key or click.
    public enum Outcome: Equatable {
        /// Not the dashboard's key.
        case ignored
        /// Handled here (redraw).
        case handled
        /// Show this image (the newest sample) in the preview.
        case openImage(String)
    }

    /// Everything the dashboard's keys can do.
    public enum Action: String, CaseIterable, Hashable {
        case toggleSmoothing, moreSmoothing, lessSmoothing, toggleLog, toggleRaw, zoom, openSample
        case toggleSeries1, toggleSeries2, toggleSeries3, toggleSeries4, toggleSeries5, toggleSeries6
    }

    /// The x range shown: the whole run or its last steps.
    public enum Window: Hashable, Sendable, CaseIterable {
        case all, last1000, last200

        /// Steps shown, nil for all.
        public var steps: Int? {
            switch self {
            case .all: return nil
            case .last1000: return 1000
            case .last200: return 200
            }
        }

        /// Footer label.
        public var label: String { steps.map { "last \($0)" } ?? "all" }
    }

    /// What the run has reported.
    public private(set) var history = MetricsHistory()
    /// Whether curves are EMA-smoothed.
    public var smoothing = true
    /// EMA weight when smoothing (TensorBoard's slider: 0…0.999).
    public var smoothingWeight = 0.9
    /// Whether the y axes of loss and grad-norm plots are logarithmic.
    public var logScale = false
    /// Whether raw values are drawn dim under smoothed curves.
    public var showRaw = true
    /// The x range shown.
    public var window: Window = .all
    /// Loss terms hidden from the plot (by name).
    public var hiddenSeries: Set<String> = []
    /// Relative sample paths are resolved against this folder (nil: as given, i.e. the working directory).
    public var sampleBase: String?
    /// Path of the loaded thumbnail (the newest sample when it was loaded).
    public private(set) var thumbnailPath: String?
    /// The loaded thumbnail, or why loading failed.
    public private(set) var thumbnailSlot: ThumbnailSlot?
    /// The footer note.
    public var message: PaneMessage?

    /// An empty dashboard (shows "waiting for metrics").
    public init() {}

    /// Takes in records (in order).
    public mutating func ingest(_ records: [MetricsRecord]) { records.forEach { ingest($0) } }

    /// Takes in one record.
    public mutating func ingest(_ record: MetricsRecord) { history.append(record) }

    /// Takes in what `follower` has gained since its last poll; returns whether anything arrived.
    @discardableResult
    public mutating func poll(_ follower: MetricsFileFollower) -> Bool {
        let new = follower.poll()
        ingest(new)
        return !new.isEmpty
    }

    /// The newest sample image's path (resolved against `sampleBase`), if any.
    public var newestSample: String? { history.samples.last.map { resolve($0.path) } }

    /// `path` resolved against `sampleBase` when relative.
    public func resolve(_ path: String) -> String {
        guard let base = sampleBase, !path.hasPrefix("/") else { return path }
        return (base as NSString).appendingPathComponent(path)
    }

    /// The path whose thumbnail the dashboard wants (the newest sample, when not loaded yet). The app loads it with
    /// `Thumbnail.load` and calls `setThumbnail`.
    public var thumbnailRequest: String? {
        guard let p = newestSample, thumbnailPath != p else { return nil }
        return p
    }

    /// Stores the thumbnail for `path`.
    public mutating func setThumbnail(_ slot: ThumbnailSlot, for path: String) {
        thumbnailPath = path
        thumbnailSlot = slot
    }

    /// Loads the newest sample's thumbnail now, on the calling thread.
    public mutating func loadThumbnailIfNeeded() {
        guard let path = thumbnailRequest else { return }
        do { setThumbnail(.image(try Thumbnail.load(path: path)), for: path) } catch {
            setThumbnail(.failed("\(error)"), for: path)
        }
    }

    /// The x range plots show now, or nil before the first step.
    public var visibleSteps: ClosedRange<Int>? {
        guard let r = history.stepRange else { return nil }
        guard let w = window.steps else { return r }
        return max(r.lowerBound, r.upperBound - w)...r.upperBound
    }

    /// The loss lines as drawn: visible terms, smoothed when asked, raw underlay first.
    public var lossLines: [MetricsPlot.Line] { lines(for: history.lossNames.filter { !hiddenSeries.contains($0) }) }

    func lines(for names: [String]) -> [MetricsPlot.Line] {
        var raw: [MetricsPlot.Line] = [], drawn: [MetricsPlot.Line] = []
        for name in names {
            let pts = history.losses[name] ?? []
            let role = Role.plot(history.lossNames.firstIndex(of: name) ?? 0)
            if smoothing && smoothingWeight > 0 {
                if showRaw { raw.append(.init(name: "", points: pts, role: .dim)) }
                drawn.append(.init(name: name, points: MetricsPlot.smoothed(pts, weight: smoothingWeight), role: role))
            } else {
                drawn.append(.init(name: name, points: pts, role: role))
            }
        }
        return raw + drawn
    }

    // MARK: Keys

    /// The dashboard's key table (context `dashboard`).
    public static let keyTable = KeyTable<Action, DashboardState>([
        KeyBinding(.char("s"), action: .toggleSmoothing, help: "smoothing on/off", context: "dashboard"),
        KeyBinding(.char("+"), .char("="), action: .moreSmoothing, help: "smooth more", context: "dashboard",
                   whyDisabled: { $0.smoothing ? nil : "smoothing is off (s)" }),
        KeyBinding(.char("-"), action: .lessSmoothing, help: "smooth less", context: "dashboard",
                   whyDisabled: { $0.smoothing ? nil : "smoothing is off (s)" }),
        KeyBinding(.char("l"), action: .toggleLog, help: "log-scale y axis", context: "dashboard"),
        KeyBinding(.char("r"), action: .toggleRaw, help: "raw values under smoothed curves", context: "dashboard",
                   whyDisabled: { $0.smoothing ? nil : "smoothing is off (s)" }),
        KeyBinding(.char("z"), action: .zoom, help: "steps shown: all / last 1000 / last 200", context: "dashboard"),
        KeyBinding(.char("o"), .enter, action: .openSample, help: "show the newest sample image", context: "dashboard",
                   whyDisabled: { $0.newestSample == nil ? "no sample images yet" : nil }),
        KeyBinding(.char("1"), action: .toggleSeries1, help: "show/hide loss term 1", context: "dashboard"),
        KeyBinding(.char("2"), action: .toggleSeries2, help: "show/hide loss term 2", context: "dashboard"),
        KeyBinding(.char("3"), action: .toggleSeries3, help: "show/hide loss term 3", context: "dashboard"),
        KeyBinding(.char("4"), action: .toggleSeries4, help: "show/hide loss term 4", context: "dashboard"),
        KeyBinding(.char("5"), action: .toggleSeries5, help: "show/hide loss term 5", context: "dashboard"),
        KeyBinding(.char("6"), action: .toggleSeries6, help: "show/hide loss term 6", context: "dashboard"),
    ])

    /// Help lines for the overlay, with current disabled reasons.
    public var helpEntries: [HelpEntry] { Self.keyTable.helpEntries(contexts: ["dashboard"], state: self) }

    /// Handles a key press.
    public mutating func handle(_ key: Key) -> Outcome {
        switch Self.keyTable.resolve(key, contexts: ["dashboard"], state: self) {
        case .perform(let a): return perform(a)
        case .disabled(_, let reason):
            message = PaneMessage(reason, isError: true)
            return .handled
        case .unbound: return .ignored
        }
    }

    /// Runs `action`.
    public mutating func perform(_ action: Action) -> Outcome {
        message = nil
        switch action {
        case .toggleSmoothing: smoothing.toggle()
        case .moreSmoothing: smoothingWeight = min(0.99, ((smoothingWeight + 0.05) * 100).rounded() / 100)
        case .lessSmoothing: smoothingWeight = max(0.05, ((smoothingWeight - 0.05) * 100).rounded() / 100)
        case .toggleLog: logScale.toggle()
        case .toggleRaw: showRaw.toggle()
        case .zoom:
            let all = Window.allCases
            window = all[(all.firstIndex(of: window)! + 1) % all.count]
        case .openSample:
            if let p = newestSample { return .openImage(p) }
        case .toggleSeries1, .toggleSeries2, .toggleSeries3, .toggleSeries4, .toggleSeries5, .toggleSeries6:
            let i = Action.allCases.firstIndex(of: action)! - Action.allCases.firstIndex(of: .toggleSeries1)!
            guard i < history.lossNames.count else {
                message = PaneMessage("no loss term \(i + 1)", isError: true)
                return .handled
            }
            let name = history.lossNames[i]
            if hiddenSeries.contains(name) { hiddenSeries.remove(name) } else { hiddenSeries.insert(name) }
        }
        return .handled
    }

    /// Handles a click or wheel step inside the pane drawn at `rect`: the wheel zooms in (up) and out (down), a click
    /// on the sample thumbnail opens it.
    public mutating func handle(_ mouse: MouseEvent, rect: Rect) -> Outcome {
        guard mouse.pressed, rect.contains(col: mouse.col, row: mouse.row) else { return .ignored }
        let all = Window.allCases
        let i = all.firstIndex(of: window)!
        switch mouse.button {
        case .wheelUp: window = all[min(all.count - 1, i + 1)]
        case .wheelDown: window = all[max(0, i - 1)]
        case .left:
            let layout = DashboardLayout(rect: rect)
            if layout.thumbnail.contains(col: mouse.col, row: mouse.row), let p = newestSample { return .openImage(p) }
        default: break
        }
        return .handled
    }
}
