import Foundation

/// A sample's caption text (what the text encoders see) and its normalised tags (what filters see).
public struct SampleCaption: Sendable, Equatable, Codable {
    /// Caption text, trimmed.
    public var text: String
    /// Normalised tags (see `Tags.normalise`), in caption order, duplicates removed.
    public var tags: [String]
    /// Numeric metadata from the `.json` field (e.g. a stored CLIP-IQA score), by key.
    public var scores: [String: Double]

    /// A caption with explicit tags.
    public init(text: String, tags: [String], scores: [String: Double] = [:]) {
        self.text = text
        self.tags = tags
        self.scores = scores
    }

    /// Reads the caption from a sample's fields (extension → bytes). Sources, in priority order:
    /// - text: `txt`, then `caption.txt`, then `caption`; the text's comma-separated parts are tags;
    /// - `json`: an object with `"tags": [String]` (or a comma-separated string) and/or
    ///   `"caption": String`. Its tags are added to the filter tags; its caption (or, failing that,
    ///   the tags joined with ", ") is the text when no text field exists. Top-level numbers are
    ///   kept in `scores` (for a score threshold such as a stored CLIP-IQA value).
    /// Returns nil when no field yields any text (an unreadable json counts as absent).
    public static func parse(fields: [String: [UInt8]]) -> SampleCaption? {
        var text: String?
        for ext in ["txt", "caption.txt", "caption"] {
            if let bytes = fields[ext] {
                let t = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if !t.isEmpty { text = t; break }
            }
        }
        var tags = text.map(Tags.split) ?? []
        var scores: [String: Double] = [:]
        if let bytes = fields["json"],
           let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] {
            var jsonTags: [String] = []
            if let list = object["tags"] as? [Any] {
                jsonTags = list.compactMap { $0 as? String }.map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
            } else if let s = object["tags"] as? String {
                jsonTags = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            let jsonCaption = (object["caption"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines)
            if text == nil {
                if let c = jsonCaption, !c.isEmpty {
                    text = c
                    tags += Tags.split(c)
                } else if !jsonTags.isEmpty {
                    text = jsonTags.joined(separator: ", ")
                }
            }
            tags += jsonTags.map(Tags.normalise)
            for (k, v) in object {
                if let n = v as? NSNumber { scores[k] = n.doubleValue }
            }
        }
        guard let t = text else { return nil }
        var seen = Set<String>()
        let unique = tags.filter { !$0.isEmpty && seen.insert($0).inserted }
        return SampleCaption(text: t, tags: unique, scores: scores)
    }
}

/// Tag normalisation shared by captions and filters.
public enum Tags {
    /// Lower-cased, underscores as spaces, runs of whitespace collapsed, trimmed:
    /// "Bad_Hands " → "bad hands". Whole tags are compared, so "text" never matches "textured".
    public static func normalise(_ tag: String) -> String {
        tag.lowercased().replacingOccurrences(of: "_", with: " ")
            .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// A caption split on commas into normalised, non-empty tags.
    public static func split(_ caption: String) -> [String] {
        caption.split(separator: ",").map { normalise(String($0)) }.filter { !$0.isEmpty }
    }
}

/// Drops samples that carry any negative tag (whole normalised tags).
public struct TagFilter: Sendable, Equatable {
    /// The four tags the TensorArt DMD2 model card names: "bad, nsfw, text, negative".
    public static let modelCardTags = ["bad", "nsfw", "text", "negative"]
    /// Quality and artefact tags from Animagine XL 3.1's usual negative prompt ("nsfw, lowres, (bad),
    /// text, error, fewer, extra, missing, worst quality, jpeg artifacts, low quality, watermark,
    /// unfinished, displeasing, oldest, early, chromatic aberration, signature, extra digits,
    /// artistic error, username, scan, [abstract]") together with the long-standing NAI-style list it
    /// descends from ("lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit,
    /// fewer digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, signature,
    /// watermark, username, blurry, artist name"). The card's list beyond its four tags is
    /// unconfirmed (docs/dmd2-training-spec.md §7), so this is a documented guess and configurable.
    public static let animagineNegativeTags = [
        "lowres", "bad anatomy", "bad hands", "error", "missing fingers", "extra digit", "fewer digits",
        "cropped", "worst quality", "low quality", "normal quality", "jpeg artifacts", "signature",
        "watermark", "username", "blurry", "artist name",
    ]
    /// `modelCardTags` + `animagineNegativeTags`: the default filter.
    public static let defaultNegativeTags = modelCardTags + animagineNegativeTags

    /// Normalised negative tags.
    public let negativeTags: Set<String>

    /// A filter on `negativeTags` (normalised here, so "Bad_Hands" works).
    public init(negativeTags: [String] = TagFilter.defaultNegativeTags) {
        self.negativeTags = Set(negativeTags.map(Tags.normalise).filter { !$0.isEmpty })
    }

    /// The negative tags present in `tags` (already normalised), in `tags` order; empty = keep.
    public func matches(_ tags: [String]) -> [String] {
        tags.filter { negativeTags.contains($0) }
    }
}
