import Foundation
import MartletCore
import SQLKit

/// An image as the API shows it: core attributes, free-form string properties and tags.
struct ImageRecord: Sendable {
    var id: String
    var name: String?
    var status: String
    var visibility: String
    var owner: String?
    var diskFormat: String?
    var containerFormat: String?
    var size: Int64?
    var virtualSize: Int64?
    var checksum: String?
    var osHashAlgo: String?
    var osHashValue: String?
    var minDisk: Int
    var minRam: Int
    var protected: Bool
    var osHidden: Bool
    var properties: [String: String]
    var createdAt: Double
    var updatedAt: Double
    var tags: [String]

    static let diskFormats: Set<String> = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
    static let containerFormats: Set<String> = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
    static let visibilities: Set<String> = ["public", "private", "shared", "community"]

    /// Attributes with a meaning of their own; every other key is a custom property.
    static let coreAttributes: Set<String> = [
        "id", "name", "status", "visibility", "owner", "disk_format", "container_format", "size", "virtual_size",
        "checksum", "os_hash_algo", "os_hash_value", "min_disk", "min_ram", "protected", "os_hidden",
        "created_at", "updated_at", "tags", "self", "file", "schema", "locations", "direct_url", "stores",
    ]
    /// Core attributes a client may never set.
    static let readOnly: Set<String> = [
        "id", "status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
        "created_at", "updated_at", "self", "file", "schema", "direct_url", "stores",
    ]

    func json() -> JSON {
        var fields: [String: JSON] = properties.mapValues { .string($0) }
        func number(_ n: Int64?) -> JSON { n.map { .int($0) } ?? .null }
        fields.merge([
            "id": .string(id), "name": JSON(name), "status": .string(status), "visibility": .string(visibility),
            "owner": JSON(owner), "disk_format": JSON(diskFormat), "container_format": JSON(containerFormat),
            "size": number(size), "virtual_size": number(virtualSize), "checksum": JSON(checksum),
            "os_hash_algo": JSON(osHashAlgo), "os_hash_value": JSON(osHashValue),
            "min_disk": .int(Int64(minDisk)), "min_ram": .int(Int64(minRam)), "protected": .bool(protected),
            "os_hidden": .bool(osHidden), "tags": JSON(tags.sorted()),
            "created_at": .string(Timestamp.iso(Date(timeIntervalSince1970: createdAt))),
            "updated_at": .string(Timestamp.iso(Date(timeIntervalSince1970: updatedAt))),
            "self": .string("/v2/images/\(id)"), "file": .string("/v2/images/\(id)/file"), "schema": "/v2/schemas/image",
        ]) { _, core in core }
        if size != nil { fields["stores"] = "file" }
        return .object(fields)
    }

    /// The value of an attribute by its API name, as listing filters and sorting see it
    /// (without rendering the whole image: listings call this thousands of times).
    func value(of key: String) -> JSON? {
        switch key {
        case "id": return .string(id)
        case "name": return JSON(name)
        case "status": return .string(status)
        case "visibility": return .string(visibility)
        case "owner": return JSON(owner)
        case "disk_format": return JSON(diskFormat)
        case "container_format": return JSON(containerFormat)
        case "checksum": return JSON(checksum)
        case "os_hash_value": return JSON(osHashValue)
        case "protected": return .bool(protected)
        case "min_disk": return .int(Int64(minDisk))
        case "min_ram": return .int(Int64(minRam))
        default: return properties[key].map { .string($0) } ?? json()[key]
        }
    }
}

extension ImageRecord {
    static let columns = """
        id, name, status, visibility, owner, disk_format, container_format, size, virtual_size, checksum,
        os_hash_algo, os_hash_value, min_disk, min_ram, protected, os_hidden, created_at, updated_at
        """

    init(row: any SQLRow, tags: [String], properties: [String: String]) throws {
        id = try row.decode(column: "id", as: String.self)
        name = try row.decode(column: "name", as: String?.self)
        status = try row.decode(column: "status", as: String.self)
        visibility = try row.decode(column: "visibility", as: String.self)
        owner = try row.decode(column: "owner", as: String?.self)
        diskFormat = try row.decode(column: "disk_format", as: String?.self)
        containerFormat = try row.decode(column: "container_format", as: String?.self)
        size = try row.decode(column: "size", as: Int64?.self)
        virtualSize = try row.decode(column: "virtual_size", as: Int64?.self)
        checksum = try row.decode(column: "checksum", as: String?.self)
        osHashAlgo = try row.decode(column: "os_hash_algo", as: String?.self)
        osHashValue = try row.decode(column: "os_hash_value", as: String?.self)
        minDisk = try row.decode(column: "min_disk", as: Int.self)
        minRam = try row.decode(column: "min_ram", as: Int.self)
        protected = try row.decode(column: "protected", as: Bool.self)
        osHidden = try row.decode(column: "os_hidden", as: Bool.self)
        self.properties = properties
        createdAt = try row.decode(column: "created_at", as: Double.self)
        updatedAt = try row.decode(column: "updated_at", as: Double.self)
        self.tags = tags
    }
}

/// A project an image is shared with, and whether it took the share.
struct ImageMember: Sendable {
    static let statuses: Set<String> = ["pending", "accepted", "rejected"]

    var imageID: String
    var memberID: String
    var status: String
    var createdAt: Double
    var updatedAt: Double

    func json() -> JSON {
        [
            "image_id": .string(imageID), "member_id": .string(memberID), "status": .string(status),
            "created_at": .string(Timestamp.iso(Date(timeIntervalSince1970: createdAt))),
            "updated_at": .string(Timestamp.iso(Date(timeIntervalSince1970: updatedAt))),
            "schema": "/v2/schemas/member",
        ]
    }
}

extension ImageMember {
    init(row: any SQLRow) throws {
        imageID = try row.decode(column: "image_id", as: String.self)
        memberID = try row.decode(column: "member_id", as: String.self)
        status = try row.decode(column: "status", as: String.self)
        createdAt = try row.decode(column: "created_at", as: Double.self)
        updatedAt = try row.decode(column: "updated_at", as: Double.self)
    }
}
