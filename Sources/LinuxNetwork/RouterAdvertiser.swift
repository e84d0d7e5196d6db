import DriverKit
import Foundation
import Logging

/// A router's IPv6 router advertisements, as Neutron's L3 agent sends them: one radvd per router
/// with an advertised prefix, in the router's namespace, announcing on each leg its prefixes
/// with the flags of their `ipv6_ra_mode`, the network's MTU and the subnets' name servers.
/// Hosts take their default route (the router's link-local address) and, on `slaac` and
/// `dhcpv6-stateless` subnets, their address from it.
///
/// Its files are `<root>/<router>/radvd.conf`, `radvd.pid` and `radvd.log`. A changed
/// configuration is reloaded with SIGHUP: a restart would first tell every host that the router
/// is leaving (an advertisement with a lifetime of 0) and take their default route away.
struct RouterAdvertiser {
    let root: String
    let logger: Logger

    struct Leg {
        let device: String
        let mtu: Int
        let advertisements: [RouterPlan.Advertisement]
    }

    /// Advertises what `legs` say, from `namespace`; with nothing to advertise, radvd is stopped.
    func apply(router: String, namespace: String, legs: [Leg]) async throws {
        let configuration = Self.configuration(legs)
        guard !configuration.isEmpty else { return await stop(router: router) }
        let folder = "\(root)/\(router)"
        let changed = try RuntimeFiles.replace("\(folder)/radvd.conf", with: Data(configuration.utf8))
        let daemon = daemon(router)
        if let pid = daemon.pid {
            if changed { kill(pid, SIGHUP) }
            return
        }
        // radvd puts itself in the background once it has read its configuration; its pid file says where.
        try await HostCommand.run(["ip", "netns", "exec", namespace, "radvd", "-C", "\(folder)/radvd.conf", "-p", daemon.pidFile,
                                   "-m", "logfile", "-l", "\(folder)/radvd.log"], failure: { .transient($0) })
        for _ in 0..<100 where daemon.pid == nil { try? await Task.sleep(for: .milliseconds(20)) }
        guard daemon.pid != nil else {
            let log = (try? String(contentsOfFile: "\(folder)/radvd.log", encoding: .utf8)) ?? ""
            throw DriverError.transient("radvd of router \(router) did not start: \(log.suffix(300))")
        }
        logger.info("radvd started", metadata: ["router": "\(router)", "pid": "\(daemon.pid.map(String.init) ?? "?")"])
    }

    /// Stops the router's radvd and forgets its files.
    func stop(router: String) async {
        await daemon(router).stop()
        try? FileManager.default.removeItem(atPath: "\(root)/\(router)")
    }

    private func daemon(_ router: String) -> Daemon {
        Daemon(program: "radvd", pidFile: "\(root)/\(router)/radvd.pid", marker: "\(root)/\(router)/")
    }

    /// radvd's configuration; empty when no leg advertises anything. Intervals are Neutron's
    /// defaults (30 to 100 s); a host that comes up asks, and is answered at once.
    static func configuration(_ legs: [Leg]) -> String {
        legs.filter { !$0.advertisements.isEmpty }.sorted { $0.device < $1.device }.map { leg in
            let modes = Set(leg.advertisements.map(\.mode))
            let servers = leg.advertisements.flatMap(\.dnsServers)
            var lines = ["interface \(leg.device)", "{",
                         "    AdvSendAdvert on;", "    IgnoreIfMissing on;",
                         "    MinRtrAdvInterval 30;", "    MaxRtrAdvInterval 100;",
                         "    AdvLinkMTU \(leg.mtu);",
                         "    AdvManagedFlag \(modes.contains("dhcpv6-stateful") ? "on" : "off");",
                         "    AdvOtherConfigFlag \(modes.contains("dhcpv6-stateless") ? "on" : "off");"]
            for advertisement in leg.advertisements {
                lines += ["    prefix \(advertisement.prefix)", "    {", "        AdvOnLink on;",
                          "        AdvAutonomous \(advertisement.mode == "dhcpv6-stateful" ? "off" : "on");", "    };"]
            }
            if !servers.isEmpty { lines += ["    RDNSS \(servers.joined(separator: " "))", "    {", "    };"] }
            return (lines + ["};"]).joined(separator: "\n") + "\n"
        }.joined()
    }
}
