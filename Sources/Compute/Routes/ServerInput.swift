import Foundation
import MartletCore

/// A server create request, validated as Nova's schema for the microversion validates it.
struct ServerInput {
    var name: String
    var imageRef: String?
    var flavorRef: String
    var networks: NetworkRequest?
    var keyName: String?
    var userData: String?
    var metadata: [String: String] = [:]
    var securityGroups: [String] = ["default"]
    var zone: String?
    var configDrive = false
    var minCount = 1
    var maxCount = 1
    var returnReservationID = false
    var description: String?
    var tags: [String] = []
    var hostname: String?
    var accessIPv4: String?
    var accessIPv6: String?
    var adminPass: String?
    var diskConfig: String?
    var trustedCertificates: [String]?
    var hints: [String: [String]] = [:]
    /// 2.74: the host an admin asks for.
    var host: String?
    /// Block device mappings to volumes (boot from volume, extra volumes).
    var blockDevices: [BlockDeviceRequest] = []

    init(_ root: JSONFields, version v: Microversion) throws {
        if let extra = root.members.keys.first(where: { !["server", "os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"].contains($0) }) {
            throw APIError.badRequest("Invalid input for field/attribute \(extra). Additional properties are not allowed ('\(extra)' was unexpected)")
        }
        guard let f = try root.object("server") else { throw APIError.badRequest("Invalid input for field 'server': the field is required.") }
        var known: Set<String> = ["name", "imageRef", "flavorRef", "networks", "key_name", "user_data", "metadata", "security_groups",
                                  "availability_zone", "config_drive", "min_count", "max_count", "return_reservation_id",
                                  "OS-DCF:diskConfig", "accessIPv4", "accessIPv6", "adminPass", "block_device_mapping_v2",
                                  "block_device_mapping"]
        if v < Microversion(2, 57) { known.insert("personality") }
        if v >= Microversion(2, 19) { known.insert("description") }
        if v >= Microversion(2, 52) { known.insert("tags") }
        if v >= Microversion(2, 63) { known.insert("trusted_image_certificates") }
        if v >= Microversion(2, 74) { known.formUnion(["host", "hypervisor_hostname"]) }
        if v >= Microversion(2, 90) { known.insert("hostname") }
        if let extra = f.members.keys.first(where: { !known.contains($0) }) {
            throw APIError.badRequest("Invalid input for field/attribute server. Value: \(extra). Additional properties are not allowed ('\(extra)' was unexpected)")
        }
        name = try Self.validName(try f.requiredString("name", minLength: 1, maxLength: 255))
        flavorRef = try Self.reference(f, "flavorRef", required: true) ?? ""
        imageRef = try Self.reference(f, "imageRef", required: false)
        if imageRef == "" { imageRef = nil }
        if let image = imageRef, UUID(uuidString: image) == nil {
            throw APIError.badRequest("Invalid input for field/attribute imageRef. Value: \(image). '\(image)' is not a 'uuid'")
        }
        if let bdms = try f.objects("block_device_mapping_v2") {
            for bdm in bdms {
                let source = try bdm.string("source_type") ?? "image"
                let destination = try bdm.string("destination_type") ?? (source == "image" || source == "blank" ? "local" : "volume")
                guard ["image", "volume", "snapshot", "blank"].contains(source), ["local", "volume"].contains(destination) else {
                    throw APIError.badRequest("Block Device Mapping is Invalid: source_type \(source) with destination_type \(destination).")
                }
                let uuid = try bdm.string("uuid")
                if destination == "local" {
                    guard source == "image" else { throw APIError.badRequest("Block Device Mapping is Invalid: local \(source) disks are not supported.") }
                    if imageRef == nil, let uuid { imageRef = uuid }
                    continue
                }
                if source != "blank" {
                    guard let uuid, UUID(uuidString: uuid) != nil else {
                        throw APIError.badRequest("Block Device Mapping is Invalid: a \(source) source needs a uuid.")
                    }
                }
                let size = try bdm.int("volume_size")
                if let size, size < 1 { throw APIError.badRequest("Block Device Mapping is Invalid: volume_size must be positive.") }
                if ["image", "blank"].contains(source), size == nil {
                    throw APIError.badRequest("Block Device Mapping is Invalid: Images with destination_type 'volume' need to have a non-zero size specified")
                }
                let bootIndex = try bdm.int("boot_index")
                blockDevices.append(BlockDeviceRequest(sourceType: source, uuid: uuid, bootIndex: bootIndex, volumeSize: size,
                                                       deleteOnTermination: try bdm.bool("delete_on_termination") ?? false,
                                                       deviceName: try bdm.string("device_name"), tag: try bdm.string("tag", maxLength: 60)))
            }
            guard blockDevices.filter(\.isRoot).count <= 1 else { throw APIError.badRequest("Block Device Mapping is Invalid: two boot indexes 0.") }
            // A volume to boot from replaces the image (Nova keeps `image` empty for such servers).
            if blockDevices.contains(where: \.isRoot) { imageRef = nil }
        }
        if imageRef == nil && !blockDevices.contains(where: \.isRoot) { throw APIError.badRequest("Missing imageRef attribute") }
        if let raw = f.members["networks"] {
            switch raw {
            case .string("auto") where v >= Microversion(2, 37): networks = .auto
            case .string("none") where v >= Microversion(2, 37): networks = .noNetworks
            case .array:
                var items: [RequestedNetwork] = []
                for item in try f.objects("networks") ?? [] {
                    var n = RequestedNetwork()
                    n.networkID = try item.string("uuid")
                    n.portID = try item.string("port", nullable: true)
                    n.fixedIP = try item.string("fixed_ip").map { try Self.address($0, version: nil, field: "fixed_ip") }
                    n.tag = try item.string("tag", maxLength: 60)
                    if n.tag != nil && (v < Microversion(2, 32) || (v >= Microversion(2, 37) && v < Microversion(2, 42))) {
                        throw APIError.badRequest("Invalid input for field/attribute networks. Additional properties are not allowed ('tag' was unexpected)")
                    }
                    if let id = n.networkID, UUID(uuidString: id) == nil {
                        throw APIError.badRequest("Bad networks format: network uuid is not in proper format (\(id))")
                    }
                    if let id = n.portID, UUID(uuidString: id) == nil {
                        throw APIError.badRequest("Invalid input for field/attribute port. Value: \(id). '\(id)' is not a 'uuid'")
                    }
                    if n.networkID == nil && n.portID == nil { throw APIError.badRequest("Bad networks format: each item needs a uuid or a port.") }
                    items.append(n)
                }
                if Set(items.compactMap(\.portID)).count != items.compactMap(\.portID).count {
                    throw APIError.badRequest("Duplicate port requested.")
                }
                networks = .list(items)
            default:
                throw APIError.badRequest("Invalid input for field/attribute networks: expected a list\(v >= Microversion(2, 37) ? ", 'auto' or 'none'" : "").")
            }
        } else if v >= Microversion(2, 37) {
            throw APIError.badRequest("Invalid input for field/attribute server. Value: networks. 'networks' is a required property")
        }
        keyName = try f.string("key_name", minLength: 1, maxLength: 255, nullable: true)
        if let data = try f.string("user_data", nullable: true) {
            guard data.utf8.count <= 65535 else { throw APIError.badRequest("User data too large. User data must be no larger than 65535 bytes once base64 encoded.") }
            guard Data(base64Encoded: data, options: .ignoreUnknownCharacters) != nil,
                  data.allSatisfy({ $0.isLetter || $0.isNumber || "+/=\n\r".contains($0) }) else {
                throw APIError.badRequest("User data needs to be valid base 64.")
            }
            userData = data
        }
        metadata = try Self.metadata(f, "metadata")
        if let groups = try f.objects("security_groups") {
            securityGroups = try groups.map { try $0.requiredString("name", maxLength: 255) }
            if securityGroups.isEmpty { securityGroups = ["default"] }
        }
        zone = try f.string("availability_zone", minLength: 1, maxLength: 255, nullable: true)
        if let drive = f.members["config_drive"] {
            switch drive {
            case .bool(let b): configDrive = b
            case .string(let s): configDrive = ["true", "1", "yes", "on"].contains(s.lowercased())
            case .null: break
            default: throw APIError.badRequest("Invalid input for field/attribute config_drive.")
            }
        }
        minCount = try Self.count(f, "min_count") ?? 1
        maxCount = try Self.count(f, "max_count") ?? minCount
        if minCount > maxCount { throw APIError.badRequest("min_count must be <= max_count") }
        if let r = f.members["return_reservation_id"] {
            switch r {
            case .bool(let b): returnReservationID = b
            case .string(let s): returnReservationID = ["true", "1", "yes", "on"].contains(s.lowercased())
            default: throw APIError.badRequest("Invalid input for field/attribute return_reservation_id.")
            }
        }
        description = try f.string("description", maxLength: 255, nullable: true)
        if let t = try f.strings("tags") { tags = try Self.tags(t) }
        if let h = try f.string("hostname", minLength: 1, maxLength: 255) { hostname = try Self.validHostname(h, version: v) }
        accessIPv4 = try f.string("accessIPv4", nullable: true).map { try Self.address($0, version: 4, field: "accessIPv4") }
        accessIPv6 = try f.string("accessIPv6", nullable: true).map { try Self.address($0, version: 6, field: "accessIPv6") }
        adminPass = try f.string("adminPass")
        host = try f.string("host", minLength: 1, maxLength: 255) ?? f.string("hypervisor_hostname", minLength: 1, maxLength: 255)
        trustedCertificates = try f.strings("trusted_image_certificates")
        diskConfig = try Self.diskConfig(f)
        if let personality = try f.array("personality"), personality.count > 5 {
            throw APIError.forbidden("Quota exceeded, too many injected files (limit 5).")
        }
        for key in ["os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"] {
            guard let h = try root.object(key) else { continue }
            for (name, value) in h.members {
                switch value {
                case .string(let s): hints[name] = [s]
                case .array(let a): hints[name] = a.compactMap(\.stringValue)
                default: hints[name] = [value.text]
                }
            }
        }
        if let group = hints["group"]?.first, UUID(uuidString: group) == nil {
            throw APIError.badRequest("Invalid input for field/attribute group. Value: \(group). '\(group)' is not a 'uuid'")
        }
    }

