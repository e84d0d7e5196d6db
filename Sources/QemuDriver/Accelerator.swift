import DriverKit
import Foundation
import Logging

/// KVM or TCG. `/dev/kvm` may exist and still hang a guest (nested KVM on some hosts), so KVM is
/// chosen only when a tiny guest really runs under it within a few seconds.
enum Accelerator {
    /// `setting` is `auto`, `kvm` or `tcg`.
    static func choose(_ setting: String, binary: String, scratch: String, logger: Logger) async -> String {
        if setting != "auto" { return setting }
        guard FileManager.default.fileExists(atPath: "/dev/kvm") else {
            logger.info("qemu accelerator: tcg (no /dev/kvm)")
            return "tcg"
        }
        if await runs(binary: binary, scratch: scratch) {
            logger.info("qemu accelerator: kvm")
            return "kvm"
        }
        logger.warning("qemu accelerator: tcg (/dev/kvm is present but a probe guest did not run under it)")
        return "tcg"
    }

    /// Boots a one-sector guest that writes to qemu's debug-exit port: qemu exits with status 3
    /// only if the guest's instructions ran.
    static func runs(binary: String, scratch: String, accelerator: String = "kvm") async -> Bool {
        var sector = [UInt8](repeating: 0, count: 512)
        sector.replaceSubrange(0..<7, with: [0xB0, 0x01, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD])  // mov al,1; out 0xf4,al; hlt; jmp hlt
        sector[510] = 0x55
        sector[511] = 0xAA
        let image = "\(scratch)/accelerator-probe.img"
        defer { try? FileManager.default.removeItem(atPath: image) }
        do {
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            try Data(sector).write(to: URL(fileURLWithPath: image))
            // The CPU servers get: on some nested hosts KVM runs the default CPU but not the host's.
            let result = try await HostCommand.output(["timeout", "-s", "KILL", "10", binary, "-accel", accelerator]
                                                      + MachineCommand.cpuArguments(accelerator) + ["-machine", "pc",
                                                       "-nodefaults", "-no-user-config", "-display", "none", "-m", "16",
                                                       "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                                       "-drive", "file=\(image),format=raw,if=ide"])
            return result.status == 3
        } catch {
            return false
        }
    }
}
