import Foundation

/// A numeric slider's state (LoRA strengths, CFG): value in `range`, fine and coarse steps.
public struct SliderState: Hashable, Sendable {
    /// Label shown left of the track.
    public var label: String
    /// Current value (always inside `range`, on the fine-step grid).
    public private(set) var value: Double
    /// Allowed values.
    public let range: ClosedRange<Double>
    /// Step for plain arrows.
    public let fineStep: Double
    /// Step for shift+arrows / page keys.
    public let coarseStep: Double

    /// A slider; the default range −2…2 with 0.05 / 0.25 steps fits LoRA strengths.
    public init(label: String, value: Double = 0, range: ClosedRange<Double> = -2...2,
                fineStep: Double = 0.05, coarseStep: Double = 0.25) {
        self.label = label
        self.range = range
        self.fineStep = fineStep
        self.coarseStep = coarseStep
        self.value = range.lowerBound
        set(value)
    }

    /// Sets the value, clamped and snapped to the fine grid (so repeated steps do not drift: 0.1 + 0.05 … stays exact in print).
    public mutating func set(_ v: Double) {
        let snapped = (v / fineStep).rounded() * fineStep
        value = min(range.upperBound, max(range.lowerBound, snapped))
        if abs(value) < fineStep / 2 { value = 0 }
    }

    /// Moves by `steps` fine or coarse steps.
    public mutating func step(_ steps: Int, coarse: Bool = false) { set(value + Double(steps) * (coarse ? coarseStep : fineStep)) }

    /// The value as shown: sign and two decimals (`+0.75`, `-1.50`, ` 0.00`).
    public var valueText: String {
        value == 0 ? " 0.00" : String(format: "%+.2f", value)
    }
}

/// Draws a slider: `label ━━━━━●───── +0.75`, the filled part running from zero to the knob.
public enum Slider {
    /// Draws `state` into `rect`'s first row.
    public static func render(_ state: SliderState, into frame: inout Frame, rect: Rect, theme: Theme, focused: Bool) {
        guard !rect.isEmpty else { return }
        let row = Rect(x: rect.x, y: rect.y, width: rect.width, height: 1)
        frame.fill(row, style: Style(bg: .role(.background)))
        let labelWidth = min(DisplayWidth.of(state.label) + 1, rect.width / 3)
        let valueText = state.valueText
        frame.text(state.label, in: Rect(x: rect.x, y: rect.y, width: labelWidth, height: 1),
                   style: .role(focused ? .accent : .text, attrs: focused ? theme.focusAttributes : []))
        let valueRect = Rect(x: rect.maxX - valueText.count, y: rect.y, width: valueText.count, height: 1)
        frame.text(valueText, in: valueRect, align: .right, style: .role(focused ? .accent : .text, attrs: focused ? [.bold] : []))
        let track = Rect(x: rect.x + labelWidth, y: rect.y, width: rect.width - labelWidth - valueText.count - 1, height: 1)
        guard track.width >= 3 else { return }
        let span = state.range.upperBound - state.range.lowerBound
        func column(_ v: Double) -> Int {
            track.x + Int(((v - state.range.lowerBound) / span * Double(track.width - 1)).rounded())
        }
        let zero = column(min(max(0, state.range.lowerBound), state.range.upperBound))
        let knob = column(state.value)
        for col in track.x..<track.maxX {
            let filled = (col >= min(zero, knob) && col <= max(zero, knob)) && knob != zero
            let ch: Character = filled ? "━" : (col == zero ? "┼" : "─")
            frame.text(String(ch), col: col, row: rect.y, style: .role(filled ? .accent : .dim))
        }
        frame.text("●", col: knob, row: rect.y, style: .role(focused ? .accent : .text, attrs: focused ? [.bold] : []))
    }
}
