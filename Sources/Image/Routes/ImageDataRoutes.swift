import Foundation
import Hummingbird
import MartletCore
import HTTPTypes
import NIOCore

/// Image data: direct upload and download, and interoperable import (stage, then `glance-direct`).
struct ImageDataRoutes {
    let service: ImageService
    var repo: ImageRepository { service.repo }

    func register(_ r: PolicyRouter) {
        r.put("/v2/images/:image_id/file", rule: "image:upload_image", loadsTarget: true) { call in
            let (image, _) = try await service.visibleImage(call)
            try requireOctetStream(call)
            guard image.diskFormat != nil, image.containerFormat != nil else {
                throw APIError.badRequest("Properties disk_format, container_format must be set prior to saving data.")
            }
            try await receive(call, image: image, into: .image(image.id), from: ["queued"], during: "saving", after: "active")
            return .empty()
        }
        r.put("/v2/images/:image_id/stage", rule: "image:stage_image", loadsTarget: true) { call in
            let (image, _) = try await service.visibleImage(call)
            try requireOctetStream(call)
            try await receive(call, image: image, into: .staging(image.id), from: ["queued"], during: "uploading", after: "uploading")
            return .empty()
        }
        r.post("/v2/images/:image_id/import", rule: "image:import_image", loadsTarget: true) { call in
            let (image, _) = try await service.visibleImage(call)
            let f = try JSONFields(try await call.body(), path: "")
            let method = try f.object("method").flatMap { try $0.string("name") }
            guard method == "glance-direct" else {
                throw APIError.badRequest("Import method \(method ?? "(none)") is not supported; /v2/info/import lists the supported methods.")
            }
            guard try await repo.db.transaction({ try await repo.transition(image.id, from: ["uploading"], to: "importing", in: $0) }) else {
                throw APIError.conflict("Image \(image.id) has no staged data to import (status \(image.status)).")
            }
            let started = Timestamp.iso(Date())
            var task: [String: JSON] = [
                "id": .string(Identifier.uuid()), "type": "api_image_import", "image_id": .string(image.id),
                "request_id": .string(call.context.requestID), "user_id": .string(call.auth.userID), "owner": JSON(call.auth.projectID),
                "input": ["image_id": .string(image.id), "import_req": ["method": ["name": "glance-direct"]], "backend": ["file"]],
                "created_at": .string(started), "schema": "/v2/schemas/task",
            ]
            do {
                let digest = try await service.data.promote(stagedID: image.id)
                try await service.finish(image.id, digest, status: "active")
                task.merge(["status": "success", "message": "", "result": ["image_id": .string(image.id)]]) { _, new in new }
            } catch {
                _ = try? await repo.db.transaction { try await repo.transition(image.id, from: ["importing"], to: "uploading", in: $0) }
                task.merge(["status": "failure", "message": .string("Import failed: \(APIError.from(error).message)"), "result": nil,
                            "updated_at": .string(Timestamp.iso(Date()))]) { _, new in new }
                let record = JSON.object(task)
                try? await repo.db.transaction { try await repo.addTask(imageID: image.id, body: record, in: $0) }
                throw error
            }
            task["updated_at"] = .string(Timestamp.iso(Date()))
            let record = JSON.object(task)
            try await repo.db.transaction { try await repo.addTask(imageID: image.id, body: record, in: $0) }
            return .empty(.accepted)
        }
        r.get("/v2/images/:image_id/tasks", rule: "image:get_image", loadsTarget: true) { call in
            let (image, _) = try await service.visibleImage(call)
            return .json(.ok, ["tasks": .array(try await repo.tasks(imageID: image.id))])
        }
        r.get("/v2/images/:image_id/file", rule: "image:download_image", loadsTarget: true) { try await download($0) }
    }

    private func requireOctetStream(_ call: APICall) throws {
        let type = call.request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
        guard type == "application/octet-stream" else {
            throw APIError(.unsupportedMediaType, "Image data must be sent as application/octet-stream.")
        }
    }

    /// Streams the request body into the store while the image is `during`; on success it moves to
    /// `after`, on any failure (quota, disconnect) back to where it was, with the partial data gone.
    private func receive(_ call: APICall, image: ImageRecord, into key: ImageDataKey, from: [String], during: String, after: String) async throws {
        guard try await repo.db.transaction({ try await repo.transition(image.id, from: from, to: during, in: $0) }) else {
            throw APIError.conflict("Image status transition from \(image.status) to \(during) is not allowed.")
        }
        do {
            var limit: Int64?
            if let quota = service.quotas.bytes, let owner = image.owner {
                let used = try await repo.db.read { try await repo.usage(owner: owner, in: $0).bytes }
                limit = max(0, quota - used)
            }
            let digest = try await service.data.write(key, from: call.request.body, limit: limit)
            if case .image = key {
                try await service.finish(image.id, digest, status: after)
            } else {
                _ = try await repo.db.transaction { try await repo.transition(image.id, from: [during], to: after, in: $0) }
            }
        } catch {
            _ = try? await repo.db.transaction { try await repo.transition(image.id, from: [during], to: from[0], in: $0) }
            if case ImageDataError.tooLarge(let limit) = error {
                throw APIError.tooLarge("Image storage quota exceeded: this upload would pass the project's limit (\(limit) bytes left).")
            }
            throw error
        }
    }

    private func download(_ call: APICall) async throws -> Response {
        let (image, _) = try await service.visibleImage(call)
        if image.status == "deactivated" && !ImageAccess(auth: call.auth).isAdmin {
            throw APIError.forbidden("The requested image has been deactivated. Image data download is forbidden.")
        }
        guard ["active", "deactivated"].contains(image.status), let size = try await service.data.size(.image(image.id)) else {
            return .empty(.noContent)
        }
        var headers: HTTPFields = [.contentType: "application/octet-stream"]
        if let checksum = image.checksum { headers[HTTPField.Name("Content-MD5")!] = checksum }
        guard size > 0 else { return .empty(.ok, headers: headers) }
        if let rangeHeader = call.request.headers[.range] {
            guard let range = Self.range(rangeHeader, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                throw APIError(.rangeNotSatisfiable, "Requested range \(rangeHeader) is not satisfiable for \(size) bytes.", headers: headers)
            }
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            return Response(status: .partialContent, headers: headers, body: service.data.read(.image(image.id), range: range))
        }
        return Response(status: .ok, headers: headers, body: service.data.read(.image(image.id), range: 0...(size - 1)))
    }

    /// One `bytes=` range (`a-b`, `a-`, `-n`) within `size`, or nil.
    static func range(_ header: String, size: Int64) -> ClosedRange<Int64>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]), suffix > 0 else { return nil }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int64(parts[0]), start < size else { return nil }
        let end = parts[1].isEmpty ? size - 1 : min(Int64(parts[1]) ?? -1, size - 1)
        guard end >= start else { return nil }
        return start...end
    }
}
