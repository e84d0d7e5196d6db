import Foundation
import MartletCore
import SQLKit

/// What `bootstrap` did, so the CLI can tell the operator.
public struct BootstrapResult: Sendable {
    /// Set when the admin user was created with a password Martlet generated.
    public var generatedPassword: String?
    public var createdAdmin: Bool
}

extension IdentityService {
    /// Creates what a new cloud needs: domain `Default`, project and user `admin`, roles
    /// `admin` ⊃ `member` ⊃ `reader`, region `RegionOne`, and catalog entries for `services`.
    /// Running it again changes nothing (endpoints follow a changed public URL).
    /// `roles`: more roles the services act on (Swift's `ResellerAdmin`).
    public func bootstrap(adminPassword: String?, services: [(type: String, name: String, path: String)],
                          roles extraRoles: [String] = []) async throws -> BootstrapResult {
        let existingAdmin = try await store.read { try await store.user(named: "admin", domainID: Self.defaultDomainID, in: $0) }
        let generated = existingAdmin == nil && adminPassword == nil ? TokenCodec.newAuditID() : nil
        let hash = existingAdmin == nil ? try await passwords.hash(adminPassword ?? generated!) : nil
        let publicURL = self.publicURL
        try await store.transaction { db in
            if try await store.project(Self.defaultDomainID, in: db) == nil {
                try await store.insert(Project(id: Self.defaultDomainID, name: "Default", domainID: Project.rootDomainID, parentID: nil,
                                               isDomain: true, description: "The default domain", enabled: true, extra: [:], tags: []), in: db)
            }
            var roleIDs: [String: String] = [:]
            for name in ["admin", "member", "reader"] + extraRoles {
                if let role = try await store.role(named: name, in: db) {
                    roleIDs[name] = role.id
                } else {
                    let role = Role(id: Identifier.hex(), name: name, domainID: "", description: "", extra: [:])
                    try await store.insert(role, in: db)
                    roleIDs[name] = role.id
                }
            }
            for (prior, implied) in [("admin", "member"), ("member", "reader")] {
                if try await !store.inferenceExists(prior: roleIDs[prior]!, implied: roleIDs[implied]!, in: db) {
                    try await store.addInference(prior: roleIDs[prior]!, implied: roleIDs[implied]!, in: db)
                }
            }
            let project: Project
            if let existing = try await store.project(named: "admin", domainID: Self.defaultDomainID, in: db) {
                project = existing
            } else {
                project = Project(id: Identifier.hex(), name: "admin", domainID: Self.defaultDomainID, parentID: Self.defaultDomainID,
                                  isDomain: false, description: "Bootstrap project for initializing the cloud.", enabled: true, extra: [:], tags: [])
                try await store.insert(project, in: db)
            }
            let admin: User
            if let existingAdmin {
                admin = existingAdmin
            } else {
                admin = User(id: Identifier.hex(), domainID: Self.defaultDomainID, name: "admin", enabled: true,
                             defaultProjectID: nil, passwordHash: hash, extra: [:])
                try await store.insert(admin, in: db)
            }
            try await store.grant(Assignment(actorType: .user, actorID: admin.id, targetType: .project, targetID: project.id, roleID: roleIDs["admin"]!), in: db)
            try await store.grant(Assignment(actorType: .user, actorID: admin.id, targetType: .system, targetID: "all", roleID: roleIDs["admin"]!), in: db)
            if try await store.region("RegionOne", in: db) == nil {
                try await store.insert(Region(id: "RegionOne", description: "", parentRegionID: nil, extra: [:]), in: db)
            }
            let known = try await db.raw("SELECT id, type, enabled, extra FROM identity_services").all().map(CatalogService.init(row:))
            let endpoints = try await store.allEndpoints(in: db)
            for entry in services {
                let service: CatalogService
                if let existing = known.first(where: { $0.type == entry.type && $0.name == entry.name }) {
                    service = existing
                } else {
                    service = CatalogService(id: Identifier.hex(), type: entry.type, enabled: true, extra: ["name": .string(entry.name)])
                    try await store.insert(service, in: db)
                }
                // A path hangs off the public URL; a whole URL (the S3 listener) is taken as it is.
                let url = entry.path.hasPrefix("http") ? entry.path : publicURL + entry.path
                for interface in ["public", "internal", "admin"] {
                    if var endpoint = endpoints.first(where: { $0.serviceID == service.id && $0.interface == interface && $0.regionID == "RegionOne" }) {
                        if endpoint.url != url {
                            endpoint.url = url
                            try await store.update(endpoint, in: db)
                        }
                    } else {
                        try await store.insert(Endpoint(id: Identifier.hex(), serviceID: service.id, interface: interface, regionID: "RegionOne",
                                                        url: url, enabled: true, extra: [:]), in: db)
                    }
                }
            }
        }
        return BootstrapResult(generatedPassword: generated, createdAdmin: existingAdmin == nil)
    }
}
