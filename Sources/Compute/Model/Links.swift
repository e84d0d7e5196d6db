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

    /// `{collection}_links` with the `next` page after `marker`: the query as asked, sorted by name,
    /// with `marker` last.
    func next(path: String, marker: String, query: [String: String]) -> JSON {
        let items = query.filter { $0.key != "marker" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } + [("marker", marker)]
        return Pagination.links(next: Pagination.href("\(base)/v2.1/\(path)", items))
    }
}
