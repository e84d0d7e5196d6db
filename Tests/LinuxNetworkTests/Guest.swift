import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// A stand-in guest: a namespace whose `eth0` is the other end of the port's tap.
struct Guest {
    let namespace: String
    let address: String

    /// `prefix` of its address; `gateway`: its default route; `configured` false: no address set
    /// (it takes one from router advertisements or DHCP).
    static func make(_ port: PortPlan, prefix: Int = 24, gateway: String? = nil, configured: Bool = true) async throws -> Guest {
        let guest = Guest(namespace: "mtg-\(port.id.prefix(8))", address: port.fixedIPs[0])
        let namespace = guest.namespace
        try await HostCommand.run(["ip", "netns", "add", namespace])
        do {
            try await HostCommand.run(["ip", "link", "add", DeviceNames.tap(port: port.id), "type", "veth", "peer", "name", "eth0", "netns", namespace])
            try await HostCommand.run(["ip", "-n", namespace, "link", "set", "eth0", "address", port.macAddress, "up"])
            try await HostCommand.run(["ip", "-n", namespace, "link", "set", "lo", "up"])
            if configured { try await HostCommand.run(["ip", "-n", namespace, "addr", "add", "\(port.fixedIPs[0])/\(prefix)", "dev", "eth0"]) }
            // `onlink`: the tap end is not up before the backend wires it, and without a carrier the kernel refuses the gateway.
            if let gateway { try await HostCommand.run(["ip", "-n", namespace, "route", "add", "default", "via", gateway, "dev", "eth0", "onlink"]) }
        } catch {
            // Half made, it is the caller's to remove only once returned: its namespace (and the veth in it) goes here.
            await guest.remove()
            throw error
        }
        return guest
    }

    func remove() async { _ = try? await HostCommand.output(["ip", "netns", "delete", namespace]) }

    func pings(_ other: Guest, from source: String? = nil) async -> Bool { await pings(other.address, from: source) }

    func pings(_ address: String, from source: String? = nil) async -> Bool {
        let from = source.map { ["-I", $0] } ?? []
        return (try? await HostCommand.output(["ip", "netns", "exec", namespace, "ping", "-c", "1", "-W", "1"] + from + [address]))?.status == 0
    }

    /// Whether a TCP connection to `other`'s `port` opens (a listener there answers every port).
    func connects(to other: Guest, port: Int, from source: String = "") async -> Bool {
        let probe = "import socket,sys; s=socket.socket(); s.settimeout(1); s.bind((sys.argv[3],0)); s.connect((sys.argv[1],int(sys.argv[2])))"
        return (try? await HostCommand.output(["ip", "netns", "exec", namespace, "python3", "-c", probe, other.address, "\(port)", source]))?.status == 0
    }

    /// What a DHCP client (busybox's udhcpc, as in the test guest image) is told, as the
    /// variables it hands its script; empty when no lease came.
    func dhcpLease(asking options: [String]) async -> [String: String] {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("udhcpc-\(namespace).sh").path
        let output = script + ".env"
        defer { for file in [script, output] { try? FileManager.default.removeItem(atPath: file) } }
        guard FileManager.default.createFile(atPath: script, contents: Data("#!/bin/sh\n[ \"$1\" = bound ] && env > \(output)\n".utf8),
                                             attributes: [.posixPermissions: 0o755]),
              (try? await HostCommand.output(["ip", "netns", "exec", namespace, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
                                               "-t", "3", "-T", "1", "-s", script] + options.flatMap { ["-O", $0] }))?.status == 0,
              let text = try? String(contentsOfFile: output, encoding: .utf8) else { return [:] }
        return Dictionary(text.split(separator: "\n").compactMap { line in
            line.firstIndex(of: "=").map { (String(line[..<$0]), String(line[line.index(after: $0)...])) }
        }, uniquingKeysWith: { $1 })
    }

    /// The addresses DHCPv6 offers it (dhclient, once, its lease read and not applied); empty
    /// when none came within `seconds`.
    func dhcpv6Addresses(seconds: Int = 20) async -> [String] {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("dhclient6-\(namespace)").path
        let (lease, pidFile) = (base + ".lease", base + ".pid")
        defer { for file in [lease, pidFile] { try? FileManager.default.removeItem(atPath: file) } }
        // It goes to the background once leased (to renew): ended through its pid file.
        _ = try? await HostCommand.output(["ip", "netns", "exec", namespace, "timeout", "\(seconds)", "dhclient", "-6", "-1", "-sf", "/bin/true",
                                           "-lf", lease, "-pf", pidFile, "eth0"])
        if let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap({ pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            kill(pid, SIGTERM)
        }
        let text = (try? String(contentsOfFile: lease, encoding: .utf8)) ?? ""
        // "    iaaddr 2001:db8::50 {"
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            return words.count >= 2 && words[0] == "iaaddr" ? String(words[1]) : nil
        }
    }

    /// Listens on 22 and 8080 until the returned process is ended.
    func listen() throws -> Process {
        let script = """
        import socket, select
        ls = []
        for p in (22, 8080):
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', p)); s.listen(16); ls.append(s)
        while True:
            for s in select.select(ls, [], [])[0]: s.accept()[0].close()
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "python3", "-c", script]
        try process.run()
        return process
    }
}

extension LinuxNetworkBackend {
    /// Removes its nftables tables (a backend keeps them, so guests stay filtered while it is away).
    func dropTables() async {
        for family in ["bridge", "inet"] { _ = try? await HostCommand.output(["nft", "delete", "table", family, firewall.rules.table]) }
    }
}

/// Whether `probe` holds within `seconds`, tried again each time it fails: on a loaded machine the
/// first packet can be lost to ARP or a listener still starting, which says nothing of the rules.
/// (What must not pass is tried once: a retry there would only hide a leak.)
func eventually(seconds: Double = 8, _ probe: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        if await probe() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(200))
    }
}

/// The data-plane tests run one at a time, across suites: each backend's nftables tables see the
/// whole host's bridged traffic and read the packet mark as its own port numbers, so two
/// backends filtering at once would misread each other's ports.
struct OneBackendAtATime: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard !test.isSuite else { return try await function() }
        await Turns.shared.take()
        do {
            try await function()
        } catch {
            await Turns.shared.pass()
            throw error
        }
        await Turns.shared.pass()
    }

    private actor Turns {
        static let shared = Turns()
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func take() async {
            guard busy else { busy = true; return }
            await withCheckedContinuation { waiting.append($0) }
        }

        /// Hands the turn to the next waiting test, or frees it.
        func pass() {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
    }
}

extension Trait where Self == OneBackendAtATime {
    static var oneBackendAtATime: Self { Self() }
}