    /// A hostname: one RFC 952 label (2.90), or a fully qualified name of such labels (2.94).
    static func validHostname(_ h: String, version v: Microversion) throws -> String {
        let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
        let pattern = v >= Microversion(2, 94) ? "^\(label)(\\.\(label))*\\.?$" : "^\(label)$"
        guard h.count <= (v >= Microversion(2, 94) ? 255 : 63), h.range(of: pattern, options: .regularExpression) != nil else {
            throw APIError.badRequest("Invalid input for field/attribute hostname. Value: \(h). It is not a valid hostname.")
        }
        return h
    }

    /// `flavorRef`/`imageRef`: an id, or a URL ending in one.
    static func reference(_ f: JSONFields, _ key: String, required: Bool) throws -> String? {
        guard let value = f.members[key] else {
            if required { throw APIError.badRequest("Invalid input for field/attribute server. Value: \(key). '\(key)' is a required property") }
            return nil
        }
        let text: String
        switch value {
        case .string(let s): text = s
        case .int(let i): text = String(i)
        default: throw APIError.badRequest("Invalid input for field/attribute \(key): expected a string or an integer.")
        }
        if required && text.isEmpty { throw APIError.badRequest("Invalid input for field/attribute \(key): must not be empty.") }
        return text.split(separator: "/").last.map(String.init) ?? text
    }

