import Crypto
import Foundation
import MartletCore

/// A server as the API shows it at one microversion, to one caller.
struct ServerView {
    let links: Links
    let version: Microversion
    /// `os_compute_api:os-extended-server-attributes`: the `OS-EXT-SRV-ATTR:*` attributes.
    let extendedAttributes: Bool
    /// `os_compute_api:servers:show:host_status` (2.16).
    let hostStatus: Bool
    /// A fault's details (Nova shows them to admins).
    let faultDetails: Bool
    /// Image names and properties by id, for 2.98's embedded image properties.
    var imageProperties: [String: [String: String]] = [:]

    private func at(_ minor: Int) -> Bool { version >= Microversion(2, minor) }

    func summary(_ s: Server) -> JSON {
        ["id": .string(s.id), "name": .string(s.name), "links": links.json("servers", s.id)]
    }

    /// Show and list-detail; `show` adds what only a single server shows (2.71's `server_groups`).
    func detail(_ s: Server, groups: [String]? = nil) -> JSON {
        var b: [String: JSON] = [
            "id": .string(s.id), "name": .string(s.name), "status": .string(s.status),
            "tenant_id": .string(s.projectID), "user_id": .string(s.userID), "metadata": .object(s.metadata.mapValues { .string($0) }),
            "hostId": .string(s.host.map { Self.hostID(project: s.projectID, host: $0) } ?? ""),
            "created": .string(NovaTime.server(s.createdAt)), "updated": .string(NovaTime.server(s.updatedAt)),
            "addresses": addresses(s), "accessIPv4": .string(s.accessIPv4), "accessIPv6": .string(s.accessIPv6),
            "links": links.json("servers", s.id), "OS-DCF:diskConfig": .string(s.autoDiskConfig == true ? "AUTO" : "MANUAL"),
            "OS-EXT-AZ:availability_zone": .string(s.availabilityZone ?? s.requestedZone ?? ""),
            "config_drive": .string(s.configDrive ? "True" : ""), "key_name": JSON(s.keyName),
            "OS-SRV-USG:launched_at": s.launchedAt.map { .string(NovaTime.precise($0)) } ?? nil,
            "OS-SRV-USG:terminated_at": nil,
            "OS-EXT-STS:task_state": JSON(s.taskState?.rawValue), "OS-EXT-STS:vm_state": .string(s.vmState.rawValue),
            "OS-EXT-STS:power_state": JSON(s.powerState.rawValue),
            "os-extended-volumes:volumes_attached": .array((s.volumes ?? []).map { ["id": .string($0.volumeID)] }),
        ]
        if !s.securityGroups.isEmpty { b["security_groups"] = .array(s.securityGroups.map { ["name": .string($0)] }) }
        b["image"] = s.imageRef.isEmpty ? "" : image(s)
        b["flavor"] = flavor(s)
        if ["ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"].contains(s.status) {
            b["progress"] = JSON(s.vmState == .building ? 0 : 100)
        }
        if let f = s.fault, s.vmState == .error || s.vmState == .deleted {
            var fault: [String: JSON] = ["code": JSON(f.code), "message": .string(f.message), "created": .string(NovaTime.server(f.created))]
            if faultDetails, let details = f.details { fault["details"] = .string(details) }
            b["fault"] = .object(fault)
        }
        if extendedAttributes {
            b["OS-EXT-SRV-ATTR:host"] = JSON(s.host)
            b["OS-EXT-SRV-ATTR:hypervisor_hostname"] = JSON(s.host)
            b["OS-EXT-SRV-ATTR:instance_name"] = .string("instance-" + s.id.prefix(8))
            if at(3) {
                b["OS-EXT-SRV-ATTR:reservation_id"] = .string(s.reservationID)
                b["OS-EXT-SRV-ATTR:launch_index"] = JSON(s.launchIndex)
                b["OS-EXT-SRV-ATTR:hostname"] = .string(s.hostname)
                b["OS-EXT-SRV-ATTR:kernel_id"] = ""
                b["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
                b["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
                b["OS-EXT-SRV-ATTR:user_data"] = JSON(s.userData)
            }
        } else if at(90) {
            b["OS-EXT-SRV-ATTR:hostname"] = .string(s.hostname)
        }
        if hostStatus && at(16) { b["host_status"] = .string(s.host == nil ? "" : "UP") }
        if at(3) {
            b["os-extended-volumes:volumes_attached"] = .array((s.volumes ?? []).map {
                ["id": .string($0.volumeID), "delete_on_termination": .bool($0.deleteOnTermination)]
            })
        }
        if at(9) { b["locked"] = .bool(s.locked) }
        if at(19) { b["description"] = JSON(s.description) }
        if at(26) { b["tags"] = JSON(s.tags) }
        if at(63) { b["trusted_image_certificates"] = s.trustedCertificates.map { JSON($0) } ?? .null }
        if at(71), let groups { b["server_groups"] = JSON(groups) }
        if at(73) { b["locked_reason"] = JSON(s.lockedReason) }
        if at(96) { b["pinned_availability_zone"] = JSON(s.requestedZone) }
        if at(100) { b["scheduler_hints"] = .object(s.schedulerHints.mapValues { $0.count == 1 ? .string($0[0]) : JSON($0) }) }
        return .object(b)
    }

    /// What update and rebuild answered before 2.75: the server without the detail-only attributes.
    func basic(_ s: Server) -> JSON {
        guard case .object(var body) = detail(s) else { return detail(s) }
        for key in body.keys where Self.detailOnly.contains(key) || key.hasPrefix("OS-EXT-") || key.hasPrefix("OS-SRV-USG:") {
            body.removeValue(forKey: key)
        }
        // Nova's update and rebuild answers show plain addresses (`extend_address=False`).
        if case .object(let networks)? = body["addresses"] {
            body["addresses"] = .object(networks.mapValues { list in
                .array(list.array.map { ["addr": $0["addr"] ?? nil, "version": $0["version"] ?? nil] })
            })
        }
        return .object(body)
    }

    static let detailOnly: Set<String> = ["key_name", "security_groups", "os-extended-volumes:volumes_attached", "config_drive",
                                          "host_status", "OS-DCF:diskConfig"]

    private func image(_ s: Server) -> JSON {
        var image: [String: JSON] = ["id": .string(s.imageRef), "links": [["rel": "bookmark", "href": .string("\(links.base)/images/\(s.imageRef)")]]]
        if at(98) { image["properties"] = .object((imageProperties[s.imageRef] ?? [:]).mapValues { .string($0) }) }
        return .object(image)
    }

    private func flavor(_ s: Server) -> JSON {
        if at(47) {
            var f: [String: JSON] = ["original_name": .string(s.flavor.name), "vcpus": JSON(s.flavor.vcpus), "ram": JSON(s.flavor.ram),
                                     "disk": JSON(s.flavor.disk), "ephemeral": JSON(s.flavor.ephemeral), "swap": JSON(s.flavor.swap)]
            f["extra_specs"] = .object(s.flavor.extraSpecs.mapValues { .string($0) })
            return .object(f)
        }
        return ["id": .string(s.flavor.id), "links": [["rel": "bookmark", "href": .string("\(links.base)/flavors/\(s.flavor.id)")]]]
    }

    func addresses(_ s: Server) -> JSON {
        var byNetwork: [String: [JSON]] = [:]
        for a in s.addresses {
            byNetwork[a.network, default: []].append([
                "addr": .string(a.address), "version": JSON(a.version), "OS-EXT-IPS:type": .string(a.type),
                "OS-EXT-IPS-MAC:mac_addr": .string(a.mac),
            ])
        }
        return .object(byNetwork.mapValues { .array($0) })
    }

    /// Nova's opaque `hostId`: the same for the project's servers on one host, different across projects.
    static func hostID(project: String, host: String) -> String {
        String(SHA256.hash(data: Data((project + host).utf8)).hex.prefix(56))
    }
}
