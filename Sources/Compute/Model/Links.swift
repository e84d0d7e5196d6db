import Foundation
import MartletCore

/// Nova's `links`: a versioned `self` and an unversioned `bookmark`.
struct Links: Sendable {
    /// `http://host:port/compute`
    let base: String

    func json(_ collection: String, _ id: String) -> JSON {
        [["rel": "self", "href": .string("\(base)/v2.1/\(collection)/\(id)")],
         ["rel": "bookmark", "href": .string("\(base)/\(collection)/\(id)")]]
    }

    /// `{collection}_links` with the `next` page after `marker`, when the page was full.
    func next(_ collection: String, path: String, marker: String, query: [String: String]) -> JSON {
        var items = query.filter { $0.key != "marker" }.sorted { $0.key < $1.key }.map { "\($0.key)=\(percent($0.value))" }
        items.append("marker=\(percent(marker))")
        return [["rel": "next", "href": .string("\(base)/v2.1/\(path)?" + items.joined(separator: "&"))]]
    }

    private func percent(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? s
    }
}
