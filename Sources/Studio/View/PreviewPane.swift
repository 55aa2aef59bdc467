import TerminalUI

/// The preview pane: the image area (filled by the terminal layer), a progress row with it/s and ETA, and an
/// info row (seed, size, where the image was saved).
public enum PreviewPane {
    /// Draws the pane's text parts; the image itself comes from `StudioView.images`.
    public static func render(_ state: AppState, layout: StudioLayout, focused: Bool, into frame: inout Frame, theme: Theme) {
        let rect = layout.rect(.preview)
        let title: String
        if state.preview == nil { title = "Preview" } else { title = state.previewIsFinal ? "Preview · final" : "Preview · step" }
        let inner = frame.panel(rect, title: title, focused: focused, theme: theme)
        guard !inner.isEmpty else { return }
        let parts = layout.preview
        if state.preview == nil, !parts.image.isEmpty {
            let text: String
            switch state.model {
            case .loading(let what): text = "loading the model (\(what))…"
            case .failed(let why): text = why
            case .ready: text = "no image yet — ctrl+g generates"
            }
            let role: Role = { if case .failed = state.model { return .error } else { return .dim } }()
            frame.text(text, in: Rect(x: parts.image.x + 1, y: parts.image.y + parts.image.height / 2, width: parts.image.width - 2, height: 1),
                       align: .center, style: .role(role))
        }
        progress(state, into: &frame, rect: parts.progress, theme: theme)
        info(state, into: &frame, rect: parts.info)
    }

    static func progress(_ state: AppState, into frame: inout Frame, rect: Rect, theme: Theme) {
        switch state.job {
        case .running(let p):
            ProgressBar.render(p.info, into: &frame, rect: rect, theme: theme)
        case .queued:
            frame.text(state.modelReady ? "starting…" : "queued — waiting for the model", in: rect, style: .role(.warning))
        case .cancelling:
            frame.text("cancelling after this step…", in: rect, style: .role(.warning))
        case .idle:
            if let f = state.finished {
                let n = f.paths.count
                let per = n > 0 ? f.seconds / Double(n) : f.seconds
                let each = n > 1 ? String(format: " (%.1f s each)", per) : ""
                let rate = f.stepsPerSecond.map { " · " + ProgressInfo(label: "", completed: 1, total: 1, elapsed: 1 / $0).rateText } ?? ""
                frame.text("done · \(n) image\(n == 1 ? "" : "s") in \(String(format: "%.1f", f.seconds)) s\(each)\(rate)", in: rect,
                           style: .role(.accent))
            }
        }
    }

    static func info(_ state: AppState, into frame: inout Frame, rect: Rect) {
        switch state.job {
        case .running(let p):
            frame.text("seed \(p.seed) · \(state.sampler.width)×\(state.sampler.height) · \(p.phase)", in: rect, style: .role(.dim))
        case .idle:
            if let f = state.finished, let path = f.paths.last {
                let seed = f.seeds.last.map { "seed \($0) · " } ?? ""
                frame.text("\(seed)\(f.width)×\(f.height) · \(path)", in: rect, style: .role(.dim))
            } else {
                frame.text("images are saved to \(state.outputDirectory)/", in: rect, style: .role(.dim))
            }
        default:
            break
        }
    }
}
