/// The kernel names of a network's devices, as Neutron's Linux bridge agent gives them, so an
/// operator who knows Neutron finds them (a name has at most 15 bytes).
enum DeviceNames {
    static func bridge(network id: String) -> String { "brq" + id.prefix(11) }
    static func tap(port id: String) -> String { "tap" + id.prefix(11) }
    /// The DHCP port's end inside its namespace (the other end, `tap…`, is on the bridge).
    static func dhcpInterface(port id: String) -> String { "ns-" + id.prefix(11) }
}
