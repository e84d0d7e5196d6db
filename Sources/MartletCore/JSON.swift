import Foundation

/// A JSON document as the APIs see it: free-form, so unknown ("extra") attributes survive a round trip.
public enum JSON: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSON {
    /// `.null` for nil, so optional attributes render as JSON `null` the way OpenStack shows them.
    public init(_ value: String?) { self = value.map { .string($0) } ?? .null }
    public init(_ value: Bool) { self = .bool(value) }
    public init(_ value: Int) { self = .int(Int64(value)) }
    public init(_ values: [String]) { self = .array(values.map { .string($0) }) }

    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements of an array; empty for anything else.
    public var array: [JSON] {
        if case .array(let a) = self { return a }
        return []
    }

    public var objectValue: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Adds or replaces members of an object; other values are returned unchanged.
    public func merging(_ other: [String: JSON]) -> JSON {
        guard case .object(var members) = self else { return self }
        members.merge(other) { _, new in new }
        return .object(members)
    }
}

extension JSON: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSON].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSON].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

// MARK: - Parsing and serialisation

extension JSON {
    /// Parses a request body; anything that is not JSON text (including invalid UTF-8) is a 400.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSON {
        let parsed = bytes.withContiguousStorageIfAvailable { try? JSONParser.parse($0) }
            ?? Array(bytes).withUnsafeBufferPointer { try? JSONParser.parse($0) }
        guard let parsed else { throw APIError.badRequest("The request body is not valid JSON.") }
        return parsed
    }

    /// Compact JSON text. Hand-written because it sits on every response's hot path.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    public var text: String { String(decoding: serialized(), as: UTF8.self) }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): JSON.writeInteger(i, into: &out)
        case .double(let d):
            if d.isFinite { out.append(contentsOf: "\(d)".utf8) } else { out.append(contentsOf: "null".utf8) }
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            var first = true
            for v in a {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            // Keys in order; sorting the indices copies no member.
            var order = Array(o.indices)
            order.sort { o.keys[$0] < o.keys[$1] }
            var first = true
            for i in order {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSON.writeString(o.keys[i], into: &out)
                out.append(UInt8(ascii: ":"))
                o.values[i].write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Compact JSON text of the object `members` plus `key`, whose value is given already serialized
    /// (a part of a document kept as text): the same bytes `serialized()` would give with it parsed in.
    public static func serializedObject(_ members: [String: JSON], key: String, serializedValue: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + serializedValue.count)
        var keys = Array(members.keys)
        if members[key] == nil { keys.append(key) }
        keys.sort()
        out.append(UInt8(ascii: "{"))
        var first = true
        for name in keys {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            writeString(name, into: &out)
            out.append(UInt8(ascii: ":"))
            if name == key { out.append(contentsOf: serializedValue) } else { members[name].unsafelyUnwrapped.write(into: &out) }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `s` as a JSON string literal (for hand-built documents on hot paths).
    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Native strings lend their UTF-8 as is; others are made native first.
        if s.utf8.withContiguousStorageIfAvailable({ escape($0, into: &out) }) == nil {
            var s = s
            s.withUTF8 { escape($0, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func escape(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        // Runs of bytes that need no escape go in at once.
        var start = 0
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                start = i + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case UInt8(ascii: "\n"): out.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): out.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: "u00".utf8)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                }
            }
            i += 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
    }

    /// Appends the decimal digits of `i` without making a String.
    static func writeInteger(_ i: Int64, into out: inout [UInt8]) {
        if i < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = i.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }
}
