import Hummingbird
import MartletCore
import SQLKit

/// Router interface actions and floating-IP port forwardings.
struct RouterRoutes {
    let service: NetworkService

    func register(_ r: PolicyRouter) {
        let routers = ResourceRoutes(service: service, kind: Routers())
        for (action, rule) in [("add_router_interface", "add_router_interface"), ("remove_router_interface", "remove_router_interface")] {
            r.put("/v2.0/routers/:id/\(action)", rule: rule, loadsTarget: true) { call in
                let body = try await call.body()
                let info = try await service.change(call) { change in
                    let router = try await routers.visible(call, forUpdate: true, in: change.db)
                    try call.authorize(["project_id": router["project_id"]?.stringValue ?? ""])
                    return action == "add_router_interface"
                        ? try await Routers.addInterface(router, body, change)
                        : try await Routers.removeInterface(router, body, change)
                }
                return .json(.ok, .object(info))
            }
        }

        let fips = ResourceRoutes(service: service, kind: FloatingIPs())
        let table = ResourceTable.portForwardings
        let base = "/v2.0/floatingips/:id/port_forwardings"
        r.get(base, rule: "get_floatingip", loadsTarget: true) { call in
            let docs = try await service.read { db in
                let fip = try await fips.visible(call, in: db)
                try call.authorize(["project_id": fip["project_id"]?.stringValue ?? ""])
                return try await service.store.rows(table, where: "floatingip_id = \(bind: fip["id"]?.stringValue ?? "")", in: db)
            }
            let query = try ListQuery(call.request, table: table)
            return .json(.ok, [table.collection: .array(query.sorted(docs.filter(query.matches)).map { .object(Self.shown(query.project($0))) })])
        }
        r.post(base, rule: "update_floatingip", loadsTarget: true) { call in
            let json = try await call.body()
            let doc = try await service.change(call) { change in
                let fip = try await fips.visible(call, forUpdate: true, in: change.db)
                try call.authorize(["project_id": fip["project_id"]?.stringValue ?? ""])
                let body = try ResourceRoutes.resource(json, table)
                return try await PortForwardings().create(fip, Body(body, resource: table.member), change)
            }
            return .json(.created, [table.member: .object(Self.shown(doc))])
        }
        r.get("\(base)/:pf_id", rule: "get_floatingip", loadsTarget: true) { call in
            let doc = try await service.read { db in try await forwarding(call, fips, in: db) }
            return .json(.ok, [table.member: .object(Self.shown(doc))])
        }
        r.put("\(base)/:pf_id", rule: "update_floatingip", loadsTarget: true) { call in
            let json = try await call.body()
            let doc = try await service.change(call) { change in
                var doc = try await forwarding(call, fips, in: change.db)
                let body = Body(try ResourceRoutes.resource(json, table), resource: table.member)
                try body.only(["description", "internal_port", "external_port"])
                if body.has("description") { doc["description"] = .string(try body.string("description") ?? "") }
                for key in ["internal_port", "external_port"] {
                    if let port = try body.int(key) {
                        guard (1...65535).contains(port) else { throw NetFault.invalid(key, "'\(port)' is not a port from 1 to 65535") }
                        doc[key] = .int(Int64(port))
                    }
                }
                let fipID = doc["floatingip_id"]?.stringValue ?? ""
                for other in try await change.rows(table, "floatingip_id = \(bind: fipID)") where other["id"] != doc["id"] {
                    if other["protocol"] == doc["protocol"], other["external_port"] == doc["external_port"] {
                        throw NetFault.badRequest("Bad port_forwarding request: external port \(doc["external_port"]?.text ?? "") is already forwarded on floating IP \(fipID).", type: "BadRequest")
                    }
                }
                if let router = try await change.get(.floatingIPs, fipID)?["router_id"]?.stringValue { change.note(.router(router)) }
                return try await change.update(table, doc)
            }
            return .json(.ok, [table.member: .object(Self.shown(doc))])
        }
        r.delete("\(base)/:pf_id", rule: "update_floatingip", loadsTarget: true) { call in
            try await service.change(call) { change in
                let doc = try await forwarding(call, fips, in: change.db)
                let fipID = doc["floatingip_id"]?.stringValue ?? ""
                try await change.delete(table, doc["id"]?.stringValue ?? "")
                if var fip = try await change.get(.floatingIPs, fipID), let router = fip["router_id"]?.stringValue {
                    change.note(.router(router))
                    if fip["port_id"] == .null, try await change.store.count(table, where: "floatingip_id = \(bind: fipID)", in: change.db) == 0 {
                        fip["router_id"] = .null
                        try await change.update(.floatingIPs, fip)
                    }
                }
            }
            return .empty()
        }
    }

    private func forwarding(_ call: APICall, _ fips: ResourceRoutes, in db: any SQLDatabase) async throws -> Doc {
        let fip = try await fips.visible(call, in: db)
        try call.authorize(["project_id": fip["project_id"]?.stringValue ?? ""])
        let id = try call.param("pf_id")
        guard let doc = try await service.store.get(.portForwardings, id, in: db), doc["floatingip_id"] == fip["id"] else {
            throw NetFault.notFound(.portForwardings, id)
        }
        return doc
    }

    /// Port forwardings are shown without the standard attributes and owner they are stored with.
    static func shown(_ doc: Doc) -> Doc {
        doc.filter { !["project_id", "created_at", "updated_at", "revision_number", "floatingip_id"].contains($0.key) }
    }
}
