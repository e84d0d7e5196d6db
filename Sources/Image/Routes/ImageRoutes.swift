import Foundation
import Hummingbird
import MartletCore

/// `/v2/images`: create, list, show, update (JSON patch), delete, tags, deactivate and reactivate.
struct ImageRoutes {
    let service: ImageService
    var repo: ImageRepository { service.repo }

    func register(_ r: PolicyRouter) {
        r.post("/v2/images", rule: "image:add_image") { try await create($0) }
        r.get("/v2/images", rule: "image:get_images") { call in
            // `/v2/images/` is a show with an empty ID, not the list.
            if call.request.uri.path.hasSuffix("/") { throw ImageService.notFound("") }
            let page = try await ImageListing(call: call, repo: repo).page()
            return .json(.ok, page)
        }
        r.get("/v2/images/:image_id", rule: "image:get_image", loadsTarget: true) { call in
            .json(.ok, try await service.visibleImage(call).0.json())
        }
        r.patch("/v2/images/:image_id", rule: "image:modify_image", loadsTarget: true) { try await patch($0) }
        r.delete("/v2/images/:image_id", rule: "image:delete_image", loadsTarget: true) { call in
            let (image, _) = try await service.visibleImage(call)
            guard !image.protected else { throw APIError.forbidden("Image \(image.id) is protected and cannot be deleted.") }
            try await repo.db.transaction { try await repo.delete(image.id, in: $0) }
            try? await service.data.delete(.image(image.id))
            try? await service.data.delete(.staging(image.id))
            return .empty()
        }
        r.put("/v2/images/:image_id/tags/:tag", rule: "image:add_tag", loadsTarget: true) { call in
            var (image, _) = try await service.visibleImage(call)
            let tag = try call.param("tag")
            try Self.validateTag(tag)
            if !image.tags.contains(tag) {
                image.tags.append(tag)
                guard image.tags.count <= Self.maxTags else { throw APIError.tooLarge("An image may have at most \(Self.maxTags) tags.") }
                image.updatedAt = repo.now()
                let updated = image
                try await repo.db.transaction { try await repo.update(updated, in: $0) }
            }
            return .empty()
        }
        r.delete("/v2/images/:image_id/tags/:tag", rule: "image:delete_tag", loadsTarget: true) { call in
            var (image, _) = try await service.visibleImage(call)
            let tag = try call.param("tag")
            guard image.tags.contains(tag) else { throw APIError.notFound("Tag \(tag) not found on image \(image.id).") }
            image.tags.removeAll { $0 == tag }
            image.updatedAt = repo.now()
            let updated = image
            try await repo.db.transaction { try await repo.update(updated, in: $0) }
            return .empty()
        }
        r.post("/v2/images/:image_id/actions/deactivate", rule: "image:deactivate", loadsTarget: true) { call in
            try await setActive(call, false)
        }
        r.post("/v2/images/:image_id/actions/reactivate", rule: "image:reactivate", loadsTarget: true) { call in
            try await setActive(call, true)
        }
    }

    static let maxTags = 128

    static func validateTag(_ tag: String) throws {
        guard !tag.isEmpty, tag.count <= 255 else { throw APIError.badRequest("Tags must be 1 to 255 characters.") }
    }

    private func setActive(_ call: APICall, _ active: Bool) async throws -> Response {
        let (image, _) = try await service.visibleImage(call)
        let (from, to) = active ? (["deactivated", "active"], "active") : (["active", "deactivated"], "deactivated")
        let moved = try await repo.db.transaction { try await repo.transition(image.id, from: from, to: to, in: $0) }
        guard moved else {
            throw APIError.forbidden("Not allowed to \(active ? "reactivate" : "deactivate") an image in status '\(image.status)'.")
        }
        return .empty()
    }

