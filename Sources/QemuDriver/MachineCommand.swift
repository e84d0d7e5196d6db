import DriverKit
import Foundation

/// The qemu command line of a server: one process, daemonized, with its QMP socket, pid file and
/// serial log in the server's folder. Nothing else describes the machine, so a restart of the
/// server runs exactly what its spec says.
struct MachineCommand {
    let binary: String
    let accelerator: String
    let folder: InstanceFolder
    let spec: InstanceSpec
    /// Boots the rescue disk first, with the server's own disk second (Nova's rescue).
    var rescue = false
    /// Loads the memory of a suspended server instead of booting.
    var resumeFrom: String?
    var configDrive = false

    func arguments() throws -> [String] {
        let p = spec.image.properties
        var args = [binary, "-name", "guest=\(spec.id)", "-no-user-config", "-nodefaults", "-daemonize",
                    "-pidfile", folder.pidFile, "-qmp", "unix:\(folder.qmpSocket),server=on,wait=off",
                    "-machine", "\(p["hw_machine_type"] ?? "pc"),accel=\(accelerator)",
                    "-smp", "\(max(spec.vcpus, 1))", "-m", "\(max(spec.memoryMB, 16))",
                    // cloud-init recognises an OpenStack instance by this product name, and takes the instance ID from the UUID.
                    "-smbios", "type=1,manufacturer=Martlet,product=OpenStack Compute,family=Virtual Machine,serial=\(spec.id)",
                    "-chardev", "socket,id=serial0,path=\(folder.serialSocket),server=on,wait=off,logfile=\(folder.consoleLog),logappend=on",
                    "-serial", "chardev:serial0",
                    "-vga", "std", "-display", "none", "-vnc", "unix:\(folder.vncSocket)",
                    "-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng0"]
        // Server IDs are UUIDs; the machine's is the same, so the guest knows which instance it is.
        if UUID(uuidString: spec.id) != nil { args += ["-uuid", spec.id] }
        args += Self.cpuArguments(accelerator)
        if p["hw_firmware_type"] == "uefi" { args += ["-bios", "/usr/share/ovmf/OVMF.fd"] }
        let bus = p["hw_disk_bus"] ?? "virtio"
        if bus == "scsi" { args += ["-device", "virtio-scsi-pci,id=scsi0"] }
        // A server booting from a volume has no root disk here: the volume boots first.
        let root = spec.rootVolume
        var disks = root == nil ? [folder.disk] : []
        if rescue { disks.insert(folder.rescueDisk, at: 0) }
        if let root, !rescue { args += try VolumeDisk.arguments(root, bootIndex: 1) }
        if spec.ephemeralGB > 0 { disks.append(folder.ephemeral) }
        if spec.swapMB > 0 { disks.append(folder.swap) }
        for (index, disk) in disks.enumerated() {
            args += ["-drive", "file=\(disk),format=qcow2,if=none,id=disk\(index),discard=unmap"]
            args += ["-device", device(bus: bus, drive: "disk\(index)", serial: index == 0 && !rescue && root == nil ? String(spec.id.prefix(20)) : nil,
                                        bootIndex: index == 0 && (root == nil || rescue) ? 1 : nil)]
        }
        if configDrive {
            args += ["-drive", "file=\(folder.configDrive),format=raw,if=none,id=config,readonly=on", "-device", device(bus: bus, drive: "config")]
        }
        for volume in spec.volumes where volume != root || rescue { args += try VolumeDisk.arguments(volume) }
        for port in spec.ports {
            args += ["-netdev", NetworkInterface.netdev(port), "-device", NetworkInterface.device(port)]
        }
        if let resumeFrom { args += ["-incoming", "exec:cat \(resumeFrom)"] }
        return args
    }

    /// The host's CPU under KVM; qemu's default model under TCG.
    static func cpuArguments(_ accelerator: String) -> [String] { accelerator == "kvm" ? ["-cpu", "host"] : [] }

    private func device(bus: String, drive: String, serial: String? = nil, bootIndex: Int? = nil) -> String {
        var device: String
        switch bus {
        case "ide": device = "ide-hd,drive=\(drive)"
        case "scsi": device = "scsi-hd,drive=\(drive)"
        default: device = "virtio-blk-pci,drive=\(drive)"
        }
        if let serial { device += ",serial=\(serial)" }
        if let bootIndex { device += ",bootindex=\(bootIndex)" }
        return device
    }
}

/// A port as a tap on the host and a virtio NIC in the guest.
enum NetworkInterface {
    static func netdevID(_ port: InstancePort) -> String { "net-\(port.id.prefix(11))" }
    static func deviceID(_ port: InstancePort) -> String { "nic-\(port.id.prefix(11))" }
    static func netdev(_ port: InstancePort) -> String { "tap,id=\(netdevID(port)),ifname=\(port.deviceName),script=no,downscript=no" }
    static func device(_ port: InstancePort) -> String { "virtio-net-pci,netdev=\(netdevID(port)),id=\(deviceID(port)),mac=\(port.mac)" }

    /// Makes the tap (when missing) and brings it up; the network backend bridges it, and a tap
    /// it made first keeps the MTU it gave (its network's).
    static func createTap(_ port: InstancePort) async throws {
        if try await TapDevice.ensure(port.deviceName) {
            try await HostCommand.run(["ip", "link", "set", "dev", port.deviceName, "mtu", "\(port.mtu)"])
        }
        try await HostCommand.run(["ip", "link", "set", "dev", port.deviceName, "up"])
    }

    static func deleteTap(named name: String) async throws {
        try await TapDevice.delete(name)
    }
}
