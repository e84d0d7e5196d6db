@testable import Networking
import Testing

@Suite struct AddressTests {
    @Test func parsesAndPrintsCanonicalAddresses() {
        #expect(IPAddress("10.0.0.1")?.description == "10.0.0.1")
        #expect(IPAddress("2001:DB8:0:0:0:0:0:1")?.description == "2001:db8::1")
        #expect(IPAddress("10.0.0") == nil && IPAddress("1.2.3.256") == nil && IPAddress("fe80::1::2") == nil)
        #expect(CIDR("10.0.0.0/24")?.size == 256)
        #expect(CIDR("10.0.0.5/24") == nil, "host bits set")
        #expect(CIDR("10.0.0.5/24", strict: false)?.description == "10.0.0.0/24")
        #expect(CIDR("10.0.0.0/33") == nil && CIDR("bad/8") == nil && CIDR("10.0.0.0/-1") == nil)
        #expect(CIDR("fd00::/64")?.last.description == "fd00::ffff:ffff:ffff:ffff")
        #expect(CIDR("10.0.0.0/8")!.overlaps(CIDR("10.1.0.0/16")!))
        #expect(!CIDR("10.0.0.0/24")!.overlaps(CIDR("10.0.1.0/24")!))
    }

    @Test func defaultPoolsSkipNetworkBroadcastAndGateway() {
        func pools(_ cidr: String, gateway: String?) -> [String] {
            let c = CIDR(cidr)!
            return Subnets.defaultPools(c, gateway: gateway.flatMap(IPAddress.init)).map { "\($0.start)-\($0.end)" }
        }
        #expect(pools("10.0.0.0/24", gateway: "10.0.0.1") == ["10.0.0.2-10.0.0.254"])
        #expect(pools("10.0.0.0/24", gateway: "10.0.0.100") == ["10.0.0.1-10.0.0.99", "10.0.0.101-10.0.0.254"])
        #expect(pools("10.0.0.0/30", gateway: "10.0.0.1") == ["10.0.0.2-10.0.0.2"])
        #expect(pools("10.0.0.0/24", gateway: nil) == ["10.0.0.1-10.0.0.254"])
        #expect(pools("10.0.0.0/32", gateway: nil) == [])
        #expect(pools("fd00::/64", gateway: "fd00::1") == ["fd00::2-fd00::ffff:ffff:ffff:ffff"])
    }

    @Test func slaacAddressesComeFromTheMAC() {
        let ip = MACAddress.eui64("fa:16:3e:12:34:56", in: CIDR("fd00:1::/64")!)
        #expect(ip?.description == "fd00:1::f816:3eff:fe12:3456")
        #expect(MACAddress.normalized("FA:16:3E:00:00:01") == "fa:16:3e:00:00:01")
        #expect(MACAddress.normalized("01:00:5e:00:00:01") == nil, "multicast")
        #expect(MACAddress.normalized("fa:16:3e:00:00") == nil)
    }
}
