import Foundation
import MartletCore
import SQLKit

/// Resources Identity keeps as whole JSON objects, keyed by kind and ID.
enum DocumentKind: String {
    case endpointGroup = "endpoint_group"
    case consumer
    case domainConfig = "domain_config"
}

extension IdentityStore {
    func document(_ kind: DocumentKind, _ id: String) async throws -> [String: JSON]? {
        try await read { db in
            guard let row = try await db.raw("SELECT body FROM identity_documents WHERE kind = \(bind: kind.rawValue) AND id = \(bind: id)").first() else { return nil }
            return try row.extras("body")
        }
    }

    func documents(_ kind: DocumentKind) async throws -> [(id: String, body: [String: JSON])] {
        try await read { db in
            try await db.raw("SELECT id, body FROM identity_documents WHERE kind = \(bind: kind.rawValue) ORDER BY id").all()
                .map { (try $0.string("id"), try $0.extras("body")) }
        }
    }

    func putDocument(_ kind: DocumentKind, _ id: String, _ body: [String: JSON]) async throws {
        try await transaction { db in
            try await db.raw("DELETE FROM identity_documents WHERE kind = \(bind: kind.rawValue) AND id = \(bind: id)").run()
            try await db.raw("INSERT INTO identity_documents (kind, id, body) VALUES (\(bind: kind.rawValue), \(bind: id), \(bind: body.columnText))").run()
        }
    }

    func deleteDocument(_ kind: DocumentKind, _ id: String) async throws {
        try await transaction { db in
            try await db.raw("DELETE FROM identity_documents WHERE kind = \(bind: kind.rawValue) AND id = \(bind: id)").run()
        }
    }
}
