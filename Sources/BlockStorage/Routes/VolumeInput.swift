import MartletCore

/// Cinder's request checks that several routes share.
enum VolumeInput {
    /// A size in GiB: an integer, or a string of digits, at least 1 (Cinder's `volume_size` schema).
    static func size(_ value: JSON?, field: String = "size") throws -> Int? {
        guard let value, value != .null else { return nil }
        let size: Int?
        switch value {
        case .int(let i): size = Int(exactly: i)
        case .string(let s) where !s.isEmpty && s.allSatisfy({ $0.isASCII && $0.isNumber }): size = Int(s)
        default: size = nil
        }
        guard let size, size >= 1, size <= Int(Int32.max) else {
            throw BlockStorageFault.invalidInput("'\(field)' must be an integer between 1 and \(Int32.max) (GiB), not \(String(decoding: value.serialized(), as: UTF8.self)).")
        }
        return size
    }

    /// A metadata object: string keys of 1 to 255 characters with string values of at most 255.
    static func metadata(_ value: JSON?, field: String = "metadata") throws -> [String: String]? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value else { throw BlockStorageFault.invalidInput("'\(field)' must be an object of strings.") }
        var out: [String: String] = [:]
        for (key, item) in members {
            guard (1...255).contains(key.count) else { throw BlockStorageFault.invalidInput("metadata keys must be 1 to 255 characters long.") }
            guard case .string(let text) = item, text.count <= 255 else {
                throw BlockStorageFault.invalidInput("the value of metadata key '\(key)' must be a string of at most 255 characters.")
            }
            out[key] = text
        }
        return out
    }

    /// A boolean as Cinder's `strutils.bool_from_string(strict=True)` reads it.
    static func bool(_ value: JSON?, field: String) throws -> Bool? {
        guard let value, value != .null else { return nil }
        switch value {
        case .bool(let b): return b
        case .string(let s) where ["true", "1", "yes", "y", "on", "t"].contains(s.lowercased()): return true
        case .string(let s) where ["false", "0", "no", "n", "off", "f"].contains(s.lowercased()): return false
        case .int(1): return true
        case .int(0): return false
        default: throw BlockStorageFault.invalidInput("'\(field)' must be a boolean.")
        }
    }

    /// An optional string of at most `maxLength` characters.
    static func text(_ value: JSON?, field: String, maxLength: Int = 255) throws -> String? {
        guard let value, value != .null else { return nil }
        guard case .string(let s) = value else { throw BlockStorageFault.invalidInput("'\(field)' must be a string.") }
        guard s.count <= maxLength else { throw BlockStorageFault.invalidInput("'\(field)' is longer than \(maxLength) characters.") }
        return s
    }

    /// A metadata body, `{"metadata": {...}}` or `{"meta": {...}}`: its object, required.
    static func metadataBody(_ call: APICall, _ wrapper: String) async throws -> [String: String] {
        guard let items = try metadata(try await call.body()[wrapper], field: wrapper) else {
            throw BlockStorageFault.invalidInput("'\(wrapper)' is required.")
        }
        return items
    }

    /// Refuses a body naming a key its schema does not (Cinder's `additionalProperties: false`).
    static func refuseUnknown(_ body: [String: JSON], _ known: Set<String>) throws {
        guard let extra = body.keys.sorted().first(where: { !known.contains($0) }) else { return }
        throw BlockStorageFault.invalidInput("Additional properties are not allowed ('\(extra)' was unexpected)")
    }

    /// The request body's `{"<wrapper>": {...}}` object.
    static func body(_ json: JSON, _ wrapper: String) throws -> [String: JSON] {
        guard case .object(let root) = json, case .object(let inner)? = root[wrapper] else {
            throw BlockStorageFault.invalidInput("the request body must be an object with a '\(wrapper)' object.")
        }
        return inner
    }

    /// An action body, `{"<action>": {...}}`: its one member.
    static func action(_ call: APICall) async throws -> (name: String, value: JSON) {
        guard case .object(let members) = try await call.body(), members.count == 1, let (name, value) = members.first else {
            throw BlockStorageFault.invalidInput("An action body names exactly one action.")
        }
        return (name, value)
    }
}

extension APICall {
    /// Refuses (403) an action the policy does not allow on the project's resource.
    func allow(_ rule: String, projectID: String) throws {
        guard can(rule, ["project_id": projectID]) else { throw APIError.forbidden("Policy doesn't allow \(rule) to be performed.") }
    }
}