    static func validName(_ name: String) throws -> String {
        if name.trimmingCharacters(in: .whitespaces).isEmpty || name.first?.isWhitespace == true || name.last?.isWhitespace == true {
            throw APIError.badRequest("Invalid input for field/attribute name. Value: \(name). '\(name)' does not match the name pattern: no leading or trailing spaces.")
        }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw APIError.badRequest("Invalid input for field/attribute name: control characters are not allowed.")
        }
        return name
    }

    static func count(_ f: JSONFields, _ key: String) throws -> Int? {
        guard let value = f.members[key] else { return nil }
        let n: Int?
        switch value {
        case .int(let i): n = Int(i)
        case .string(let s): n = Int(s)
        default: n = nil
        }
        guard let n, n >= 1 else { throw APIError.badRequest("Invalid input for field/attribute \(key). Value: \(value.text). It must be an integer of at least 1.") }
        return n
    }

    static func metadata(_ f: JSONFields, _ key: String) throws -> [String: String] {
        guard let m = try f.object(key) else { return [:] }
        return try validMetadata(m.members)
    }

    static func validMetadata(_ members: [String: JSON]) throws -> [String: String] {
        var result: [String: String] = [:]
        for (k, value) in members {
            guard case .string(let s) = value else { throw APIError.badRequest("Invalid input for field/attribute metadata: values must be strings.") }
            guard !k.isEmpty, k.count <= 255 else { throw APIError.badRequest("Invalid input for field/attribute metadata: keys are 1 to 255 characters.") }
            guard s.count <= 255 else { throw APIError.badRequest("Invalid input for field/attribute metadata: values are at most 255 characters.") }
            result[k] = s
        }
        return result
    }

    static func tags(_ tags: [String]) throws -> [String] {
        guard tags.count <= 50 else { throw APIError.badRequest("Invalid input for field/attribute tags: at most 50 tags.") }
        for tag in tags where tag.isEmpty || tag.count > 60 || tag.contains(",") || tag.contains("/") {
            throw APIError.badRequest("Invalid input for field/attribute tags. Value: \(tag). Tags are 1 to 60 characters without ',' or '/'.")
        }
        var seen = Set<String>()
        return tags.filter { seen.insert($0).inserted }
    }

    /// A valid address of the version, in canonical form (`::babe:dc0c:1602`, as Nova stores it).
    static func address(_ text: String, version: Int?, field: String) throws -> String {
        for family in version == 4 ? [AF_INET] : version == 6 ? [AF_INET6] : [AF_INET, AF_INET6] {
            var bytes = [UInt8](repeating: 0, count: 16)
            guard inet_pton(family, text, &bytes) == 1 else { continue }
            var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(family, bytes, &out, socklen_t(out.count)) != nil else { continue }
            return String(cString: out)
        }
        throw APIError.badRequest("Invalid input for field/attribute \(field). Value: \(text). '\(text)' is not a '\(version == 6 ? "ipv6" : "ipv4")'")
    }

    /// Nova's default hostname: the name made DNS-safe.
    /// `OS-DCF:diskConfig` of a create, rebuild or update: AUTO or MANUAL.
    static func diskConfig(_ f: JSONFields) throws -> String? {
        guard let d = try f.string("OS-DCF:diskConfig") else { return nil }
        guard ["AUTO", "MANUAL"].contains(d) else { throw APIError.badRequest("Invalid input for field/attribute OS-DCF:diskConfig. Value: \(d).") }
        return d
    }

    static func hostname(_ name: String) -> String {
        let lowered = name.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }
        let trimmed = String(lowered).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "server" : String(trimmed.prefix(63))
    }
}

