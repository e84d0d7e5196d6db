import Foundation
import Hummingbird
import MartletCore

/// `/types/{id}/encryption`: a volume type's encryption specs, an admin's, as Cinder keeps them.
struct TypeEncryptionRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        let path = "/v3/types/:type_id/encryption"
        // `:id` is one spec's key for a GET and the encryption's ID for an update or a delete, as in Cinder.
        r.get(path, rule: "volume_extension:volume_type_encryption:get") { call in
            // A type without encryption answers an empty object, as Cinder's.
            .json(.ok, try await type(call).encryption.map { Self.view($0, typeID: try call.param("type_id")) } ?? [:])
        }
        r.get("\(path)/:id", rule: "volume_extension:volume_type_encryption:get") { call in
            let type = try await type(call)
            let key = try call.param("id")
            guard let encryption = type.encryption, let value = Self.view(encryption, typeID: type.id).objectValue?[key] else {
                throw Self.notFound(type.id)
            }
            return .json(.ok, [key: value])
        }
        r.post(path, rule: "volume_extension:volume_type_encryption:create") { call in
            let fields = try await Self.fields(call, creating: true)
            let made = try await change(call, "Cannot create encryption specs. Volume type in use.") { type in
                guard type.encryption == nil else { throw APIError.badRequest("Volume type encryption for type \(type.id) already exists.") }
                type.encryption = TypeEncryption(id: Identifier.uuid(), provider: fields.provider ?? "", controlLocation: fields.controlLocation ?? "front-end",
                                                 cipher: fields.cipher ?? nil, keySize: fields.keySize ?? nil, createdAt: BlockStorageStore.now())
            }
            return .json(.ok, ["encryption": Self.given(made.encryption!, typeID: made.id)])
        }
        r.put("\(path)/:id", rule: "volume_extension:volume_type_encryption:update") { call in
            let fields = try await Self.fields(call, creating: false)
            _ = try await change(call, "Cannot update encryption specs. Volume type in use.") { type in
                guard var encryption = type.encryption else { throw Self.notFound(type.id) }
                if let provider = fields.provider { encryption.provider = provider }
                if let location = fields.controlLocation { encryption.controlLocation = location }
                if let cipher = fields.cipher { encryption.cipher = cipher }
                if let keySize = fields.keySize { encryption.keySize = keySize }
                encryption.updatedAt = BlockStorageStore.now()
                type.encryption = encryption
            }
            return .json(.ok, ["encryption": fields.given])
        }
        r.delete("\(path)/:id", rule: "volume_extension:volume_type_encryption:delete") { call in
            _ = try await change(call, "Cannot delete encryption specs. Volume type in use.") { type in
                guard type.encryption != nil else { throw Self.notFound(type.id) }
                type.encryption = nil
            }
            return .empty(.accepted)
        }
    }

    private func type(_ call: APICall) async throws -> VolumeType {
        let id = try call.param("type_id")
        guard let type = try await store.db.read({ try await store.type(id, in: $0) }) else { throw BlockStorageFault.typeNotFound(id) }
        return type
    }

    /// Changes the type's encryption in one transaction; refused while volumes use the type.
    private func change(_ call: APICall, _ inUse: String, _ edit: @escaping @Sendable (inout VolumeType) throws -> Void) async throws -> VolumeType {
        let id = try call.param("type_id")
        return try await store.db.transaction { db in
            guard var type = try await store.type(id, in: db) else { throw BlockStorageFault.typeNotFound(id) }
            guard try await !store.typeInUse(id, in: db) else { throw APIError.badRequest(inUse) }
            try edit(&type)
            try await store.save(type, in: db)
            return type
        }
    }

    static func notFound(_ typeID: String) -> APIError { .notFound("Volume type encryption for type \(typeID) does not exist.") }

    /// The request's fields, checked as Cinder's schema checks them (an update may name none;
    /// other keys are allowed and not kept).
    private static func fields(_ call: APICall, creating: Bool) async throws
        -> (provider: String?, controlLocation: String?, cipher: String??, keySize: Int??, given: JSON) {
        let body = try VolumeInput.body(try await call.body(), "encryption")
        let provider = try VolumeInput.text(body["provider"], field: "provider")
        let location = try VolumeInput.text(body["control_location"], field: "control_location")
        if creating, provider == nil || location == nil {
            throw BlockStorageFault.invalidInput("'\(provider == nil ? "provider" : "control_location")' is a required property")
        }
        if let location, !["front-end", "back-end"].contains(location) {
            throw BlockStorageFault.invalidInput("Invalid input for field/attribute control_location. Value: \(location). '\(location)' is not one of ['front-end', 'back-end']")
        }
        let cipher: String?? = body["cipher"].map { _ in try? VolumeInput.text(body["cipher"], field: "cipher") }
        if let raw = body["cipher"], raw != .null, raw.stringValue == nil { throw BlockStorageFault.invalidInput("'cipher' must be a string or null.") }
        var keySize: Int??
        switch body["key_size"] {
        case nil: keySize = nil
        case .null?: keySize = .some(nil)
        case .int(let n)? where n >= 0: keySize = Int(n)
        case .string(let s)? where Int(s).map({ $0 >= 0 }) == true: keySize = Int(s)
        default: throw BlockStorageFault.invalidInput("'key_size' must be a non-negative integer.")
        }
        var given: [String: JSON] = [:]
        if let provider { given["provider"] = .string(provider) }
        if let location { given["control_location"] = .string(location) }
        if let cipher { given["cipher"] = JSON(cipher) }
        if let keySize { given["key_size"] = keySize.map { JSON($0) } ?? .null }
        return (provider, location, cipher, keySize, .object(given))
    }

    /// What a create answers: the specs given, with the IDs they were stored under.
    static func given(_ e: TypeEncryption, typeID: String) -> JSON {
        ["volume_type_id": .string(typeID), "encryption_id": .string(e.id), "provider": .string(e.provider),
         "control_location": .string(e.controlLocation), "cipher": JSON(e.cipher), "key_size": e.keySize.map { JSON($0) } ?? .null]
    }

    /// The stored specs, as Cinder shows its row.
    static func view(_ e: TypeEncryption, typeID: String) -> JSON {
        given(e, typeID: typeID).merging(["deleted": false, "created_at": Views.time(e.createdAt), "updated_at": Views.time(e.updatedAt),
                                          "deleted_at": .null])
    }
}
