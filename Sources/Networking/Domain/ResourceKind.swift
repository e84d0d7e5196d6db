import MartletCore
import SQLKit

/// The rules of one kind of resource: what a create or an update may say, what each one does
/// besides storing the document, and what a delete must refuse or clean up.
protocol ResourceKind: Sendable {
    var table: ResourceTable { get }
    /// Whether documents are shown with attributes kept elsewhere (see `expand`).
    var expands: Bool { get }
    /// Which rows a non-admin sees.
    func visibility(_ caller: Caller) -> SQLQueryString
    /// Validates `body` and returns the new document (already stored).
    func create(_ body: Body, _ change: Change) async throws -> Doc
    /// Validates `body` against the stored document and returns the new one (the caller stores it).
    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc
    /// Refuses a delete that would break something, and removes what depends on the resource.
    func delete(_ current: Doc, _ change: Change) async throws
    /// Adds what is shown but kept elsewhere: a security group's rules, a floating IP's port details.
    func expand(_ docs: [Doc], _ db: any SQLDatabase, _ store: NetworkStore) async throws -> [Doc]
}

extension ResourceKind {
    func visibility(_ caller: Caller) -> SQLQueryString { "project_id = \(bind: caller.projectID)" }
    var expands: Bool { false }
    func expand(_ docs: [Doc], _ db: any SQLDatabase, _ store: NetworkStore) async throws -> [Doc] { docs }
}

/// Tags: strings on every resource, given on create or through `/tags`.
enum Tags {
    static func from(_ body: Body) throws -> [JSON] {
        try validate(try body.strings("tags") ?? []).map { .string($0) }
    }

    static func validate(_ tags: [String]) throws -> [String] {
        for tag in tags where tag.isEmpty || tag.count > 255 || tag.contains(",") {
            throw NetFault.invalid("tags", "'\(tag)' is not a valid tag")
        }
        var seen = Set<String>()
        return tags.filter { seen.insert($0).inserted }
    }
}
