import Foundation
import Hummingbird
import MartletCore

/// `/os-keypairs`: a user's SSH keys, imported or generated.
struct KeypairRoutes {
    let service: ComputeService
    let store = KeypairStore()

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-keypairs", rule: "os_compute_api:os-keypairs:index", loadsTarget: true) { call in
            try service.checkQuery(call, allowed: ["user_id", "limit", "marker"])
            let user = try owner(call)
            let v = service.version(call)
            var keys = try await service.db.read { try await store.list(user: user, in: $0) }
            var links: JSON?
            if v >= Microversion(2, 35) {
                let after = try Pagination.after(call.query("marker"), in: keys, id: \.name, notFound: ComputeFault.markerCouldNotBeFound)
                let page = Pagination.page(after, limit: try Pagination.limit(call.query("limit"), max: .max, invalid: ComputeFault.invalidLimit))
                keys = Array(page.items)
                if page.hasMore, let last = page.items.last {
                    links = service.links.next(path: "os-keypairs", marker: last.name, query: call.queryItems)
                }
            }
            var body: [String: JSON] = ["keypairs": .array(keys.map { ["keypair": $0.json(v, full: false)] })]
            if let links { body["keypairs_links"] = links }
            return .json(.ok, .object(body))
        }
        r.get("/v2.1/os-keypairs/:name", rule: "os_compute_api:os-keypairs:show", loadsTarget: true) { call in
            let user = try owner(call)
            let name = try call.param("name")
            guard let key = try await service.db.read({ try await store.get(user: user, name: name, in: $0) }) else {
                throw ComputeFault.keypairNotFound(name, user: user)
            }
            return .json(.ok, ["keypair": key.json(service.version(call), full: true)])
        }
        r.delete("/v2.1/os-keypairs/:name", rule: "os_compute_api:os-keypairs:delete", loadsTarget: true) { call in
            let user = try owner(call)
            let name = try call.param("name")
            try await service.db.transaction { db in
                guard try await store.get(user: user, name: name, in: db) != nil else { throw ComputeFault.keypairNotFound(name, user: user) }
                try await store.delete(user: user, name: name, in: db)
            }
            return .empty(service.version(call) >= Microversion(2, 2) ? .noContent : .accepted)
        }
        r.post("/v2.1/os-keypairs", rule: "os_compute_api:os-keypairs:create", loadsTarget: true) { try await create($0) }
    }

    /// The user whose keys the call is about: the caller, or (2.10, admins) `user_id`; checked against the rule.
    private func owner(_ call: APICall, asked: String? = nil) throws -> String {
        var user = call.auth.userID
        if service.version(call) >= Microversion(2, 10), let other = asked ?? call.query("user_id") { user = other }
        try call.authorize(["user_id": user])
        return user
    }

    private func create(_ call: APICall) async throws -> Response {
        let v = service.version(call)
        let f = try JSONFields.body(try await call.body(), wrapper: "keypair")
        var known: Set<String> = ["name", "public_key"]
        if v >= Microversion(2, 2) { known.insert("type") }
        if v >= Microversion(2, 10) { known.insert("user_id") }
        if let extra = f.members.keys.first(where: { !known.contains($0) }) {
            throw APIError.badRequest("Invalid input for field/attribute keypair. Additional properties are not allowed ('\(extra)' was unexpected)")
        }
        let user = try owner(call, asked: try f.string("user_id"))
        let name = try f.requiredString("name", minLength: 1, maxLength: 255)
        let pattern = v >= Microversion(2, 92) ? "^[a-zA-Z0-9 @._-]+$" : "^[a-zA-Z0-9 _-]+$"
        guard name.range(of: pattern, options: .regularExpression) != nil, name.trimmingCharacters(in: .whitespaces) == name else {
            throw APIError.badRequest("Keypair data is invalid: Keypair name contains unsafe characters")
        }
        let type = try f.string("type") ?? "ssh"
        guard ["ssh", "x509"].contains(type) else { throw APIError.badRequest("Invalid input for field/attribute type. Value: \(type). It must be ssh or x509.") }
        var publicKey = try f.string("public_key")
        var privateKey: String?
        if publicKey == nil {
            guard v < Microversion(2, 92) else { throw APIError.badRequest("Invalid input for field/attribute keypair. 'public_key' is a required property") }
            if type == "x509" {
                let made = try Keypair.generateCertificate(userID: user, projectID: call.auth.projectID ?? "")
                publicKey = made.certificate
                privateKey = made.privateKey
            } else {
                let made = Keypair.generate(comment: "Generated-by-Nova")
                publicKey = made.publicKey
                privateKey = made.privateKey
            }
        }
        let line = (publicKey ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let fingerprint = type == "x509" ? Keypair.certificateFingerprint(line) : Keypair.fingerprint(line) else {
            throw APIError.badRequest("Keypair data is invalid: failed to generate fingerprint")
        }
        let key = try await service.db.transaction { db -> Keypair in
            if try await store.get(user: user, name: name, in: db) != nil { throw APIError.conflict("Key pair '\(name)' already exists.") }
            let used = try await store.count(user: user, in: db)
            let limits = try await service.quotas.limits(call.auth.projectID ?? "", in: db)
            if let limit = limits["key_pairs"], limit >= 0, used >= limit { throw APIError.forbidden("Quota exceeded, too many key pairs.") }
            return try await store.insert(Keypair(userID: user, name: name, type: type, publicKey: line, fingerprint: fingerprint, id: 0,
                                                  createdAt: Date().timeIntervalSince1970), in: db)
        }
        var body: [String: JSON] = ["name": .string(key.name), "public_key": .string(key.publicKey), "fingerprint": .string(key.fingerprint),
                                    "user_id": .string(key.userID)]
        if let privateKey { body["private_key"] = .string(privateKey) }
        if v >= Microversion(2, 2) { body["type"] = .string(key.type) }
        return .json(v >= Microversion(2, 2) ? .created : .ok, ["keypair": .object(body)])
    }
}
