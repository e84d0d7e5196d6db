import Foundation
import Hummingbird
import MartletCore
import ServiceContracts
import SQLKit

/// `/servers`: create, list, show, update and delete.
struct ServerRoutes {
    let service: ComputeService

    func register(_ r: PolicyRouter) {
        r.post("/v2.1/servers", rule: "os_compute_api:servers:create") { try await create($0) }
        r.get("/v2.1/servers", rule: "os_compute_api:servers:index") { try await list($0, detail: false) }
        r.get("/v2.1/servers/detail", rule: "os_compute_api:servers:index") { try await list($0, detail: true) }
        r.get("/v2.1/servers/:server_id", rule: "os_compute_api:servers:show", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            return .json(.ok, ["server": try await show(server, call)])
        }
        r.put("/v2.1/servers/:server_id", rule: "os_compute_api:servers:update", loadsTarget: true) { try await update($0) }
        r.delete("/v2.1/servers/:server_id", rule: "os_compute_api:servers:delete", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            try await ServerActionRoutes(service: service).delete(server, call, force: false)
            return .empty(.noContent)
        }
    }

    func view(_ call: APICall) -> ServerView {
        ServerView(links: service.links, version: service.version(call),
                   extendedAttributes: call.allowed("os_compute_api:os-extended-server-attributes"),
                   hostStatus: call.allowed("os_compute_api:servers:show:host_status"),
                   faultDetails: call.isComputeAdmin)
    }

    func show(_ server: Server, _ call: APICall) async throws -> JSON {
        var view = view(call)
        var groups: [String]?
        if view.version >= Microversion(2, 71) {
            groups = try await service.db.read { try await ServerGroups().group(ofServer: server.id, in: $0) }.map { [$0.id] } ?? []
        }
        if view.version >= Microversion(2, 98), !server.imageRef.isEmpty,
           let image = try await service.images.bootImage(id: server.imageRef, projectID: nil, isAdmin: true) {
            view.imageProperties[server.imageRef] = image.properties
        }
        return view.detail(try await service.withLiveAddresses(server), groups: groups)
    }

    // MARK: List

    private func list(_ call: APICall, detail: Bool) async throws -> Response {
        // Nova's admin-only filters (project, host, and the rest of `ListFilters`).
        let isAdmin = call.allowed("os_compute_api:servers:allow_all_filters")
        let q = call.queryItems
        let v = service.version(call)
        if v >= Microversion(2, 75), let unknown = q.keys.first(where: { !ListFilters.known.contains($0) }) {
            throw APIError.badRequest("Invalid input for query parameters \(unknown). Additional properties are not allowed ('\(unknown)' was unexpected)")
        }
        var condition: SQLQueryString = "1 = 1"
        let allTenants = q["all_tenants"].map { $0.isEmpty || !["0", "false", "False"].contains($0) } == true
        if allTenants {
            // Nova refuses the request rather than quietly showing the caller's own servers.
            let rule = "os_compute_api:servers:\(detail ? "detail" : "index"):get_all_tenants"
            try call.enforce(rule)
        }
        if let project = q["project_id"] ?? q["tenant_id"], isAdmin, allTenants || q["project_id"] != nil {
            condition += " AND project_id = \(bind: project)" as SQLQueryString
        } else if !allTenants {
            condition += " AND project_id = \(bind: call.auth.projectID ?? "")" as SQLQueryString
        }
        if let status = q["status"] {
            guard let state = VMState.forStatus(status) else {
                if v >= Microversion(2, 38) { throw APIError.badRequest("Invalid status value: \(status)") }
                return .json(.ok, ["servers": []])
            }
            condition += " AND vm_state = \(bind: state.rawValue)" as SQLQueryString
        }
        if isAdmin, let host = q["host"] { condition += " AND host = \(bind: host)" as SQLQueryString }
        if let since = q["changes-since"] {
            guard let date = Timestamp.parse(since) else { throw APIError.badRequest("Invalid filter field: changes-since.") }
            condition += " AND updated_at >= \(bind: date.timeIntervalSince1970)" as SQLQueryString
        }
        if let before = q["changes-before"] {
            guard let date = Timestamp.parse(before) else { throw APIError.badRequest("Invalid filter field: changes-before.") }
            condition += " AND updated_at <= \(bind: date.timeIntervalSince1970)" as SQLQueryString
        }
        let limit = try Pagination.limit(q["limit"], max: 1000, invalid: ComputeFault.invalidLimit)
        if let m = try await Pagination.resolve(q["marker"], notFound: ComputeFault.markerNotFound, { try await service.servers.get($0) }) {
            condition += " AND (created_at < \(bind: m.createdAt) OR (created_at = \(bind: m.createdAt) AND id < \(bind: m.id)))" as SQLQueryString
        }
        let filters = try ListFilters(q, version: v, isAdmin: isAdmin)
        let pageLimit = limit ?? 1000
        let sorting = q["sort_key"] != nil
        let sqlLimit = filters.isEmpty && !sorting ? pageLimit : nil
        var rows = try await service.db.read { try await service.servers.list(condition, limit: sqlLimit, in: $0) }
        if sorting { rows = try ListFilters.sorted(rows, key: q["sort_key"] ?? "created_at", descending: q["sort_dir"] != "asc") }
        var page = Array(Pagination.page(rows.filter { filters.matches($0) }, limit: pageLimit).items)
        if detail { page = try await service.withLiveAddresses(page) }
        let view = view(call)
        var body: [String: JSON] = ["servers": .array(page.map { detail ? view.detail($0) : view.summary($0) })]
        // Nova links the next page whenever this one is full, whether or not more follow.
        if page.count == pageLimit, let last = page.last {
            body["servers_links"] = service.links.next(path: detail ? "servers/detail" : "servers", marker: last.id, query: q)
        }
        return .json(.ok, .object(body))
    }

