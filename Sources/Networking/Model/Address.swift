import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address as a number, so pools and CIDRs are arithmetic.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: UInt128
    public let version: Int

    public init(_ value: UInt128, version: Int) {
        self.value = value
        self.version = version
    }

    /// Parses `10.0.0.1` or `fd00::1` (any form `inet_pton` takes); nil for anything else.
    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if text.contains(":") {
            guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            self.init(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }, version: 6)
        } else {
            // inet_pton alone accepts only dotted quads, which is what Neutron accepts too.
            guard inet_pton(AF_INET, text, &v4) == 1 else { return nil }
            self.init(UInt128(UInt32(bigEndian: v4.s_addr)), version: 4)
        }
    }

    public var bits: Int { version == 4 ? 32 : 128 }

    /// The canonical text: dotted quad, or RFC 5952 compressed IPv6.
    public var description: String {
        if version == 4 {
            let v = UInt32(truncatingIfNeeded: value)
            return "\(v >> 24).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)"
        }
        var addr = in6_addr()
        withUnsafeMutableBytes(of: &addr) { raw in
            for i in 0..<16 { raw[i] = UInt8(truncatingIfNeeded: value >> UInt128(8 * (15 - i))) }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
        return String(cString: buffer)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool { a.value < b.value }

    public func adding(_ n: UInt128) -> IPAddress { IPAddress(value &+ n, version: version) }
    public func subtracting(_ n: UInt128) -> IPAddress { IPAddress(value &- n, version: version) }
}

/// A network in CIDR notation whose host bits are zero: `10.0.0.0/24`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let network: IPAddress
    public let prefix: Int

    public init(network: IPAddress, prefix: Int) {
        self.network = network
        self.prefix = prefix
    }

    /// `strict`: host bits must be zero (Neutron rejects `10.0.0.5/24` as a subnet CIDR).
    public init?(_ text: String, strict: Bool = true) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let prefix: Int
        if parts.count == 1 {
            prefix = address.bits
        } else if parts.count == 2, let p = Int(parts[1]), parts[1].allSatisfy(\.isNumber), p >= 0, p <= address.bits {
            prefix = p
        } else {
            return nil
        }
        let masked = IPAddress(address.value & CIDR.mask(prefix, bits: address.bits), version: address.version)
        if strict && masked != address { return nil }
        self.init(network: masked, prefix: prefix)
    }

    static func mask(_ prefix: Int, bits: Int) -> UInt128 {
        let all: UInt128 = bits == 32 ? UInt128(UInt32.max) : UInt128.max
        return prefix == 0 ? 0 : all << UInt128(bits - prefix) & all
    }

    public var version: Int { network.version }
    public var description: String { "\(network)/\(prefix)" }
    /// Number of addresses, saturating at UInt128.max for ::/0.
    public var size: UInt128 { prefix == 0 && version == 6 ? .max : UInt128(1) << UInt128(network.bits - prefix) }
    public var first: IPAddress { network }
    public var last: IPAddress { IPAddress(network.value | ~CIDR.mask(prefix, bits: network.bits) & (network.bits == 32 ? UInt128(UInt32.max) : .max), version: version) }

    public func contains(_ ip: IPAddress) -> Bool { ip.version == version && ip >= first && ip <= last }
    public func contains(_ other: CIDR) -> Bool { other.version == version && other.prefix >= prefix && contains(other.network) }
    public func overlaps(_ other: CIDR) -> Bool { contains(other.network) || other.contains(network) }
}

/// An inclusive range of addresses: one allocation pool.
public struct AddressRange: Sendable, Hashable {
    public var start: IPAddress
    public var end: IPAddress

    public init(start: IPAddress, end: IPAddress) {
        self.start = start
        self.end = end
    }

    public var size: UInt128 { end.value - start.value &+ 1 }
    public func contains(_ ip: IPAddress) -> Bool { ip.version == start.version && ip >= start && ip <= end }
    public func overlaps(_ other: AddressRange) -> Bool { start <= other.end && other.start <= end }
}

/// MAC addresses in the `aa:bb:cc:dd:ee:ff` form.
enum MACAddress {
    static func normalized(_ text: String) -> String? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else { return nil }
        let mac = parts.joined(separator: ":").lowercased()
        // Multicast and all-zero addresses cannot name a port.
        guard let first = UInt8(parts[0], radix: 16), first & 1 == 0, mac != "00:00:00:00:00:00" else { return nil }
        return mac
    }

    /// A random address under `base` (its first three bytes kept; the rest random).
    static func random(base: String) -> String {
        let prefix = base.split(separator: ":").prefix(3).joined(separator: ":")
        return prefix + (0..<3).map { _ in String(format: ":%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// The EUI-64 interface identifier IPv6 SLAAC derives from a MAC address.
    static func eui64(_ mac: String, in cidr: CIDR) -> IPAddress? {
        let bytes = mac.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        guard bytes.count == 6, cidr.version == 6, cidr.prefix == 64 else { return nil }
        let id = [bytes[0] ^ 0x02, bytes[1], bytes[2], 0xff, 0xfe, bytes[3], bytes[4], bytes[5]]
        let suffix = id.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        return IPAddress(cidr.network.value | suffix, version: 6)
    }
}
