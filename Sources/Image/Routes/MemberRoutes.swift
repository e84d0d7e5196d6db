import Foundation
import Hummingbird
import MartletCore

/// `/v2/images/{id}/members`: sharing an image with other projects, who accept or reject it.
struct MemberRoutes {
    let service: ImageService
    var repo: ImageRepository { service.repo }

    func register(_ r: PolicyRouter) {
        let base = "/v2/images/:image_id/members"
        r.post(base, rule: "image:add_member", loadsTarget: true) { call in
            let (image, _) = try await service.visibleImage(call)
            guard image.visibility == "shared" else {
                throw APIError.forbidden("Only shared images have members.")
            }
            let f = try JSONFields(try await call.body(), path: "")
            let memberID = try f.requiredString("member", maxLength: 255)
            let now = repo.now()
            let member = ImageMember(imageID: image.id, memberID: memberID, status: "pending", createdAt: now, updatedAt: now)
            try await repo.db.transaction { db in
                if try await repo.member(imageID: image.id, memberID: memberID, in: db) != nil {
                    throw APIError.conflict("Member \(memberID) already exists for image \(image.id).")
                }
                try await repo.save(member, new: true, in: db)
            }
            return .json(.ok, member.json())
        }
        r.get(base, rule: "image:get_members", loadsTarget: true) { call in
            let (image, membership) = try await service.visibleImage(call)
            guard image.visibility == "shared" else { throw APIError.forbidden("Only shared images have members.") }
            let access = ImageAccess(auth: call.auth)
            var members = try await repo.members(imageID: image.id)
            // The owner sees every member; a member sees only itself.
            if !(access.isAdmin || image.owner == access.project) {
                members = membership == nil ? [] : members.filter { $0.memberID == access.project }
            }
            return .json(.ok, ["members": .array(members.map { $0.json() }), "schema": "/v2/schemas/members"])
        }
        r.get("\(base)/:member_id", rule: "image:get_member", loadsTarget: true) { call in
            .json(.ok, try await member(call).json())
        }
        r.put("\(base)/:member_id", rule: "image:modify_member", loadsTarget: true) { call in
            var member = try await member(call, rule: true)
            let f = try JSONFields(try await call.body(), path: "")
            let status = try f.requiredString("status")
            guard ImageMember.statuses.contains(status) else {
                throw APIError.badRequest("Invalid status \(status): use pending, accepted or rejected.")
            }
            member.status = status
            member.updatedAt = repo.now()
            let updated = member
            try await repo.db.transaction { try await repo.save(updated, new: false, in: $0) }
            return .json(.ok, updated.json())
        }
        r.delete("\(base)/:member_id", rule: "image:delete_member", loadsTarget: true) { call in
            let (image, _) = try await service.visibleImage(call)
            let memberID = try call.param("member_id")
            try await repo.db.transaction { db in
                guard try await repo.member(imageID: image.id, memberID: memberID, in: db) != nil else {
                    throw APIError.notFound("Member \(memberID) not found for image \(image.id).")
                }
                try await repo.deleteMember(imageID: image.id, memberID: memberID, in: db)
            }
            return .empty()
        }
    }

    /// The membership named by the path, visible to the image's owner and to that member.
    /// With `rule`, the route's rule is checked against the member (only it may change its status).
    private func member(_ call: APICall, rule: Bool = false) async throws -> ImageMember {
        let id = try call.param("image_id")
        let memberID = try call.param("member_id")
        let access = ImageAccess(auth: call.auth)
        guard let image = try await repo.image(id) else { throw ImageService.notFound(id) }
        let mine = try await access.project.asyncFlatMap { try await repo.member(imageID: id, memberID: $0)?.status }
        guard access.canSee(image, membership: mine) else { throw ImageService.notFound(id) }
        guard let member = try await repo.member(imageID: id, memberID: memberID),
              access.isAdmin || image.owner == access.project || memberID == access.project else {
            throw APIError.notFound("Member \(memberID) not found for image \(id).")
        }
        if rule {
            try call.authorize(["owner": image.owner ?? "", "member_id": memberID])
        } else {
            try call.authorize(["owner": image.owner ?? ""])
        }
        return member
    }
}
