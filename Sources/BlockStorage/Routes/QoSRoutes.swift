import Foundation
import Hummingbird
import MartletCore

/// `/qos-specs`: named QoS limits for admins, associated with volume types.
struct QoSRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        let rule = "volume_extension:qos_specs_manage"
        r.get("/v3/qos-specs", rule: rule) { _ in
            .json(.ok, ["qos_specs": .array(try await store.db.read { try await store.qosSpecs(in: $0) }.map(view))])
        }
        r.post("/v3/qos-specs", rule: rule) { call in
            let body = try VolumeInput.body(try await call.body(), "qos_specs")
            guard let name = try VolumeInput.text(body["name"], field: "name"), !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw BlockStorageFault.invalidInput("Please specify a name for QoS specs.")
            }
            let consumer = try VolumeInput.text(body["consumer"], field: "consumer") ?? "back-end"
            guard QoSSpecs.consumers.contains(consumer) else {
                throw BlockStorageFault.invalidInput("Invalid QoS consumer \(consumer): use front-end, back-end or both.")
            }
            var specs = body.filter { $0.key != "name" && $0.key != "consumer" }
            specs = specs.mapValues { if case .int(let i) = $0 { return .string(String(i)) }; return $0 }
            let qos = QoSSpecs(id: Identifier.uuid(), name: name, consumer: consumer,
                               specs: try VolumeInput.metadata(.object(specs), field: "qos_specs") ?? [:])
            try await store.db.transaction { db in
                guard try await store.qosSpecs(in: db).allSatisfy({ $0.name != name }) else { throw APIError.conflict("QoS Specs \(name) already exists.") }
                try await store.save(qos, in: db)
            }
            return .json(.ok, ["qos_specs": view(qos), "links": service.link("qos-specs", qos.id)])
        }
        r.get("/v3/qos-specs/:qos_id", rule: rule) { call in
            let qos = try await find(call)
            return .json(.ok, ["qos_specs": view(qos), "links": service.link("qos-specs", qos.id)])
        }
        r.put("/v3/qos-specs/:qos_id", rule: rule) { call in
            let body = try VolumeInput.body(try await call.body(), "qos_specs")
            let items = try VolumeInput.metadata(.object(body.mapValues { if case .int(let i) = $0 { return .string(String(i)) }; return $0 }),
                                                 field: "qos_specs") ?? [:]
            if let consumer = items["consumer"], !QoSSpecs.consumers.contains(consumer) {
                throw BlockStorageFault.invalidInput("Invalid QoS consumer \(consumer): use front-end, back-end or both.")
            }
            _ = try await edit(call) { q in
                for (key, value) in items {
                    if key == "consumer" { q.consumer = value } else { q.specs[key] = value }
                }
            }
            return .json(.ok, ["qos_specs": Views.strings(items)])
        }
        r.put("/v3/qos-specs/:qos_id/delete_keys", rule: rule) { call in
            guard let keys = try await call.body()["keys"]?.array.map({ $0.stringValue }), !keys.isEmpty, keys.allSatisfy({ $0 != nil }) else {
                throw BlockStorageFault.invalidInput("'keys' must be a list of names.")
            }
            _ = try await edit(call) { q in
                for case let key? in keys {
                    guard q.specs.removeValue(forKey: key) != nil else { throw APIError.notFound("QoS spec \(key) not found in QoS specs \(q.id).") }
                }
            }
            return .empty(.accepted)
        }
        r.delete("/v3/qos-specs/:qos_id", rule: rule) { call in
            let qos = try await find(call)
            let force = ["1", "true", "True"].contains(call.query("force") ?? "")
            try await store.db.transaction { db in
                let associated = try await store.types(in: db).filter { $0.qosSpecsID == qos.id }
                guard associated.isEmpty || force else { throw BlockStorageFault.invalidInput("QoS Specs \(qos.id) is still associated with entities.") }
                for var type in associated {
                    type.qosSpecsID = nil
                    try await store.save(type, in: db)
                }
                try await store.deleteQoSSpecs(qos.id, in: db)
            }
            return .empty(.accepted)
        }
        r.get("/v3/qos-specs/:qos_id/associations", rule: rule) { call in
            let qos = try await find(call)
            let types = try await store.db.read { try await store.types(in: $0) }.filter { $0.qosSpecsID == qos.id }
            return .json(.ok, ["qos_associations": .array(types.map { ["association_type": "volume_type", "name": .string($0.name), "id": .string($0.id)] })])
        }
        r.get("/v3/qos-specs/:qos_id/associate", rule: rule) { call in
            try await associate(call, on: true)
            return .empty(.accepted)
        }
        r.get("/v3/qos-specs/:qos_id/disassociate", rule: rule) { call in
            try await associate(call, on: false)
            return .empty(.accepted)
        }
        r.get("/v3/qos-specs/:qos_id/disassociate_all", rule: rule) { call in
            let qos = try await find(call)
            try await store.db.transaction { db in
                for var type in try await store.types(in: db) where type.qosSpecsID == qos.id {
                    type.qosSpecsID = nil
                    try await store.save(type, in: db)
                }
            }
            return .empty(.accepted)
        }
    }

    private func view(_ q: QoSSpecs) -> JSON {
        ["id": .string(q.id), "name": .string(q.name), "consumer": .string(q.consumer), "specs": Views.strings(q.specs)]
    }

    private func find(_ call: APICall) async throws -> QoSSpecs {
        let id = try call.param("qos_id")
        guard let qos = try await store.db.read({ try await store.qosSpecs(id, in: $0) }) else { throw APIError.notFound("QoS Specs \(id) could not be found.") }
        return qos
    }

    private func edit(_ call: APICall, _ change: @escaping @Sendable (inout QoSSpecs) throws -> Void) async throws -> QoSSpecs {
        let id = try call.param("qos_id")
        return try await store.db.transaction { db in
            guard var qos = try await store.qosSpecs(id, in: db) else { throw APIError.notFound("QoS Specs \(id) could not be found.") }
            try change(&qos)
            try await store.save(qos, in: db)
            return qos
        }
    }

    private func associate(_ call: APICall, on: Bool) async throws {
        let qos = try await find(call)
        guard let typeID = call.query("vol_type_id"), !typeID.isEmpty else { throw BlockStorageFault.invalidInput("'vol_type_id' is required.") }
        try await store.db.transaction { db in
            guard var type = try await store.type(typeID, in: db) else { throw BlockStorageFault.typeNotFound(typeID) }
            if on {
                if let other = type.qosSpecsID, other != qos.id {
                    throw BlockStorageFault.invalidInput("Volume type \(typeID) is already associated with QoS specs \(other).")
                }
                type.qosSpecsID = qos.id
            } else if type.qosSpecsID == qos.id {
                type.qosSpecsID = nil
            }
            try await store.save(type, in: db)
        }
    }
}