    private func create(_ call: APICall) async throws -> Response {
        let f = try JSONFields(try await call.body(), path: "")
        let now = repo.now()
        let project = call.auth.projectID
        var image = ImageRecord(
            id: Identifier.uuid(), name: nil, status: "queued", visibility: "shared", owner: project,
            diskFormat: nil, containerFormat: nil, size: nil, virtualSize: nil, checksum: nil, osHashAlgo: nil,
            osHashValue: nil, minDisk: 0, minRam: 0, protected: false, osHidden: false, properties: [:],
            createdAt: now, updatedAt: now, tags: [])
        if let id = try f.string("id") {
            guard let uuid = UUID(uuidString: id) else { throw APIError.badRequest("Invalid input for field 'id': \(id) is not a UUID.") }
            image.id = uuid.uuidString.lowercased()
        }
        var edit = ImageEdit(image: image, access: ImageAccess(auth: call.auth), creating: true)
        for (key, value) in f.members where key != "id" {
            try edit.set(key, value)
        }
        image = edit.image
        if image.visibility == "public" { try call.authorize(["owner": image.owner ?? ""]); try authorizeExtra(call, "image:publicize_image") }
        let finished = image
        try await repo.db.transaction { db in
            if let owner = finished.owner, let limit = service.quotas.images,
               try await repo.usage(owner: owner, in: db).count >= limit {
                throw APIError.tooLarge("Image quota exceeded: project \(owner) may own at most \(limit) images.")
            }
            if try await repo.image(finished.id, in: db) != nil { throw APIError.conflict("An image with ID \(finished.id) already exists.") }
            try await repo.insert(finished, in: db)
        }
        return .json(.created, finished.json(), headers: [.location: "/v2/images/\(finished.id)"])
    }

    private func authorizeExtra(_ call: APICall, _ rule: String) throws {
        guard call.can(rule, ["owner": call.auth.projectID ?? ""]) else {
            throw APIError.forbidden("You are not authorized to perform the requested action: \(rule).")
        }
    }

    static let patchMediaTypes = ["application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch"]

    private func patch(_ call: APICall) async throws -> Response {
        let (image, _) = try await service.visibleImage(call)
        let contentType = call.request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard Self.patchMediaTypes.contains(contentType) else {
            throw APIError(.unsupportedMediaType, "Unsupported Content-Type; use \(Self.patchMediaTypes[0]).")
        }
        guard case .array(let operations) = try await call.body() else {
            throw APIError.badRequest("A JSON patch is an array of operations.")
        }
        var edit = ImageEdit(image: image, access: ImageAccess(auth: call.auth), creating: false)
        for (index, operation) in operations.enumerated() {
            try edit.apply(try JSONFields(operation, path: "[\(index)]"))
        }
        var updated = edit.image
        if updated.visibility == "public" && image.visibility != "public" { try authorizeExtra(call, "image:publicize_image") }
        updated.updatedAt = repo.now()
        let result = updated
        try await repo.db.transaction { try await repo.update(result, in: $0) }
        return .json(.ok, result.json())
    }
}

/// Applies client changes to an image with Glance's rules: read-only and reserved attributes,
/// types and formats of core attributes, string-valued custom properties.
struct ImageEdit {
    var image: ImageRecord
    let access: ImageAccess
    let creating: Bool

    func readOnly(_ key: String) -> APIError { .forbidden("Attribute '\(key)' is read-only.") }

