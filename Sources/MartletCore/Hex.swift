extension String {
    /// Compares secrets (signatures, CSRF tokens) in time that does not depend on where they differ.
    public func constantTimeEquals(_ other: String) -> Bool {
        let x = Array(utf8), y = Array(other.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal, two digits a byte: digests, fingerprints, keys.
    public var hex: String { hex(separator: "") }

    /// Lowercase hexadecimal with `separator` between bytes (`aa:bb:cc` fingerprints).
    public func hex(separator: String) -> String {
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * (2 + separator.utf8.count))
        digits.withUTF8Buffer { digits in
            for byte in self {
                if !out.isEmpty { out.append(contentsOf: separator.utf8) }
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
