import DriverKit
import Foundation

/// What every `Hypervisor` must do. The fixture names a host of the driver and a server it can
/// boot there (for a real driver: a small image it can fetch); each check uses fresh server IDs.
public struct HypervisorFixture: Sendable {
    public let driver: any Hypervisor
    public let host: String
    /// A server the driver can spawn on `host`; checks change its `id` and `powerOn`.
    public let template: InstanceSpec

    public init(driver: any Hypervisor, host: String, template: InstanceSpec) {
        self.driver = driver
        self.host = host
        self.template = template
    }

    func server(_ name: String, powerOn: Bool = true) -> InstanceSpec {
        var spec = template
        spec.id = "conformance-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        spec.host = host
        spec.powerOn = powerOn
        return spec
    }
}

public enum HypervisorConformance {
    public static let checks: [ConformanceCheck<HypervisorFixture>] = [
        .init("offers its host with resources") { f in
            let host = f.driver.hosts.first { $0.name == f.host }
            try expect(host != nil, "hosts does not list \(f.host)")
            try expect((host?.vcpus ?? 0) > 0 && (host?.memoryMB ?? 0) > 0 && (host?.diskGB ?? 0) > 0, "host offers nothing: \(String(describing: host))")
        },
        .init("spawn is idempotent and runs the server") { f in
            let spec = f.server("spawn")
            try await f.driver.spawn(spec)
            try await f.driver.spawn(spec)
            let state = await f.driver.powerState(spec.id, host: f.host)
            try expect(state == .running, "power state after spawn is \(String(describing: state))")
            try await f.driver.destroy(spec.id, host: f.host)
        },
        .init("spawn with power off leaves it shut down") { f in
            let spec = f.server("off", powerOn: false)
            try await f.driver.spawn(spec)
            let state = await f.driver.powerState(spec.id, host: f.host)
            try expect(state == .shutdown, "power state is \(String(describing: state))")
            try await f.driver.destroy(spec.id, host: f.host)
        },
        .init("every power action ends in its power state") { f in
            let spec = f.server("power")
            try await f.driver.spawn(spec)
            for action: PowerAction in [.stop, .start, .pause, .unpause, .suspend, .resume, .softReboot, .hardReboot] {
                try await f.driver.setPower(spec.id, host: f.host, action)
                let state = await f.driver.powerState(spec.id, host: f.host)
                try expect(state == action.result, "after \(action) the power state is \(String(describing: state))")
            }
            try await f.driver.destroy(spec.id, host: f.host)
        },
        .init("destroy is idempotent and the server is gone") { f in
            let spec = f.server("destroy")
            try await f.driver.spawn(spec)
            try await f.driver.destroy(spec.id, host: f.host)
            try await f.driver.destroy(spec.id, host: f.host)
            try expect(await f.driver.powerState(spec.id, host: f.host) == nil, "a destroyed server still has a power state")
        },
        .init("lists the servers it has") { f in
            let spec = f.server("listed")
            try await f.driver.spawn(spec)
            try expect(try await f.driver.instances(host: f.host).contains(spec.id), "a spawned server is not listed")
            try await f.driver.destroy(spec.id, host: f.host)
            try expect(try await !f.driver.instances(host: f.host).contains(spec.id), "a destroyed server is still listed")
        },
        .init("a server it does not have is not found") { f in
            let missing = f.server("missing").id
            try await expectDriverError("setPower", isNotFound) { try await f.driver.setPower(missing, host: f.host, .stop) }
            try await expectDriverError("snapshot", isNotFound) { _ = try await f.driver.snapshot(missing, host: f.host) }
            try await expectDriverError("consoleOutput", isNotFound) { _ = try await f.driver.consoleOutput(missing, host: f.host, lines: nil) }
            try await expectDriverError("diagnostics", isNotFound) { _ = try await f.driver.diagnostics(missing, host: f.host) }
            try await expectDriverError("console", isNotFound) { _ = try await f.driver.console(missing, host: f.host, type: "novnc") }
        },
        .init("snapshot streams the disk") { f in
            let spec = f.server("snapshot")
            try await f.driver.spawn(spec)
            let snapshot = try await f.driver.snapshot(spec.id, host: f.host)
            try expect(!snapshot.diskFormat.isEmpty, "snapshot has no disk format")
            try expect(try await byteCount(snapshot.chunks) > 0, "snapshot streamed no bytes")
            try await f.driver.destroy(spec.id, host: f.host)
        },
        .init("console output keeps the last lines asked for") { f in
            let spec = f.server("console")
            try await f.driver.spawn(spec)
            let all = try await f.driver.consoleOutput(spec.id, host: f.host, lines: nil)
            let one = try await f.driver.consoleOutput(spec.id, host: f.host, lines: 1)
            try expect(one.split(separator: "\n").count <= 1, "lines: 1 gave \(one.split(separator: "\n").count) lines")
            try expect(all.hasSuffix(one), "the last line is not the end of the whole log")
            if let vnc = try await f.driver.console(spec.id, host: f.host, type: "novnc") {
                try expect(FileManager.default.fileExists(atPath: vnc.unixSocket), "the VNC console's socket \(vnc.unixSocket) is missing")
            }
            try await f.driver.destroy(spec.id, host: f.host)
        },
        .init("plug and unplug are idempotent") { f in
            let spec = f.server("ports")
            try await f.driver.spawn(spec)
            let port = InstancePort(id: "c0ffee00-0000-4000-8000-000000000001", mac: "fa:16:3e:00:00:01", mtu: 1450)
            try await f.driver.plug(spec.id, host: f.host, port: port)
            try await f.driver.plug(spec.id, host: f.host, port: port)
            try await f.driver.unplug(spec.id, host: f.host, portID: port.id)
            try await f.driver.unplug(spec.id, host: f.host, portID: port.id)
            try await f.driver.destroy(spec.id, host: f.host)
        },
        .init("volumes attach and detach idempotently") { f in
            let spec = f.server("volumes")
            try await f.driver.spawn(spec)
            let volume = InstanceVolume(volumeID: "c0ffee00-0000-4000-8000-0000000000v1", device: "/dev/vdb",
                                        connection: VolumeConnection(driverVolumeType: "fake", data: [:]))
            try await f.driver.attachVolume(spec.id, host: f.host, volume: volume)
            try await f.driver.attachVolume(spec.id, host: f.host, volume: volume)
            try await f.driver.detachVolume(spec.id, host: f.host, volumeID: volume.volumeID)
            try await f.driver.detachVolume(spec.id, host: f.host, volumeID: volume.volumeID)
            try await f.driver.destroy(spec.id, host: f.host)
        },
    ]
}
