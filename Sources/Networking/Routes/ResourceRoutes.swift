import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// The routes every resource kind has: list, create (one or in bulk), show, update and delete,
/// each honouring `If-Match: revision_number=N`, and the `/tags` sub-resource.
struct ResourceRoutes {
    let service: NetworkService
    let kind: any ResourceKind
    var table: ResourceTable { kind.table }
    var store: NetworkStore { service.store }

    func register(_ r: PolicyRouter) {
        let base = "/v2.0/\(table.path)"
        let member = table.member
        r.get(base, rule: "get_\(member)") { call in try await list(call) }
        r.post(base, rule: "create_\(member)") { call in try await create(call) }
        r.get("\(base)/:id", rule: "get_\(member)", loadsTarget: true) { call in
            let doc = try await service.read { db in try await visible(call, in: db) }
            try call.authorize(target(doc))
            let shown = try await service.read { db in try await kind.expand([doc], db, store) }
            return .json(.ok, [member: .object(try ListQuery(call.request, table: table).project(Caller(call.auth).view(shown[0], table)))])
        }
        r.put("\(base)/:id", rule: "update_\(member)", loadsTarget: true) { call in
            let json = try await call.body()
            let doc = try await service.change(call) { change in
                let current = try await visible(call, forUpdate: true, in: change.db)
                try call.authorize(target(current))
                let body = try Self.resource(json, table)
                try Self.checkRevision(call.request, current)
                let updated = try await kind.update(current, Body(body, resource: member), change)
                return updated == current ? current : try await change.update(table, updated)
            }
            let shown = try await service.read { db in try await kind.expand([doc], db, store) }
            return .json(.ok, [member: .object(Caller(call.auth).view(shown[0], table))])
        }
        r.delete("\(base)/:id", rule: "delete_\(member)", loadsTarget: true) { call in
            try await service.change(call) { change in
                let current = try await visible(call, forUpdate: true, in: change.db)
                try call.authorize(target(current))
                try Self.checkRevision(call.request, current)
                try await kind.delete(current, change)
            }
            return .empty()
        }
        // Only resources with the standard attributes take tags (`standard-attr-tag`).
        if table.standardAttributes { registerTags(r, base: base) }
    }

    private func target(_ doc: Doc) -> [String: String] { ["project_id": doc["project_id"]?.stringValue ?? ""] }

    /// The resource named by the path if the caller may see it; Neutron's 404 otherwise. Inside a
    /// write transaction (`forUpdate`) its row stays locked until the transaction ends.
    func visible(_ call: APICall, forUpdate: Bool = false, in db: any SQLDatabase) async throws -> Doc {
        let id = try call.param("id")
        let caller = Caller(call.auth)
        var condition: SQLQueryString = "id = \(bind: id)"
        if !caller.isAdmin { condition += " AND " as SQLQueryString; condition += kind.visibility(caller) }
        guard let doc = try await store.rows(table, where: condition, forUpdate: forUpdate, in: db).first else { throw NetFault.notFound(table, id) }
        return doc
    }

    static func resource(_ json: JSON, _ table: ResourceTable) throws -> [String: JSON] {
        guard let body = json[table.member] else {
            throw NetFault.badRequest("Resource body required: the request must carry '\(table.member)'.")
        }
        guard let object = body.objectValue else { throw NetFault.badRequest("Invalid input for \(table.member): it must be an object.") }
        return object
    }

    /// `If-Match: revision_number=N` makes an update or delete conditional (412 when stale); a
    /// resource without a revision number has nothing to compare, so the header is ignored.
    static func checkRevision(_ request: Request, _ doc: Doc) throws {
        guard let header = request.headers[.ifMatch], doc["revision_number"] != nil else { return }
        for part in header.split(separator: ",") {
            let condition = part.trimmingCharacters(in: .whitespaces)
            guard condition.hasPrefix("revision_number=") else { continue }
            guard let wanted = Int64(condition.dropFirst("revision_number=".count)) else {
                throw NetFault.badRequest("If-Match header: '\(condition)' is not revision_number=<integer>")
            }
            if doc["revision_number"]?.intValue != wanted {
                throw APIError(.preconditionFailed, "Constrained by revision_number=\(wanted), but current revision is \(doc["revision_number"]?.intValue ?? 0).", type: "RevisionNumberConstraintFailed")
            }
        }
    }

    static let maxBulk = 1000

    private func create(_ call: APICall) async throws -> Response {
        let json = try await call.body()
        let bulk: [JSON]
        if let many = json[table.collection] {
            guard case .array(let items) = many, !items.isEmpty else { throw NetFault.badRequest("Invalid input for \(table.collection): a non-empty list is required.") }
            // One transaction makes them all: its size is bounded, not left to the body.
            guard items.count <= Self.maxBulk else {
                throw NetFault.badRequest("Invalid input for \(table.collection): at most \(Self.maxBulk) may be created in one request.")
            }
            bulk = items
        } else {
            bulk = [.object(try Self.resource(json, table))]
        }
        let docs = try await service.change(call) { change in
            var docs: [Doc] = []
            for item in bulk {
                guard let object = item.objectValue else { throw NetFault.badRequest("Invalid input for \(table.member): it must be an object.") }
                docs.append(try await kind.create(Body(object, resource: table.member), change))
            }
            return docs
        }
        let caller = Caller(call.auth)
        let shown = try await service.read { db in try await kind.expand(docs, db, store) }.map { JSON.object(caller.view($0, table)) }
        if json[table.collection] != nil { return .json(.created, [table.collection: .array(shown)]) }
        return .json(.created, [table.member: shown[0]])
    }