    /// The filters a listing applies after SQL: those that read the document.
    struct ListFilters {
        var name: NSRegularExpression?
        var image, flavor, ip, ip6: String?
        var locked: Bool?
        var tags, tagsAny, notTags, notTagsAny: [String]?
        /// Attribute filters (admins always; everyone since 2.83): attribute name → wanted text.
        var attributes: [String: String] = [:]
        var isEmpty: Bool { name == nil && image == nil && flavor == nil && ip == nil && ip6 == nil && locked == nil
            && tags == nil && tagsAny == nil && notTags == nil && notTagsAny == nil && attributes.isEmpty }

        static let attributeFilters: Set<String> = ["availability_zone", "config_drive", "key_name", "created_at", "launched_at",
                                                    "terminated_at", "power_state", "task_state", "vm_state", "progress", "user_id",
                                                    "reservation_id", "uuid", "hostname", "description", "launch_index", "node",
                                                    "access_ip_v4", "access_ip_v6"]
        static let known: Set<String> = attributeFilters.union([
            "name", "display_name", "image", "image_ref", "flavor", "ip", "ip6", "status", "host", "changes-since", "changes-before",
            "all_tenants", "project_id", "tenant_id", "limit", "marker", "sort_key", "sort_dir", "tags", "tags-any", "not-tags",
            "not-tags-any", "locked", "deleted", "soft_deleted", "display_description", "kernel_id", "ramdisk_id", "locked_by",
            "root_device_name", "auto_disk_config", "block_device_mapping", "services", "metadata", "system_metadata",
            "info_cache", "security_groups", "pci_devices",
        ])

        /// The server's value of an attribute filter, as text.
        static func value(_ s: Server, _ key: String) -> String? {
            switch key {
            case "availability_zone": return s.availabilityZone
            case "config_drive": return s.configDrive ? "True" : ""
            case "key_name": return s.keyName
            case "created_at": return NovaTime.server(s.createdAt)
            case "launched_at": return s.launchedAt.map(NovaTime.server)
            case "terminated_at": return nil
            case "power_state": return String(s.powerState.rawValue)
            case "task_state": return s.taskState?.rawValue
            case "vm_state": return s.vmState.rawValue
            case "progress": return s.vmState == .building ? "0" : "100"
            case "user_id": return s.userID
            case "reservation_id": return s.reservationID
            case "uuid": return s.id
            case "hostname": return s.hostname
            case "description": return s.description
            case "launch_index": return String(s.launchIndex)
            case "node": return s.host
            case "access_ip_v4": return s.accessIPv4
            case "access_ip_v6": return s.accessIPv6
            default: return nil
            }
        }

        static func sorted(_ servers: [Server], key: String, descending: Bool) throws -> [Server] {
            let text: (Server) -> String
            switch key {
            case "created_at": text = { String(format: "%020.6f", $0.createdAt) }
            case "updated_at": text = { String(format: "%020.6f", $0.updatedAt) }
            case "display_name", "name": text = { $0.name }
            case "uuid", "id": text = { $0.id }
            case "host", "node": text = { $0.host ?? "" }
            case "vm_state": text = { $0.vmState.rawValue }
            case "task_state": text = { $0.taskState?.rawValue ?? "" }
            case "key_name": text = { $0.keyName ?? "" }
            case "locked": text = { $0.locked ? "1" : "0" }
            case "availability_zone": text = { $0.availabilityZone ?? "" }
            default: throw APIError.badRequest("Invalid sort_key \(key).")
            }
            return servers.sorted { a, b in
                let (x, y) = (text(a), text(b))
                return x == y ? a.id > b.id : (descending ? x > y : x < y)
            }
        }

