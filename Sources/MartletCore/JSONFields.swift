/// Typed, validated access to the members of a JSON object in a request body.
/// Every failure is a 400 that names the offending field by its dotted path.
public struct JSONFields: Sendable {
    public let members: [String: JSON]
    public let path: String

    public init(_ value: JSON, path: String) throws {
        guard case .object(let members) = value else {
            throw APIError.badRequest(path.isEmpty ? "The request body must be a JSON object." : "Invalid input for field '\(path)': expected an object.")
        }
        self.members = members
        self.path = path
    }

    /// The top-level object `{"<key>": {...}}` that OpenStack requests wrap resources in.
    public static func body(_ json: JSON, wrapper: String) throws -> JSONFields {
        let root = try JSONFields(json, path: "")
        guard let inner = try root.object(wrapper) else {
            throw APIError.badRequest("Invalid input for field '\(wrapper)': the field is required.")
        }
        return inner
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func invalid(_ key: String, _ why: String) -> APIError {
        .badRequest("Invalid input for field '\(name(key))': \(why).")
    }

    public func has(_ key: String) -> Bool { members[key] != nil }

    /// Members not in `known`, kept as the resource's extra attributes.
    public func extras(excluding known: Set<String>) -> [String: JSON] {
        members.filter { !known.contains($0.key) }
    }

    public func require<T>(_ key: String, _ value: T?) throws -> T {
        guard let value else { throw invalid(key, "the field is required") }
        return value
    }

    public func string(_ key: String, minLength: Int = 0, maxLength: Int? = nil, nullable: Bool = false) throws -> String? {
        guard let value = members[key] else { return nil }
        switch value {
        case .null:
            if nullable { return nil }
            throw invalid(key, "null is not allowed")
        case .string(let s):
            if s.count < minLength { throw invalid(key, minLength == 1 ? "must not be empty" : "shorter than \(minLength) characters") }
            if let maxLength, s.count > maxLength { throw invalid(key, "longer than \(maxLength) characters") }
            return s
        default:
            throw invalid(key, "expected a string")
        }
    }

    public func requiredString(_ key: String, minLength: Int = 1, maxLength: Int? = nil) throws -> String {
        try require(key, try string(key, minLength: minLength, maxLength: maxLength))
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let value = members[key] else { return nil }
        guard case .bool(let b) = value else { throw invalid(key, "expected a boolean") }
        return b
    }

    public func int(_ key: String) throws -> Int? {
        guard let value = members[key] else { return nil }
        guard case .int(let i) = value else { throw invalid(key, "expected an integer") }
        return Int(i)
    }

    public func object(_ key: String) throws -> JSONFields? {
        guard let value = members[key] else { return nil }
        return try JSONFields(value, path: name(key))
    }

    public func array(_ key: String) throws -> [JSON]? {
        guard let value = members[key] else { return nil }
        guard case .array(let a) = value else { throw invalid(key, "expected an array") }
        return a
    }

    public func objects(_ key: String) throws -> [JSONFields]? {
        guard let items = try array(key) else { return nil }
        return try items.enumerated().map { try JSONFields($1, path: "\(name(key))[\($0)]") }
    }

    public func strings(_ key: String, maxLength: Int? = nil) throws -> [String]? {
        guard let items = try array(key) else { return nil }
        return try items.map { item in
            guard case .string(let s) = item else { throw invalid(key, "expected an array of strings") }
            if let maxLength, s.count > maxLength { throw invalid(key, "an item is longer than \(maxLength) characters") }
            return s
        }
    }
}