    private func list(_ call: APICall) async throws -> Response {
        let query = try ListQuery(call.request, table: table)
        let caller = Caller(call.auth)
        if table.member == ResourceTable.securityGroups.member, !caller.projectID.isEmpty,
           try await service.read({ db in try await store.defaultSecurityGroup(project: caller.projectID, in: db) }) == nil {
            // Neutron makes a project's default group the first time the project looks.
            try await service.change(call) { change in _ = try await SecurityGroups.ensureDefault(project: caller.projectID, change) }
        }
        var condition = query.columnCondition(table)
        if !caller.isAdmin { condition += " AND " as SQLQueryString; condition += kind.visibility(caller) }
        let baseURL = "\(service.publicURL)/network/v2.0"
        if query.isPlain(table, expands: kind.expands, admin: caller.isAdmin) {
            let descending = (query.sorts.first.map { !$0.ascending } ?? false) != query.pageReverse
            if let marker = query.marker {
                condition += " AND id \(unsafeRaw: descending ? "<" : ">") \(bind: marker)" as SQLQueryString
            }
            var rows = try await service.read { db in
                try await store.raw(table, where: condition, order: "id \(descending ? "DESC" : "ASC")", limit: query.limit.map { $0 + 1 }, in: db)
            }
            let hasMore = query.limit.map { rows.count > $0 } ?? false
            if hasMore { rows.removeLast() }
            if query.pageReverse { rows.reverse() }
            let links = query.links(table, baseURL: baseURL, first: rows.first?.id, last: rows.last?.id, hasMore: hasMore)
            return RawPage.response(table, rows: rows, admin: caller.isAdmin, links: links)
        }
        var docs = try await service.read { db in try await store.rows(table, where: condition, in: db) }
        docs = try await service.read { db in try await kind.expand(docs, db, store) }
        docs = query.sorted(docs.map { caller.view($0, table) }.filter(query.matches))
        if query.pageReverse { docs.reverse() }
        docs = Array(try Pagination.after(query.marker, in: docs, id: { $0["id"]?.stringValue }, notFound: { NetFault.notFound(table, $0) }))
        var hasMore = false
        if let limit = query.limit, docs.count > limit {
            docs = Array(docs.prefix(limit))
            hasMore = true
        }
        if query.pageReverse { docs.reverse() }
        var body: [String: JSON] = [table.collection: .array(docs.map { .object(query.project($0)) })]
        if let links = query.links(table, baseURL: baseURL, first: docs.first?["id"]?.stringValue,
                                   last: docs.last?["id"]?.stringValue, hasMore: hasMore) {
            body["\(table.collection)_links"] = links
        }
        return .json(.ok, .object(body))
    }

    // MARK: - Tags

    private func registerTags(_ r: PolicyRouter, base: String) {
        let member = table.member
        let tags = "\(base)/:id/tags"
        r.get(tags, rule: "get_\(member)", loadsTarget: true) { call in
            let doc = try await service.read { db in try await visible(call, in: db) }
            try call.authorize(target(doc))
            return .json(.ok, ["tags": doc["tags"] ?? []])
        }
        r.get("\(tags)/:tag", rule: "get_\(member)", loadsTarget: true) { call in
            let doc = try await service.read { db in try await visible(call, in: db) }
            try call.authorize(target(doc))
            let tag = try call.param("tag")
            guard doc["tags"]?.array.contains(.string(tag)) == true else { throw APIError(.notFound, "Tag \(tag) could not be found.", type: "TagNotFound") }
            return .empty()
        }
        r.put(tags, rule: "update_\(member)", loadsTarget: true) { call in
            let json = try await call.body()
            let values = try await editTags(call) { _ in
                guard let list = json["tags"], case .array = list else { throw NetFault.badRequest("Invalid input for tags: a list is required.") }
                return try Tags.validate(try Body(["tags": list], resource: "tags").strings("tags") ?? [])
            }
            return .json(.ok, ["tags": JSON(values)])
        }
        r.delete(tags, rule: "update_\(member)", loadsTarget: true) { call in
            try await editTags(call) { _ in [] }
            return .empty()
        }
        r.put("\(tags)/:tag", rule: "update_\(member)", loadsTarget: true) { call in
            let tag = try Tags.validate([try call.param("tag")])[0]
            try await editTags(call) { $0.contains(tag) ? $0 : $0 + [tag] }
            return .empty(.created)
        }
        r.delete("\(tags)/:tag", rule: "update_\(member)", loadsTarget: true) { call in
            let tag = try call.param("tag")
            try await editTags(call) { current in
                guard current.contains(tag) else { throw APIError(.notFound, "Tag \(tag) could not be found.", type: "TagNotFound") }
                return current.filter { $0 != tag }
            }
            return .empty()
        }
    }

    /// Changes a resource's tags (after the caller's right to is checked); returns the new tags.
    @discardableResult
    private func editTags(_ call: APICall, _ edit: @escaping ([String]) throws -> [String]) async throws -> [String] {
        try await service.change(call) { change in
            var doc = try await visible(call, forUpdate: true, in: change.db)
            try call.authorize(target(doc))
            let current = (doc["tags"]?.array ?? []).compactMap(\.stringValue)
            let updated = try edit(current)
            guard updated != current else { return updated }
            doc["tags"] = JSON(updated)
            try await change.update(table, doc)
            return updated
        }
    }
}
