import MartletCore

/// The Image service's policy table. Who may see an image (its visibility and membership) is
/// decided per image by `ImageAccess`; these rules decide who may act.
enum ImagePolicy {
    static let admin = PolicyRule.role("admin")
    /// A member of the project that owns the image (`target.owner`).
    static let ownerMember = PolicyRule { req in
        req.auth.hasRole("member") && req.auth.projectID != nil && req.target["owner"] == req.auth.projectID
    }
    /// The project the image is shared with (`target.member_id`).
    static let sharedWith = PolicyRule { req in
        req.auth.hasRole("member") && req.auth.projectID != nil && req.target["member_id"] == req.auth.projectID
    }
    static let projectMember = PolicyRule { $0.auth.hasRole("member") && $0.auth.projectID != nil }
    static let reader = PolicyRule { $0.auth.hasRole("reader") }
    static let manage = admin || ownerMember

    static let table = Policy([
        "image:get_images": reader,
        "image:get_image": reader,
        "image:add_image": admin || projectMember,
        "image:modify_image": manage,
        "image:delete_image": manage,
        "image:upload_image": manage,
        "image:download_image": reader,
        "image:stage_image": manage,
        "image:import_image": manage,
        "image:deactivate": manage,
        "image:reactivate": manage,
        "image:add_tag": manage,
        "image:delete_tag": manage,
        "image:publicize_image": admin,
        "image:communitize_image": manage,
        "image:get_members": reader,
        "image:get_member": reader,
        "image:add_member": manage,
        "image:delete_member": manage,
        "image:modify_member": admin || sharedWith,
        "image:get_info": reader,
        "image:get_metadef": reader,
        "image:manage_metadef": admin,
        // Glance keeps the tasks API for admins.
        "image:get_tasks": admin,
        "image:add_task": admin,
        "image:get_schema": PolicyRule.anyone,
    ])
}

/// What the caller may see: its own project's images, public ones, community ones, and those shared
/// with its project; admins see everything.
struct ImageAccess {
    let auth: AuthContext

    var isAdmin: Bool { auth.hasRole("admin") }
    var project: String? { auth.projectID }

    func canSee(_ image: ImageRecord, membership: String?) -> Bool {
        if isAdmin || image.visibility == "public" || image.visibility == "community" { return true }
        if let project, image.owner == project { return true }
        return image.visibility == "shared" && membership != nil
    }
}