    mutating func set(_ key: String, _ value: JSON) throws {
        if ImageRecord.readOnly.contains(key) { throw readOnly(key) }
        if key.hasPrefix("os_glance") { throw APIError.forbidden("Attribute '\(key)' is reserved.") }
        func string(maxLength: Int = 255, nullable: Bool = true) throws -> String? {
            switch value {
            case .null where nullable: return nil
            case .string(let s) where s.count <= maxLength: return s
            default: throw APIError.badRequest("Invalid value for '\(key)': expected a string of at most \(maxLength) characters\(nullable ? " or null" : "").")
            }
        }
        func nonNegative() throws -> Int {
            guard case .int(let n) = value, n >= 0, n <= Int64(Int32.max) else {
                throw APIError.badRequest("Invalid value for '\(key)': expected a non-negative integer.")
            }
            return Int(n)
        }
        func bool() throws -> Bool {
            guard case .bool(let b) = value else { throw APIError.badRequest("Invalid value for '\(key)': expected a boolean.") }
            return b
        }
        switch key {
        case "name": image.name = try string()
        case "visibility":
            guard let v = try string(nullable: false), ImageRecord.visibilities.contains(v) else {
                throw APIError.badRequest("Invalid value for 'visibility': expected one of public, private, shared, community.")
            }
            image.visibility = v
        case "disk_format", "container_format":
            guard creating || image.status == "queued" else { throw APIError.forbidden("Attribute '\(key)' can only be changed while the image is queued.") }
            let v = try string()
            let allowed = key == "disk_format" ? ImageRecord.diskFormats : ImageRecord.containerFormats
            if let v, !allowed.contains(v) {
                throw APIError.badRequest("Invalid value '\(v)' for '\(key)': expected one of \(allowed.sorted().joined(separator: ", ")).")
            }
            if key == "disk_format" { image.diskFormat = v } else { image.containerFormat = v }
        case "min_disk": image.minDisk = try nonNegative()
        case "min_ram": image.minRam = try nonNegative()
        case "protected": image.protected = try bool()
        case "os_hidden": image.osHidden = try bool()
        case "owner":
            let owner = try string()
            guard access.isAdmin || owner == image.owner else { throw APIError.forbidden("Only an admin may change the owner of an image.") }
            image.owner = owner
        case "tags":
            guard case .array(let items) = value else { throw APIError.badRequest("Invalid value for 'tags': expected an array of strings.") }
            let tags = try items.map { item -> String in
                guard case .string(let tag) = item else { throw APIError.badRequest("Invalid value for 'tags': expected an array of strings.") }
                try ImageRoutes.validateTag(tag)
                return tag
            }
            guard Set(tags).count <= ImageRoutes.maxTags else { throw APIError.tooLarge("An image may have at most \(ImageRoutes.maxTags) tags.") }
            image.tags = Array(Set(tags))
        case "locations", "direct_url":
            throw APIError.forbidden("Image locations are not supported by this cloud.")
        default:
            guard key.count <= 255, !key.isEmpty else { throw APIError.badRequest("Property names are 1 to 255 characters.") }
            guard case .string(let s) = value else {
                throw APIError.badRequest("Invalid value for property '\(key)': custom properties are strings.")
            }
            guard s.utf8.count <= 65535 else { throw APIError.badRequest("Invalid value for property '\(key)': too long.") }
            image.properties[key] = s
        }
    }

    /// One JSON-patch operation: `add`, `replace` or `remove` on `/attribute`.
    mutating func apply(_ op: JSONFields) throws {
        // Two spellings: {"op": "replace", "path": "/name"} and Glance's older {"replace": "/name"}.
        let short = ["add", "replace", "remove"].first { op.has($0) }
        let kind = try short ?? op.requiredString("op")
        let path = try op.requiredString(short ?? "path")
        guard path.hasPrefix("/"), path.count > 1 else { throw APIError.badRequest("Invalid JSON pointer '\(path)': it must name an attribute, as in /name.") }
        let key = String(path.dropFirst()).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        if key.contains("/") { throw APIError.badRequest("Nested paths such as '\(path)' are not supported.") }
        let isCore = ImageRecord.coreAttributes.contains(key)
        switch kind {
        case "add", "replace":
            guard let value = op.members["value"] else { throw APIError.badRequest("Operation '\(kind)' needs a value.") }
            if kind == "replace" && !isCore && image.properties[key] == nil && !ImageRecord.readOnly.contains(key) {
                throw APIError.conflict("Property \(key) does not exist.")
            }
            try set(key, value)
        case "remove":
            if ImageRecord.readOnly.contains(key) { throw readOnly(key) }
            if isCore { throw APIError.forbidden("Core attribute '\(key)' cannot be removed.") }
            guard image.properties.removeValue(forKey: key) != nil else { throw APIError.conflict("Property \(key) does not exist.") }
        default:
            throw APIError.badRequest("Unsupported JSON-patch operation '\(kind)': use add, replace or remove.")
        }
    }
}
