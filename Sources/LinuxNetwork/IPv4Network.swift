/// An IPv4 subnet as dnsmasq and `ip` want it written.
struct IPv4Network {
    let base: UInt32
    let prefix: Int

    init?(_ cidr: String) {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let prefix = Int(parts[1]), (0...32).contains(prefix), let address = Self.parse(String(parts[0])) else { return nil }
        self.prefix = prefix
        base = address & Self.mask(prefix)
    }

    var address: String { Self.format(base) }
    var netmask: String { Self.format(Self.mask(prefix)) }

    func contains(_ ip: String) -> Bool {
        guard let value = Self.parse(ip) else { return false }
        return value & Self.mask(prefix) == base
    }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }

    static func parse(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4 else { return nil }
        return octets.reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func format(_ value: UInt32) -> String { (0..<4).map { String(value >> UInt32(24 - 8 * $0) & 0xff) }.joined(separator: ".") }
}
