import MartletCore
import ServiceContracts
import SQLKit

extension NetworkCaller {
    var caller: Caller { Caller(isAdmin: isAdmin, projectID: projectID) }
}

extension NetworkService: NetworkResources {
    private func kind(_ collection: String) throws -> any ResourceKind {
        guard let kind = Self.kinds.first(where: { $0.table.collection == collection }) else {
            throw NetFault.badRequest("Unknown collection \(collection).")
        }
        return kind
    }

    public func list(_ collection: String, as who: NetworkCaller, matching: [String: String]) async throws -> [JSON] {
        let kind = try kind(collection)
        let caller = who.caller
        if collection == ResourceTable.securityGroups.collection, !caller.projectID.isEmpty {
            try await change(caller: caller) { change in _ = try await SecurityGroups.ensureDefault(project: caller.projectID, change) }
        }
        var condition: SQLQueryString = "1 = 1"
        if !caller.isAdmin { condition = kind.visibility(caller) }
        let docs = try await read { db in try await kind.expand(try await store.rows(kind.table, where: condition, in: db), db, store) }
        return docs.map { caller.view($0, kind.table) }
            .filter { doc in matching.allSatisfy { ResourceTable.columnText(doc[$0.key]) == $0.value } }
            .map { .object($0) }
    }

    public func show(_ collection: String, _ id: String, as who: NetworkCaller) async throws -> JSON {
        let kind = try kind(collection)
        let doc = try await read { db in try await visible(kind, id, who.caller, in: db) }
        return .object(who.caller.view(try await read { db in try await kind.expand([doc], db, store)[0] }, kind.table))
    }

    public func create(_ collection: String, _ body: [String: JSON], as who: NetworkCaller) async throws -> JSON {
        let kind = try kind(collection)
        let doc = try await change(caller: who.caller) { change in try await kind.create(Body(body, resource: kind.table.member), change) }
        return .object(who.caller.view(try await read { db in try await kind.expand([doc], db, store)[0] }, kind.table))
    }

    public func update(_ collection: String, _ id: String, _ body: [String: JSON], as who: NetworkCaller) async throws -> JSON {
        let kind = try kind(collection)
        let doc = try await change(caller: who.caller) { change in
            let current = try await visible(kind, id, who.caller, forUpdate: true, in: change.db)
            guard who.caller.owns(current) else { throw NetFault.notFound(kind.table, id) }
            let updated = try await kind.update(current, Body(body, resource: kind.table.member), change)
            return updated == current ? current : try await change.update(kind.table, updated)
        }
        return .object(who.caller.view(try await read { db in try await kind.expand([doc], db, store)[0] }, kind.table))
    }

    public func delete(_ collection: String, _ id: String, as who: NetworkCaller) async throws {
        let kind = try kind(collection)
        try await change(caller: who.caller) { change in
            let current = try await visible(kind, id, who.caller, forUpdate: true, in: change.db)
            guard who.caller.owns(current) else { throw NetFault.notFound(kind.table, id) }
            try await kind.delete(current, change)
        }
    }

    private func visible(_ kind: any ResourceKind, _ id: String, _ caller: Caller, forUpdate: Bool = false, in db: any SQLDatabase) async throws -> Doc {
        var condition: SQLQueryString = "id = \(bind: id)"
        if !caller.isAdmin { condition += " AND " as SQLQueryString; condition += kind.visibility(caller) }
        guard let doc = try await store.rows(kind.table, where: condition, forUpdate: forUpdate, in: db).first else { throw NetFault.notFound(kind.table, id) }
        return doc
    }
}
