import Foundation

/// What the one backend offers, as Cinder's volume service reports it to the scheduler, and
/// Cinder's capabilities filter: a volume type's extra specs (unscoped, or scoped `capabilities:`)
/// must each match a capability, or no backend takes the volume.
struct BackendCapabilities: Sendable {
    let values: [String: String]

    init(backendName: String, multiattach: Bool) {
        values = [
            "volume_backend_name": backendName, "vendor_name": "Martlet", "storage_protocol": "file", "driver_version": "1.0",
            "thin_provisioning_support": "True", "multiattach": multiattach ? "True" : "False", "pool_name": backendName, "reserved_percentage": "0",
        ]
    }

    /// Whether the backend takes a volume of a type with these extra specs, several servers' or not.
    func takes(_ extraSpecs: [String: String], multiattach: Bool) -> Bool {
        satisfies(extraSpecs) && (!multiattach || values["multiattach"] == "True")
    }

    /// Whether the backend satisfies every extra spec the scheduler looks at.
    func satisfies(_ extraSpecs: [String: String]) -> Bool {
        extraSpecs.allSatisfy { key, requirement in
            var name = key
            if let colon = key.firstIndex(of: ":") {
                guard key[..<colon] == "capabilities" else { return true }
                name = String(key[key.index(after: colon)...])
            }
            guard let value = values[name] else { return false }
            return Self.matches(value, requirement)
        }
    }

    /// Cinder's extra-spec operators: `<is>`, `<in>`, `<or>`, `<all-in>`, numeric `=`, `==`, `!=`,
    /// `>=`, `<=`, string `s==`, `s!=`, `s<`, `s<=`, `s>`, `s>=`; otherwise the strings are equal.
    static func matches(_ value: String, _ requirement: String) -> Bool {
        let words = requirement.split(separator: " ").map(String.init)
        guard let op = words.first, words.count > 1 else { return value == requirement }
        let operand = words.dropFirst().joined(separator: " ")
        let number = Double(value), wanted = Double(operand)
        switch op {
        case "<is>": return value.lowercased() == operand.lowercased()
        case "<in>": return value.contains(operand)
        case "<all-in>": return words.dropFirst().allSatisfy { value.contains($0) }
        case "<or>": return words.enumerated().contains { $0.offset % 2 == 1 && $0.element == value }
        case "=": return number != nil && wanted != nil && number! >= wanted!
        case "==": return number != nil && number == wanted
        case "!=": return number != nil && number != wanted
        case ">=": return number != nil && wanted != nil && number! >= wanted!
        case "<=": return number != nil && wanted != nil && number! <= wanted!
        case "s==": return value == operand
        case "s!=": return value != operand
        case "s<": return value < operand
        case "s<=": return value <= operand
        case "s>": return value > operand
        case "s>=": return value >= operand
        default: return value == requirement
        }
    }
}
