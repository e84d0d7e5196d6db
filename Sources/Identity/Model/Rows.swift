import Foundation
import MartletCore
import SQLKit

extension SQLRow {
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func bool(_ column: String) throws -> Bool { try decode(column: column, as: Bool.self) }
    func double(_ column: String) throws -> Double { try decode(column: column, as: Double.self) }
    func optionalDouble(_ column: String) throws -> Double? { try decode(column: column, as: Double?.self) }

    /// A TEXT column holding a JSON object of extra attributes.
    func extras(_ column: String = "extra") throws -> [String: JSON] {
        let text = try string(column)
        return (try? JSON.parse(Array(text.utf8)))?.objectValue ?? [:]
    }
}

extension Dictionary where Key == String, Value == JSON {
    /// Stored form of extra attributes.
    var columnText: String { JSON.object(self).text }
}

/// Keystone's name filters on lists: exact `name`, and the inexact `name__contains` family.
struct NameFilter {
    private var tests: [(String) -> Bool] = []

    init(query: [String: String], field: String = "name") {
        for (key, value) in query {
            guard key == field || key.hasPrefix(field + "__") else { continue }
            let op = key == field ? "" : String(key.dropFirst(field.count + 2))
            let lower = value.lowercased()
            switch op {
            case "": tests.append { $0 == value }
            case "contains": tests.append { $0.contains(value) }
            case "icontains": tests.append { $0.lowercased().contains(lower) }
            case "startswith": tests.append { $0.hasPrefix(value) }
            case "istartswith": tests.append { $0.lowercased().hasPrefix(lower) }
            case "endswith": tests.append { $0.hasSuffix(value) }
            case "iendswith": tests.append { $0.lowercased().hasSuffix(lower) }
            case "equals": tests.append { $0 == value }
            case "iequals": tests.append { $0.lowercased() == lower }
            default: continue
            }
        }
    }

    func matches(_ name: String) -> Bool { tests.allSatisfy { $0(name) } }
}

/// Parses Keystone's boolean query values (`enabled=false`, `is_domain=0`).
func queryBool(_ value: String?) -> Bool? {
    guard let value else { return nil }
    switch value.lowercased() {
    case "0", "false", "f", "no", "n", "off": return false
    default: return true
    }
}
