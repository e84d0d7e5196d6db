import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Images: the list, upload from the browser (streamed through to the image service), share, delete.
enum ImagesView {
    static func addRoutes(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in "/dashboard/project/images/" }
        routes.page("project/images") { visit in
            let images = try await visit.get("/image/v2/images?limit=1000")["images"]?.array ?? []
            let table = Components.table(images, [
                .init("Name") { image in
                    let id = image["id"]?.stringValue ?? ""
                    return image["owner"]?.stringValue == visit.projectID
                        ? Components.link("/dashboard/project/images/\(Components.segment(id))/", image["name"]?.stringValue ?? id) : "\(image["name"]?.stringValue ?? id)"
                },
                .init("Status") { Components.status($0["status"]?.stringValue) },
                .init("Visibility", key: "visibility"), .init("Disk Format", key: "disk_format"),
                .init("Size") { "\(Components.text($0["size"])) bytes" },
                .init("Actions") { image in
                    guard image["owner"]?.stringValue == visit.projectID, let id = image["id"]?.stringValue else { return "" }
                    return Components.form(visit, action: "/dashboard/project/images/share/", [
                        .init(name: "id", label: "", kind: .hidden, value: id),
                        .init(name: "project", label: "Share with project (ID)", kind: .text),
                    ], submit: "Share", id: "share-\(id)")
                        + Components.button(visit, action: "/dashboard/project/images/delete/", "Delete", confirm: "Delete this image?", fields: [("id", id)])
                },
            ], empty: "No images.", id: "images")
            return visit.page("Images", table + """
                <h2>Create Image</h2>
                <form class="panel" data-upload="/dashboard/project/images/upload/" id="image-upload">\(visit.csrfInput)
                <div class="field"><label for="image-name">Image Name</label><input id="image-name" name="name" required></div>
                <div class="field"><label for="image-file">Image File</label><input id="image-file" type="file" required></div>
                <div class="field"><label for="image-format">Format</label><select id="image-format" name="disk_format">
                <option value="qcow2">QCOW2</option><option value="raw">Raw</option><option value="iso">ISO</option><option value="vmdk">VMDK</option><option value="vdi">VDI</option></select></div>
                <progress value="0" max="1"></progress> <span role="status"></span>
                <button type="submit">Create Image</button></form>
                """)
        }
        routes.script(.put, "project/images/upload/:name") { visit, request in
            let name = visit.context.parameters.get("name")?.removingPercentEncoding ?? "image"
            let format = request.formQuery.get("disk_format") ?? "qcow2"
            let created = try await visit.send(.post, "/image/v2/images", ["name": .string(name), "disk_format": .string(format), "container_format": "bare"])
            guard let id = created["id"]?.stringValue else { throw DashboardError.api(status: 502, message: "The image service gave no image ID.") }
            do {
                var headers: HTTPFields = [.contentType: "application/octet-stream"]
                if let length = request.headers[.contentLength] { headers[.contentLength] = length }
                _ = try await visit.stream(.put, "/image/v2/images/\(id)/file", body: request.body, headers: headers)
            } catch {
                // No image left behind without its data.
                _ = try? await visit.send(.delete, "/image/v2/images/\(id)")
                throw error
            }
            return .json(.created, ["id": .string(id)])
        }
        routes.action("project/images/share", back: back) { visit, form in
            let id = Components.segment(form.get("id") ?? "")
            try await visit.send(.patch, "/image/v2/images/\(id)", [["op": "replace", "path": "/visibility", "value": "shared"]],
                                 headers: [.contentType: "application/openstack-images-v2.1-json-patch"])
            try await visit.send(.post, "/image/v2/images/\(id)/members", ["member": .string(form.get("project") ?? "")])
            return "Shared the image."
        }
        routes.page("project/images/:id") { visit in
            let id = visit.context.parameters.get("id") ?? ""
            let image = try await visit.get("/image/v2/images/\(Components.segment(id))")
            let visibilities = ["private", "shared", "community", "public"].map { (value: $0, label: $0.capitalized) }
            return visit.page("Edit Image \(image["name"]?.stringValue ?? id)", "<p>ID: \(id)</p>" + Components.form(visit, action: "/dashboard/project/images/update/", [
                .init(name: "id", label: "", kind: .hidden, value: id),
                .init(name: "name", label: "Image Name", kind: .text, required: true, value: image["name"]?.stringValue ?? ""),
                .init(name: "visibility", label: "Visibility", kind: .select(visibilities), value: image["visibility"]?.stringValue ?? "private"),
                .init(name: "protected", label: "Protected", kind: .checkbox, value: image["protected"] == .bool(true) ? "1" : ""),
                .init(name: "min_disk", label: "Minimum Disk (GB)", kind: .number, value: Components.text(image["min_disk"] ?? 0)),
                .init(name: "min_ram", label: "Minimum RAM (MB)", kind: .number, value: Components.text(image["min_ram"] ?? 0)),
            ], submit: "Save", id: "edit"))
        }
        routes.action("project/images/update", back: back) { visit, form in
            guard let minDisk = Int64(form.get("min_disk") ?? "0"), let minRAM = Int64(form.get("min_ram") ?? "0") else {
                throw DashboardError.badForm("The minimum disk and RAM are whole numbers.")
            }
            let changes: [JSON] = [
                ["op": "replace", "path": "/name", "value": .string(form.get("name") ?? "")],
                ["op": "replace", "path": "/visibility", "value": .string(form.get("visibility") ?? "private")],
                ["op": "replace", "path": "/protected", "value": .bool(form.get("protected") == "1")],
                ["op": "replace", "path": "/min_disk", "value": .int(minDisk)],
                ["op": "replace", "path": "/min_ram", "value": .int(minRAM)],
            ]
            try await visit.send(.patch, "/image/v2/images/\(Components.segment(form.get("id") ?? ""))", .array(changes),
                                 headers: [.contentType: "application/openstack-images-v2.1-json-patch"])
            return "Saved the image."
        }
        routes.action("project/images/delete", back: back) { visit, form in
            try await visit.send(.delete, "/image/v2/images/\(Components.segment(form.get("id") ?? ""))")
            return "Deleted the image."
        }
    }
}
