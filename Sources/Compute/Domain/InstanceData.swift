import Foundation
import MartletCore

/// What a server's instance data says: the metadata service answers it over HTTP, and a config
/// drive carries the same documents as files.
struct InstanceData {
    let server: Server
    /// The server's first floating IPv4 address, for the EC2 tree's `public-ipv4`.
    var publicIPv4 = ""

    func metaData() -> JSON {
        let s = server
        var keys: [JSON] = []
        var publicKeys: [String: JSON] = [:]
        if let name = s.keyName, let data = s.keyData {
            keys.append(["name": .string(name), "type": "ssh", "data": .string(data)])
            publicKeys[name] = .string(data)
        }
        let seed = Data((0..<512).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        return [
            "uuid": .string(s.id), "name": .string(s.name), "hostname": .string(s.hostname), "launch_index": JSON(s.launchIndex),
            "availability_zone": JSON(s.availabilityZone), "project_id": .string(s.projectID),
            "meta": .object(s.metadata.mapValues { .string($0) }), "public_keys": .object(publicKeys), "keys": .array(keys),
            "devices": [], "dedicated_cpus": [], "random_seed": .string(seed),
        ]
    }

    func networkData() -> JSON {
        var links: [JSON] = [], networks: [JSON] = []
        var seen: [String: String] = [:]
        for a in server.addresses {
            let link = seen[a.portID] ?? {
                let name = "tap" + a.portID.prefix(11)
                seen[a.portID] = name
                links.append(["id": .string(name), "vif_id": .string(a.portID), "type": "bridge", "mtu": 1500,
                              "ethernet_mac_address": .string(a.mac)])
                return name
            }()
            networks.append(["id": .string("network\(networks.count)"), "type": a.version == 4 ? "ipv4_dhcp" : "ipv6_dhcp",
                             "link": .string(link), "network_id": .string(a.network)])
        }
        return ["links": .array(links), "networks": .array(networks), "services": []]
    }

    /// The user data's bytes, nil when the server has none.
    var userData: Data? {
        server.userData.flatMap { Data(base64Encoded: $0, options: .ignoreUnknownCharacters) }
    }

    /// The EC2 tree, by path under `meta-data/`.
    func ec2Tree() -> [String: String] {
        let s = server
        let ipv4 = s.addresses.first { $0.version == 4 }?.address ?? ""
        // `FIXME` is the manifest path Nova itself serves.
        var tree: [String: String] = [
            "ami-id": "ami-" + s.imageRef.prefix(8), "ami-launch-index": String(s.launchIndex), "ami-manifest-path": "FIXME",
            "hostname": s.hostname, "instance-action": "none", "instance-id": "i-" + s.id.prefix(8), "instance-type": s.flavor.name,
            "local-hostname": s.hostname, "local-ipv4": ipv4, "public-hostname": s.hostname, "public-ipv4": publicIPv4,
            "reservation-id": s.reservationID, "security-groups": s.securityGroups.joined(separator: "\n"),
            "placement/availability-zone": s.availabilityZone ?? "nova",
        ]
        if let name = s.keyName, let data = s.keyData {
            tree["public-keys/0"] = "openssh-key"
            tree["public-keys/0/openssh-key"] = data
            tree["public-keys/"] = "0=\(name)"
        }
        return tree
    }

    /// The config drive's files, laid out as Nova lays them out.
    func configDriveFiles() -> [String: Data] {
        var files: [String: Data] = [:]
        for version in ["2013-10-17", "latest"] {
            files["openstack/\(version)/meta_data.json"] = Data(metaData().serialized())
            files["openstack/\(version)/network_data.json"] = Data(networkData().serialized())
            files["openstack/\(version)/vendor_data.json"] = Data("{}".utf8)
            files["openstack/\(version)/vendor_data2.json"] = Data("{}".utf8)
            if let userData { files["openstack/\(version)/user_data"] = userData }
        }
        var nested: [String: JSON] = [:]
        for (path, value) in ec2Tree() where !path.hasSuffix("/") {
            let parts = path.split(separator: "/").map(String.init)
            nested = Self.inserting(value, at: parts[...], into: nested)
        }
        for version in ["2009-04-04", "latest"] {
            files["ec2/\(version)/meta-data.json"] = Data(JSON.object(nested).serialized())
            if let userData { files["ec2/\(version)/user-data"] = userData }
        }
        return files
    }

    private static func inserting(_ value: String, at path: ArraySlice<String>, into object: [String: JSON]) -> [String: JSON] {
        guard let key = path.first else { return object }
        var object = object
        if path.count == 1 {
            object[key] = .string(value)
        } else {
            guard case .object(let inner)? = object[key] ?? .object([:]) else { return object }
            object[key] = .object(inserting(value, at: path.dropFirst(), into: inner))
        }
        return object
    }
}
