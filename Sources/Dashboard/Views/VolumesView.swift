import Foundation
import MartletCore

/// Volumes, their snapshots and backups: create, attach and detach, extend, snapshot, back up, upload to an image, delete.
enum VolumesView {
    static func addRoutes(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in "/dashboard/project/volumes/" }
        routes.page("project/volumes") { visit in
            let base = "/volume/v3"
            async let volumes = visit.get(base + "/volumes/detail")
            async let snapshots = visit.get(base + "/snapshots/detail")
            async let backups = visit.get(base + "/backups/detail")
            async let servers = visit.get("/compute/v2.1/servers")
            async let images = visit.get("/image/v2/images?limit=1000&status=active")
            let serverList = try await servers["servers"]?.array ?? []
            let serverNames = Components.names(serverList)
            let serverOptions = Components.options(serverList)
            let table = Components.table(try await volumes["volumes"]?.array ?? [], [
                .init("Name") { "\($0["name"]?.stringValue ?? $0["id"]?.stringValue)" }, .init("Size (GB)", key: "size"),
                .init("Status") { Components.status($0["status"]?.stringValue) },
                .init("Attached To") { volume in
                    "\(volume["attachments"]?.array.compactMap { $0["server_id"]?.stringValue.map { serverNames[$0] ?? $0 } }.joined(separator: ", "))"
                },
                .init("Bootable", key: "bootable"),
                .init("Actions") { volume in actions(visit, volume, serverOptions: serverOptions) },
            ], empty: "No volumes.", id: "volumes")
            let snapshotTable = Components.table(try await snapshots["snapshots"]?.array ?? [], [
                .init("Name", key: "name"), .init("Size (GB)", key: "size"), .init("Volume", key: "volume_id"),
                .init("Status") { Components.status($0["status"]?.stringValue) },
                .init("Actions") { Components.button(visit, action: "/dashboard/project/volumes/snapshots/delete/", "Delete", fields: [("id", $0["id"]?.stringValue ?? "")]) },
            ], empty: "No snapshots.", id: "snapshots")
            let backupTable = Components.table((try? await backups)?["backups"]?.array ?? [], [
                .init("Name", key: "name"), .init("Size (GB)", key: "size"), .init("Volume", key: "volume_id"),
                .init("Status") { Components.status($0["status"]?.stringValue) },
            ], empty: "No backups.", id: "backups")
            let imageOptions = Components.options(try await images["images"]?.array ?? [], none: "(an empty volume)")
            return visit.page("Volumes", table + "<h2>Create Volume</h2>" + Components.form(visit, action: "/dashboard/project/volumes/create/", [
                .init(name: "name", label: "Volume Name", kind: .text, required: true),
                .init(name: "size", label: "Size (GiB)", kind: .number, required: true, value: "1"),
                .init(name: "image", label: "Volume Source", kind: .select(imageOptions)),
            ], submit: "Create Volume", id: "volume") + "<h2>Volume Snapshots</h2>" + snapshotTable + "<h2>Volume Backups</h2>" + backupTable)
        }
        routes.action("project/volumes/create", back: back) { visit, form in
            guard let size = Int(form.get("size") ?? ""), size > 0 else { throw DashboardError.badForm("The size is a whole number of GiB, at least 1.") }
            var volume: [String: JSON] = ["name": .string(form.get("name") ?? ""), "size": .int(Int64(size))]
            if let image = form.get("image"), !image.isEmpty { volume["imageRef"] = .string(image) }
            try await visit.send(.post, "/volume/v3/volumes", ["volume": .object(volume)])
            return "Creating volume \(form.get("name") ?? "")."
        }
        routes.action("project/volumes/act", back: back) { visit, form in
            let id = Components.segment(form.get("id") ?? "")
            let volume = "/volume/v3/volumes/\(id)"
            switch form.get("do") ?? "" {
            case "delete":
                try await visit.send(.delete, volume)
                return "Deleting the volume."
            case "attach":
                let server = Components.segment(form.get("server") ?? "")
                try await visit.send(.post, "/compute/v2.1/servers/\(server)/os-volume_attachments", ["volumeAttachment": ["volumeId": .string(form.get("id") ?? "")]])
                return "Attaching the volume."
            case "detach":
                let server = Components.segment(form.get("server") ?? "")
                try await visit.send(.delete, "/compute/v2.1/servers/\(server)/os-volume_attachments/\(id)")
                return "Detaching the volume."
            case "extend":
                guard let size = Int(form.get("size") ?? "") else { throw DashboardError.badForm("The new size is a whole number of GiB.") }
                try await visit.send(.post, volume + "/action", ["os-extend": ["new_size": .int(Int64(size))]])
                return "Extending the volume to \(size) GiB."
            case "snapshot":
                try await visit.send(.post, "/volume/v3/snapshots", ["snapshot": ["volume_id": .string(form.get("id") ?? ""), "name": .string(form.get("name") ?? "")]])
                return "Creating a snapshot."
            case "backup":
                try await visit.send(.post, "/volume/v3/backups", ["backup": ["volume_id": .string(form.get("id") ?? ""), "name": .string(form.get("name") ?? "")]])
                return "Creating a backup."
            case "upload":
                try await visit.send(.post, volume + "/action", ["os-volume_upload_image": ["image_name": .string(form.get("name") ?? ""), "disk_format": "qcow2"]])
                return "Uploading the volume to image \(form.get("name") ?? "")."
            default:
                throw DashboardError.badForm("Unknown action.")
            }
        }
        routes.action("project/volumes/snapshots/delete", back: back) { visit, form in
            try await visit.send(.delete, "/volume/v3/snapshots/\(Components.segment(form.get("id") ?? ""))")
            return "Deleting the snapshot."
        }
    }

    static func actions(_ visit: Visit, _ volume: JSON, serverOptions: [(value: String, label: String)]) -> HTML {
        let id = volume["id"]?.stringValue ?? ""
        let act = "/dashboard/project/volumes/act/"
        let attachments = volume["attachments"]?.array ?? []
        var parts: [HTML] = attachments.compactMap { attachment in
            attachment["server_id"]?.stringValue.map { Components.button(visit, action: act, "Detach", fields: [("id", id), ("do", "detach"), ("server", $0)]) }
        }
        if attachments.isEmpty, volume["status"] == "available" {
            parts.append(Components.form(visit, action: act, [
                .init(name: "id", label: "", kind: .hidden, value: id),
                .init(name: "do", label: "", kind: .hidden, value: "attach"),
                .init(name: "server", label: "Attach To Instance", kind: .select(serverOptions)),
            ], submit: "Attach", id: "attach-\(id)"))
        }
        parts.append(Components.form(visit, action: act, [
            .init(name: "id", label: "", kind: .hidden, value: id),
            .init(name: "do", label: "Action", kind: .select([("snapshot", "Create Snapshot"), ("backup", "Create Backup"), ("upload", "Upload to Image"), ("extend", "Extend to size")])),
            .init(name: "name", label: "Name", kind: .text), .init(name: "size", label: "New size (GiB, for Extend)", kind: .number),
        ], submit: "Go", id: "more-\(id)"))
        parts.append(Components.button(visit, action: act, "Delete", confirm: "Delete this volume?", fields: [("id", id), ("do", "delete")]))
        return HTML.join(parts)
    }
}