        init(_ q: [String: String], version: Microversion, isAdmin: Bool) throws {
            if let n = q["name"] {
                name = try? NSRegularExpression(pattern: n)
                if name == nil { name = try NSRegularExpression(pattern: NSRegularExpression.escapedPattern(for: n)) }
            }
            image = q["image"].map { $0.split(separator: "/").last.map(String.init) ?? $0 }
            flavor = q["flavor"].map { $0.split(separator: "/").last.map(String.init) ?? $0 }
            ip = q["ip"]
            ip6 = q["ip6"]
            if let l = q["locked"], version >= Microversion(2, 73) {
                guard let b = ["true": true, "false": false, "1": true, "0": false][l.lowercased()] else {
                    throw APIError.badRequest("Invalid value for locked: \(l)")
                }
                locked = b
            }
            if isAdmin || version >= Microversion(2, 83) {
                for key in Self.attributeFilters { if let value = q[key] { attributes[key] = value } }
            }
            // Nova lets everyone find the servers of one multi-create by its reservation.
            if let reservation = q["reservation_id"] { attributes["reservation_id"] = reservation }
            if !isAdmin && version < Microversion(2, 5) { ip6 = nil }
            if let n = q["display_name"], name == nil { name = try NSRegularExpression(pattern: NSRegularExpression.escapedPattern(for: n)) }
            func list(_ key: String) -> [String]? { q[key].map { $0.split(separator: ",").map(String.init) } }
            if version >= Microversion(2, 26) {
                tags = list("tags"); tagsAny = list("tags-any"); notTags = list("not-tags"); notTagsAny = list("not-tags-any")
            }
        }

        func matches(_ s: Server) -> Bool {
            if let name, name.firstMatch(in: s.name, range: NSRange(s.name.startIndex..., in: s.name)) == nil { return false }
            if let image, s.imageRef != image { return false }
            if let flavor, s.flavor.id != flavor { return false }
            if let ip, !s.addresses.contains(where: { $0.version == 4 && $0.address.range(of: ip, options: .regularExpression) != nil }) { return false }
            if let ip6, !s.addresses.contains(where: { $0.version == 6 && $0.address.range(of: ip6, options: .regularExpression) != nil }) { return false }
            if let locked, s.locked != locked { return false }
            for (key, wanted) in attributes where Self.value(s, key) != wanted { return false }
            let have = Set(s.tags)
            if let tags, !Set(tags).isSubset(of: have) { return false }
            if let tagsAny, have.isDisjoint(with: tagsAny) { return false }
            if let notTags, Set(notTags).isSubset(of: have) { return false }
            if let notTagsAny, !have.isDisjoint(with: notTagsAny) { return false }
            return true
        }
    }

    // MARK: Update

