import MartletCore

/// Block Storage's policy table, named as Cinder names its rules. Which volumes a caller sees is
/// decided by project; these rules decide who may act (a `reader` reads, a `member` writes).
enum BlockStoragePolicy {
    static let admin = PolicyRule.role("admin")
    /// A member of the project that owns the target (`target.project_id`; any project when none is loaded).
    static let projectMember = PolicyRule { req in
        req.auth.hasRole("member") && req.auth.projectID != nil
            && (req.target["project_id"] == nil || req.target["project_id"] == req.auth.projectID)
    }
    static let projectReader = PolicyRule { req in
        (req.auth.hasRole("reader") || req.auth.hasRole("member")) && req.auth.projectID != nil
            && (req.target["project_id"] == nil || req.target["project_id"] == req.auth.projectID)
    }
    static let member = admin || projectMember
    static let reader = admin || projectReader

    static let table = Policy([
        "volume:versions": .anyone,
        "volume:create": member,
        "volume:get": reader,
        "volume:get_all": reader,
        "volume:update": member,
        "volume:delete": member,
        "volume:extend": member,
        "volume:retype": member,
        "volume:update_readonly_flag": member,
        "volume:update_volume_bootable": member,
        "volume:get_volume_metadata": reader,
        "volume:create_volume_metadata": member,
        "volume:update_volume_metadata": member,
        "volume:delete_volume_metadata": member,
        "volume:attach": member,
        "volume:detach": member,
        "volume:reserve_volume": member,
        "volume:unreserve_volume": member,
        "volume:begin_detaching": member,
        "volume:roll_detaching": member,
        "volume:initialize_connection": member,
        "volume:terminate_connection": member,
        "volume_extension:volume_admin_actions:reset_status": admin,
        "volume_extension:volume_admin_actions:force_delete": admin,
        "volume_extension:volume_admin_actions:force_detach": admin,
        "volume_extension:volume_actions:upload_image": member,
        "volume_extension:volume_image_metadata:set": member,
        "volume_extension:volume_image_metadata:remove": member,
        "volume_extension:volume_image_metadata:show": reader,
        "volume:create_snapshot": member,
        "volume:get_snapshot": reader,
        "volume:get_all_snapshots": reader,
        "volume:update_snapshot": member,
        "volume:delete_snapshot": member,
        "volume:get_snapshot_metadata": reader,
        "volume:update_snapshot_metadata": member,
        "volume:delete_snapshot_metadata": member,
        "volume_extension:snapshot_admin_actions:reset_status": admin,
        "volume_extension:snapshot_admin_actions:force_delete": admin,
        "snapshot_extension:snapshot_actions:update_snapshot_status": member,
        "volume_extension:type_get": reader,
        "volume_extension:type_get_all": reader,
        "volume_extension:types_manage": admin,
        "volume_extension:types_extra_specs:index": reader,
        "volume_extension:types_extra_specs:manage": admin,
        "volume_extension:volume_type_access": admin,
        "volume_extension:qos_specs_manage": admin,
        "volume:create_transfer": member,
        "volume:get_transfer": reader,
        "volume:get_all_transfers": reader,
        "volume:delete_transfer": member,
        "volume:accept_transfer": PolicyRule { $0.auth.hasRole("member") || $0.auth.hasRole("admin") },
        "volume_extension:quotas:show": reader,
        "volume_extension:quotas:update": admin,
        "volume_extension:quotas:delete": admin,
        "volume_extension:quota_classes": admin,
        "limits_extension:used_limits": reader,
        "volume_extension:availability_zone_list": reader,
        "volume_extension:services:index": admin,
        "volume_extension:services:update": admin,
        "volume_extension:hosts": admin,
        "volume_extension:capabilities": admin,
        "scheduler_extension:scheduler_stats:get_pools": admin,
        "volume_extension:extensions": reader,
    ])
}
