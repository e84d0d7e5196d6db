import Foundation

/// An IPv4 or IPv6 prefix (`10.0.0.0/24`, `2001:db8::/64`): which addresses it holds.
struct IPPrefix {
    let bytes: [UInt8]
    let length: Int

    init?(_ cidr: String) {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), let bytes = Self.bytes(String(parts[0])),
              (0...bytes.count * 8).contains(length) else { return nil }
        self.bytes = bytes
        self.length = length
    }

    var isIPv6: Bool { bytes.count == 16 }

    /// The prefix as `network/length`, its host bits cleared (`10.0.0.5/24` is `10.0.0.0/24`).
    var network: String {
        let cleared = bytes.enumerated().map { index, byte -> UInt8 in
            let kept = min(max(length - index * 8, 0), 8)
            return kept == 8 ? byte : byte & ~(0xff >> UInt8(kept))
        }
        return "\(Self.text(cleared))/\(length)"
    }

    /// Whether every address of `other` is in this prefix.
    func covers(_ other: IPPrefix) -> Bool {
        other.bytes.count == bytes.count && other.length >= length && contains(Self.text(other.bytes))
    }

    /// The prefixes less those inside another (and repeats): two prefixes are either apart or
    /// one holds the other, so what is left never overlaps, as an nftables interval set needs.
    static func outermost(_ prefixes: [IPPrefix]) -> [IPPrefix] {
        var kept: [IPPrefix] = []
        for prefix in prefixes.sorted(by: { $0.length < $1.length }) where !kept.contains(where: { $0.covers(prefix) }) {
            kept.append(prefix)
        }
        return kept.sorted { $0.network < $1.network }
    }

    func contains(_ ip: String) -> Bool {
        guard let other = Self.bytes(ip), other.count == bytes.count else { return false }
        for bit in 0..<length {
            let mask: UInt8 = 0x80 >> UInt8(bit % 8)
            if (other[bit / 8] ^ bytes[bit / 8]) & mask != 0 { return false }
        }
        return true
    }

    /// The address in network byte order: 4 bytes, or 16 for IPv6.
    static func bytes(_ ip: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// An address (`ip` or `ip/length`) as `ip` lists it: IPv6 compressed and in lower case.
    static func canonical(_ address: String) -> String {
        let parts = address.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let bytes = bytes(String(first)) else { return address }
        return text(bytes) + (parts.count == 2 ? "/\(parts[1])" : "")
    }

    /// 4 or 16 bytes as an address.
    static func text(_ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        bytes.withUnsafeBytes { _ = inet_ntop(bytes.count == 16 ? AF_INET6 : AF_INET, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(cString: text)
    }
}