extension ServerInput {
    /// The volumes an image asks for (Nova's image-defined block device mapping, as an image of a
    /// volume-backed server has it): `block_device_mapping`, a JSON list, when `bdm_v2` is true.
    /// The image's properties are anyone's input: a malformed list is a 400.
    static func imageDefinedDevices(_ properties: [String: String]) throws -> [BlockDeviceRequest] {
        guard properties["bdm_v2"]?.lowercased() == "true", let text = properties["block_device_mapping"] else { return [] }
        let invalid = APIError.badRequest("Block Device Mapping is Invalid: the image's block_device_mapping is not a list of mappings.")
        guard case .array(let entries)? = try? JSON.parse(Array(text.utf8)) else { throw invalid }
        var devices: [BlockDeviceRequest] = []
        for entry in entries {
            let f = try JSONFields(entry, path: "block_device_mapping")
            guard try f.string("destination_type", nullable: true) == "volume" else { continue }
            let source = try f.string("source_type") ?? ""
            guard ["volume", "snapshot", "image", "blank"].contains(source) else { throw invalid }
            let uuid = try f.string("snapshot_id", nullable: true) ?? f.string("volume_id", nullable: true) ?? f.string("image_id", nullable: true)
                ?? f.string("uuid", nullable: true)
            guard source == "blank" || uuid.map({ UUID(uuidString: $0) != nil }) == true else { throw invalid }
            let size = try f.int("volume_size")
            if let size, size < 1 { throw invalid }
            devices.append(BlockDeviceRequest(sourceType: source, uuid: uuid, bootIndex: try f.int("boot_index"), volumeSize: size,
                                              deleteOnTermination: try f.bool("delete_on_termination") ?? false,
                                              deviceName: try f.string("device_name", nullable: true), tag: try f.string("tag", maxLength: 60, nullable: true)))
        }
        guard devices.filter(\.isRoot).count <= 1 else { throw invalid }
        return devices
    }
}
