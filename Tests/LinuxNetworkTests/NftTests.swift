import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// Changes to the host's tables go through libnftables in the process: whole or not at all, with
/// nft's own words when refused, and seeing what another `nft` changed meanwhile.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"))
struct NftTests {
    @Test func transactionsAreWholeSayWhyAndSeeOtherChanges() async throws {
        #expect(NftLibrary.shared != nil, "libnftables.so.1 (Debian's libnftables1, which nftables needs) is not loadable")
        let table = "martlet_nfttest_\(getpid())"
        try await Nft.run(["add table inet \(table)", "add chain inet \(table) kept", "add chain inet \(table) caller",
                           "add rule inet \(table) caller jump kept", "add set inet \(table) addresses { type ipv4_addr; }"])

        // The kernel refuses the second line (the chain is jumped to): the first is undone with it.
        do {
            try await Nft.run(["add chain inet \(table) half", "delete chain inet \(table) kept"])
            Issue.record("a chain that a rule jumps to was deleted")
        } catch DriverError.transient(let said) {
            #expect(said.contains("Device or resource busy"), "nft's reason is lost: \(said)")
        }
        var listed = try await HostCommand.run(["nft", "list", "table", "inet", table])
        #expect(!listed.contains("half"))

        // Another nft deletes the chains: the next change here knows they are gone, and makes them again.
        _ = try await HostCommand.run(["nft", "flush", "table", "inet", table])
        _ = try await HostCommand.run(["nft", "delete", "chain", "inet", table, "caller"])
        _ = try await HostCommand.run(["nft", "delete", "chain", "inet", table, "kept"])
        await #expect(throws: DriverError.self) { try await Nft.run(["add rule inet \(table) kept accept"]) }
        try await Nft.run(["add chain inet \(table) kept", "add rule inet \(table) kept ip saddr @addresses accept",
                           "add element inet \(table) addresses { 192.0.2.7 }"])
        listed = try await HostCommand.run(["nft", "list", "table", "inet", table])
        #expect(listed.contains("ip saddr @addresses accept") && listed.contains("192.0.2.7"))
        _ = try await HostCommand.run(["nft", "delete", "table", "inet", table])
    }
}