    private func update(_ call: APICall) async throws -> Response {
        let current = try await service.visibleServer(call)
        let v = service.version(call)
        let f = try JSONFields.body(try await call.body(), wrapper: "server")
        var allowed: Set<String> = ["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"]
        if v >= Microversion(2, 19) { allowed.insert("description") }
        if v >= Microversion(2, 90) { allowed.insert("hostname") }
        if let unknown = f.members.keys.first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest("Invalid input for field/attribute server. Value: \(unknown). Additional properties are not allowed ('\(unknown)' was unexpected)")
        }
        let name = try f.string("name", minLength: 1, maxLength: 255).map { try ServerInput.validName($0) }
        let description = f.has("description") ? Optional(try f.string("description", maxLength: 255, nullable: true)) : nil
        let v4 = try f.string("accessIPv4").map { try ServerInput.address($0, version: 4, field: "accessIPv4") }
        let v6 = try f.string("accessIPv6").map { try ServerInput.address($0, version: 6, field: "accessIPv6") }
        let hostname = try f.string("hostname", minLength: 1, maxLength: 255).map { try ServerInput.validHostname($0, version: v) }
        let diskConfig = try ServerInput.diskConfig(f)
        let updated = try await service.db.transaction { db -> Server in
            guard var s = try await service.servers.get(current.id, in: db) else { throw ComputeFault.serverNotFound(current.id) }
            if let name { s.name = name }
            if let description { s.description = description }
            if let v4 { s.accessIPv4 = v4 }
            if let v6 { s.accessIPv6 = v6 }
            if let hostname { s.hostname = hostname }
            if let diskConfig { s.autoDiskConfig = diskConfig == "AUTO" }
            try await service.servers.update(s, in: db)
            return s
        }
        return .json(.ok, ["server": v >= Microversion(2, 75) ? try await show(updated, call) : view(call).basic(updated)])
    }

    // MARK: Create

    private func create(_ call: APICall) async throws -> Response {
        let v = service.version(call)
        let root = try JSONFields(try await call.body(), path: "")
        var input = try ServerInput(root, version: v)
        let isAdmin = call.isComputeAdmin
        guard let projectID = call.auth.projectID else { throw APIError.forbidden("Servers belong to a project: use a project-scoped token.") }
        if input.zone?.contains(":") == true || input.host != nil {
            try call.enforce("os_compute_api:servers:create:forced_host")
        }
        // What the request names must exist before it is accepted.
        let flavor = try await service.db.read { db -> Flavor in
            guard let flavor = try await service.flavors.get(input.flavorRef, in: db),
                  try await service.flavors.visible(flavor, project: projectID, isAdmin: isAdmin, in: db) else {
                throw APIError.badRequest("Flavor \(input.flavorRef) could not be found.")
            }
            if flavor.disabled { throw APIError.badRequest("Flavor \(input.flavorRef) is disabled.") }
            return flavor
        }
        if let imageRef = input.imageRef {
            guard let image = try await service.images.bootImage(id: imageRef, projectID: projectID, isAdmin: isAdmin) else {
                throw APIError.badRequest("Image \(imageRef) could not be found.")
            }
            guard image.status == "active" else { throw APIError.badRequest("Image \(imageRef) is not active.") }
            if image.minRam > flavor.ram { throw APIError.badRequest("Flavor's memory is too small for requested image.") }
            if image.minDisk > flavor.disk && flavor.disk > 0 { throw APIError.badRequest("Flavor's disk is too small for requested image.") }
            if let size = image.size, flavor.disk > 0, size > Int64(flavor.disk) << 30 {
                throw APIError.badRequest("Flavor's disk is too small for requested image. Flavor disk is \(Int64(flavor.disk) << 30) bytes, image is \(size) bytes.")
            }
            // An image of a volume-backed server: its volumes are made from the snapshots it names
            // (the request's own mappings win for a device they both name), and the root one boots.
            for device in try ServerInput.imageDefinedDevices(image.properties)
            where !input.blockDevices.contains(where: { ($0.isRoot && device.isRoot) || ($0.deviceName != nil && $0.deviceName == device.deviceName) }) {
                input.blockDevices.append(device)
            }
            if input.blockDevices.contains(where: \.isRoot) { input.imageRef = nil }
        }
        if !input.blockDevices.isEmpty {
            guard let volumes = service.volumes else { throw APIError.badRequest("Block device mappings to volumes need Block Storage, which this cloud does not serve.") }
            for device in input.blockDevices where device.sourceType == "volume" {
                let uuid = device.uuid ?? ""
                guard let volume = try await volumes.volume(id: uuid, projectID: projectID) else {
                    throw APIError.badRequest("Block Device Mapping is Invalid: failed to get volume \(uuid).")
                }
                guard volume.status == "available" || volume.multiattach else {
                    throw APIError.badRequest("Block Device Mapping is Invalid: volume \(uuid) is \(volume.status), not available.")
                }
                if input.maxCount > 1 { throw APIError.badRequest("Multiple instances cannot share volume \(uuid).") }
            }
            for device in input.blockDevices where device.sourceType == "image" {
                guard let image = try await service.images.bootImage(id: device.uuid ?? "", projectID: projectID, isAdmin: isAdmin),
                      image.status == "active" else {
                    throw APIError.badRequest("Block Device Mapping is Invalid: failed to get image \(device.uuid ?? "").")
                }
            }
        }
        var keyData: String?
        if let keyName = input.keyName {
            keyData = try await service.db.read { try await KeypairStore().get(user: call.auth.userID, name: keyName, in: $0)?.publicKey }
            guard keyData != nil else { throw APIError.badRequest("Invalid key_name provided.") }
        }
        let networks = try await resolveNetworks(input.networks, projectID: projectID, version: v)
        if case .list(let requested) = networks {
            let requests = requested.map { PortRequest(networkID: $0.networkID, portID: $0.portID, fixedIP: $0.fixedIP) }
            do { try await service.ports.check(requests, projectID: projectID) } catch let problem as PortRequestProblem {
                throw Self.fault(problem, missing: .badRequest)
            }
            if input.maxCount > 1, requested.contains(where: { $0.portID != nil }) {
                throw APIError.badRequest("Multiple instances cannot be created with a port: each port serves one server.")
            }
        }
        do { try await service.ports.checkSecurityGroups(input.securityGroups, projectID: projectID) } catch let problem as PortRequestProblem {
            throw Self.fault(problem, missing: .badRequest)
        }
        let now = Date().timeIntervalSince1970
        let reservation = "r-" + Identifier.hex().prefix(8)
        var base = Server(
            id: "", projectID: projectID, userID: call.auth.userID, name: input.name, description: input.description,
            hostname: input.hostname ?? ServerInput.hostname(input.name), vmState: .building, taskState: ServerLifecycle.transition(.create).task,
            powerState: .noState, host: nil, requestedZone: input.zone, availabilityZone: nil, flavor: flavor.snapshot,
            oldFlavor: nil, imageRef: input.imageRef ?? "", keyName: input.keyName, keyData: keyData, userData: input.userData,
            metadata: input.metadata, tags: input.tags, securityGroups: input.securityGroups, networks: networks, ownedPorts: [],
            addresses: [], configDrive: input.configDrive, locked: false, lockedReason: nil, lockedBy: nil,
            accessIPv4: input.accessIPv4 ?? "", accessIPv6: input.accessIPv6 ?? "", reservationID: reservation, launchIndex: 0,
            schedulerHints: input.hints, createdAt: now, updatedAt: now, launchedAt: nil, fault: nil,
            previousVMState: nil, rescueImageRef: nil, trustedCertificates: input.trustedCertificates)
        base.autoDiskConfig = input.diskConfig.map { $0 == "AUTO" }
        if !input.blockDevices.isEmpty { base.blockDevices = input.blockDevices }
        if let host = input.host {
            guard try await service.db.read({ try await service.placement.providers(in: $0) }).contains(where: { $0.host == host }) else {
                throw APIError.badRequest("Compute host \(host) could not be found.")
            }
            base.moveTarget = host
        }
        // One request makes a bounded number of servers, as a quota would bound it: at least min_count or none.
        let cap = service.maxServersPerRequest
        if input.minCount > cap {
            throw APIError.forbidden("Quota exceeded for instances: Requested \(input.minCount), but one request may create at most \(cap) servers.")
        }
        let order = ServerAdmission.CreateOrder(prototype: base, minCount: input.minCount, maxCount: min(input.maxCount, cap),
                                                groupID: input.hints["group"]?.first, seesAllGroups: isAdmin,
                                                requestID: call.context.requestID, hostname: input.hostname)
        let admission = service.admission
        let made = try await service.creates.submit(order) { orders in await admission.admit(orders) }
        for server in made { service.conductor.converge(server.id) }
        if input.returnReservationID { return .json(.accepted, ["reservation_id": .string(reservation)]) }
        let first = made[0]
        var body: [String: JSON] = ["id": .string(first.id), "links": service.links.json("servers", first.id),
                                    "OS-DCF:diskConfig": .string(input.diskConfig ?? "MANUAL"),
                                    "security_groups": .array(first.securityGroups.map { ["name": .string($0)] })]
        if service.enableInstancePassword { body["adminPass"] = .string(input.adminPass ?? AdminPassword.generate()) }
        return .json(.accepted, ["server": .object(body)], headers: [.location: "\(service.links.base)/v2.1/servers/\(first.id)"])
    }

    /// The fault for a request Networking refused: what is missing is `missing` (400 at create, 404 on attach).
    static func fault(_ problem: PortRequestProblem, missing: HTTPResponse.Status) -> APIError {
        switch problem {
        case .networkNotFound(let id): return APIError(missing, "Network \(id) could not be found.")
        case .portNotFound(let id): return APIError(missing, "Port \(id) could not be found.")
        case .portInUse(let id): return .conflict("Port \(id) is still in use.")
        case .securityGroupNotFound(let name): return APIError(missing, "Security group \(name) not found.")
        }
    }

    /// Turns `auto`, `none` or an omitted `networks` into what the server joins.
    private func resolveNetworks(_ asked: NetworkRequest?, projectID: String, version: Microversion) async throws -> NetworkRequest {
        switch asked {
        case .list(let items): return .list(items)
        case .noNetworks?: return .noNetworks
        case .auto?, nil:
            let available = try await service.ports.availableNetworks(projectID: projectID)
            if available.count > 1 {
                throw APIError.conflict("Multiple possible networks found, use a Network ID to be more specific.")
            }
            return available.isEmpty ? .noNetworks : .list([RequestedNetwork(networkID: available[0])])
        }
    }
}
