import Foundation

/// One row of the key table: the keys, the action they trigger, the help text, and a function that
/// says why the action is unavailable in a given state (nil when it is available). The help overlay,
/// the status-bar hints and dispatch all read the same rows, so they cannot disagree.
public struct KeyBinding<Action: Hashable, State> {
    /// The keys; the first is the one shown first in help (`↑/k`).
    public var keys: [Key]
    /// What the keys do.
    public var action: Action
    /// One short line for the help overlay.
    public var help: String
    /// Where the binding applies (`global`, `prompt`, `gallery`…). Lookups try the focused
    /// context first, so a context can shadow a global key on purpose.
    public var context: String
    /// Why the action cannot run now, or nil when it can.
    public var whyDisabled: (State) -> String?

    /// A binding.
    public init(_ keys: Key..., action: Action, help: String, context: String = "global",
                whyDisabled: @escaping (State) -> String? = { _ in nil }) {
        self.keys = keys
        self.action = action
        self.help = help
        self.context = context
        self.whyDisabled = whyDisabled
    }
}

/// What a key press means in the current state.
public enum KeyResolution<Action: Hashable>: Equatable {
    /// Run the action.
    case perform(Action)
    /// The key is bound but the action cannot run now; show the reason.
    case disabled(Action, reason: String)
    /// No binding (editors then treat printable keys as text).
    case unbound
}

/// One line of the help overlay.
public struct HelpEntry: Hashable, Sendable {
    /// The keys as shown (`↑/k`).
    public var keys: String
    /// What they do.
    public var help: String
    /// The context the binding belongs to.
    public var context: String
    /// Why it is unavailable now, if it is.
    public var disabledReason: String?

    /// A help line.
    public init(keys: String, help: String, context: String, disabledReason: String? = nil) {
        self.keys = keys
        self.help = help
        self.context = context
        self.disabledReason = disabledReason
    }
}

/// The application's one key table.
public struct KeyTable<Action: Hashable, State> {
    /// All bindings, in help order.
    public var bindings: [KeyBinding<Action, State>]

    /// A table.
    public init(_ bindings: [KeyBinding<Action, State>]) { self.bindings = bindings }

    /// Resolves `key` trying `contexts` in order (e.g. `["prompt", "global"]`).
    public func resolve(_ key: Key, contexts: [String], state: State) -> KeyResolution<Action> {
        for context in contexts {
            if let b = bindings.first(where: { $0.context == context && $0.keys.contains(key) }) {
                if let reason = b.whyDisabled(state) { return .disabled(b.action, reason: reason) }
                return .perform(b.action)
            }
        }
        return .unbound
    }

    /// Help lines for `contexts` (in that order), with the current disabled reasons.
    public func helpEntries(contexts: [String], state: State) -> [HelpEntry] {
        contexts.flatMap { context in
            bindings.filter { $0.context == context }.map {
                HelpEntry(keys: $0.keys.map(\.description).joined(separator: "/"), help: $0.help, context: context,
                          disabledReason: $0.whyDisabled(state))
            }
        }
    }

    /// The first key bound to `action` (for status-bar hints like "ctrl+g generate").
    public func key(for action: Action) -> Key? { bindings.first { $0.action == action }?.keys.first }

    /// Problems with the table: a key bound twice in one context, a binding with no keys or empty
    /// help, and any of `allActions` with no binding. Empty when the table is sound; the app's tests
    /// assert that.
    public func problems(allActions: [Action] = []) -> [String] {
        var out: [String] = []
        var seen: [String: [Key: Action]] = [:]
        for b in bindings {
            if b.keys.isEmpty { out.append("\(b.action): no keys") }
            if b.help.trimmingCharacters(in: .whitespaces).isEmpty { out.append("\(b.action): empty help") }
            for k in b.keys {
                if let other = seen[b.context]?[k] {
                    out.append("\(k) bound twice in context '\(b.context)': \(other) and \(b.action)")
                }
                seen[b.context, default: [:]][k] = b.action
            }
        }
        let bound = Set(bindings.map(\.action))
        for a in allActions where !bound.contains(a) { out.append("\(a): no key binding") }
        return out
    }
}

extension KeyTable where Action: CaseIterable {
    /// `problems(allActions:)` over every case of the action enum.
    public func problems() -> [String] { problems(allActions: Array(Action.allCases)) }
}
