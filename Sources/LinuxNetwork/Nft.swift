import DriverKit
import Foundation
import Synchronization

/// `nft -f`: a list of commands applied as one transaction (whole or not at all), in the host's
/// network namespace or in a named one.
enum Nft {
    /// The name of a backend's tables, from its runtime folder (nft names take letters, digits
    /// and underscores): two clouds on one host keep to their own.
    static func table(runtime: String) -> String {
        "martlet_" + String(URL(fileURLWithPath: runtime).lastPathComponent.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func run(_ lines: [String], namespace: String? = nil) async throws {
        let script = lines.joined(separator: "\n") + "\n"
        if namespace == nil, let library = NftLibrary.shared {
            return try await library.run(script)
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-nft-\(UUID().uuidString).nft").path
        try Data(script.utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let inside = namespace.map { ["ip", "netns", "exec", $0] } ?? []
        try await HostCommand.run(inside + ["nft", "-f", file], failure: { .transient($0) })
    }
}

/// libnftables (the library `nft` itself is), opened at run time when the host has it: changes to
/// the host's tables are made in the process, with no `nft` started for each, and its copy of the
/// ruleset's chains and sets is kept between them (it reads them again only when the kernel's
/// generation moved under it). A new `nft` reads every chain and set first, which made a port's
/// change cost more the more ports the host had.
final class NftLibrary: Sendable {
    private typealias New = @convention(c) (UInt32) -> OpaquePointer?
    private typealias Run = @convention(c) (OpaquePointer, UnsafePointer<CChar>) -> Int32
    private typealias Buffer = @convention(c) (OpaquePointer) -> Int32
    private typealias Read = @convention(c) (OpaquePointer) -> UnsafePointer<CChar>?

    private let run: Run, errors: Read, output: Read
    /// The context is not safe to share between threads: one change at a time.
    private let context: Mutex<OpaquePointer>

    static let shared = NftLibrary()

    private init?() {
        guard let handle = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<T>(_ name: String, _: T.Type) -> T? { dlsym(handle, name).map { unsafeBitCast($0, to: T.self) } }
        guard let new = symbol("nft_ctx_new", New.self), let run = symbol("nft_run_cmd_from_buffer", Run.self),
              let bufferErrors = symbol("nft_ctx_buffer_error", Buffer.self), let bufferOutput = symbol("nft_ctx_buffer_output", Buffer.self),
              let errors = symbol("nft_ctx_get_error_buffer", Read.self), let output = symbol("nft_ctx_get_output_buffer", Read.self),
              let context = new(0), bufferErrors(context) == 0, bufferOutput(context) == 0 else { return nil }
        (self.run, self.errors, self.output) = (run, errors, output)
        self.context = Mutex(context)
    }

    /// One transaction, off the cooperative pool (the kernel's answer is waited for).
    func run(_ script: String) async throws {
        try await Blocking.run {
            try self.context.withLock { context in
                let status = script.withCString { self.run(context, $0) }
                // Reading a buffer empties it for the next change.
                _ = self.output(context)
                let said = (self.errors(context).map { String(cString: $0) } ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                guard status == 0 else { throw DriverError.transient("nft failed: \(said.isEmpty ? "the transaction was refused" : said)") }
            }
        }
    }
}
