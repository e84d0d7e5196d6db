import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// The object store: containers (create, make public, delete), folders by prefix, and objects
/// uploaded and downloaded as streams through the dashboard.
enum ObjectStoreView {
    static let root = "/dashboard/project/containers/"

    static func addRoutes(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in root }
        routes.page("project/containers") { visit in
            let containers = try await visit.get(account(visit) + "?format=json")
            let table = Components.table(containers.array, [
                .init("Container") { Components.link(root + Components.segment($0["name"]?.stringValue ?? "") + "/", $0["name"]?.stringValue ?? "") },
                .init("Objects", key: "count"), .init("Bytes", key: "bytes"),
                .init("Actions") { container in
                    let name = container["name"]?.stringValue ?? ""
                    return Components.button(visit, action: root + "public/", "Make Public", fields: [("container", name), ("public", "1")])
                        + Components.button(visit, action: root + "public/", "Make Private", fields: [("container", name), ("public", "")])
                        + Components.button(visit, action: root + "delete/", "Delete", confirm: "Delete this container? It must be empty.", fields: [("container", name)])
                },
            ], empty: "No containers.", id: "containers")
            return visit.page("Containers", table + "<h2>Create Container</h2>" + Components.form(visit, action: root + "create/", [
                .init(name: "container", label: "Container Name", kind: .text, required: true),
                .init(name: "public", label: "Public (anyone may read and list it)", kind: .checkbox),
            ], submit: "Create Container", id: "container"))
        }
        routes.action("project/containers/create", back: back) { visit, form in
            let name = try containerName(form)
            try await visit.send(.put, account(visit) + "/" + Components.segment(name), headers: readACL(public: form.get("public") == "1"))
            return "Created container \(name)."
        }
        routes.action("project/containers/public", back: back) { visit, form in
            let name = try containerName(form)
            let isPublic = form.get("public") == "1"
            try await visit.send(.post, account(visit) + "/" + Components.segment(name), headers: readACL(public: isPublic))
            return isPublic ? "Container \(name) is public." : "Container \(name) is private."
        }
        routes.action("project/containers/delete", back: back) { visit, form in
            let name = try containerName(form)
            try await visit.send(.delete, account(visit) + "/" + Components.segment(name))
            return "Deleted container \(name)."
        }
        routes.page("project/containers/:container") { visit in
            let container = visit.context.parameters.get("container")?.removingPercentEncoding ?? ""
            let prefix = visit.request.formQuery.get("prefix") ?? ""
            let encodedPrefix = prefix.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let listing = try await visit.get(account(visit) + "/" + Components.segment(container) + "?format=json&delimiter=/&prefix=" + encodedPrefix)
            let here = root + Components.segment(container) + "/"
            let table = Components.table(listing.array, [
                .init("Name") { item in
                    if let folder = item["subdir"]?.stringValue {
                        return Components.link(here + "?prefix=" + (folder.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""), "📁 " + String(folder.dropFirst(prefix.count)))
                    }
                    let name = item["name"]?.stringValue ?? ""
                    return Components.link(here + "object/" + objectPath(name), String(name.dropFirst(prefix.count)))
                },
                .init("Size") { "\($0["bytes"].map { Components.text($0) + " bytes" } ?? "folder")" },
                .init("Modified", key: "last_modified"),
                .init("Actions") { item in
                    guard let name = item["name"]?.stringValue else { return "" }
                    return Components.button(visit, action: here + "delete/", "Delete", confirm: "Delete \(name)?", fields: [("object", name), ("prefix", prefix)])
                },
            ], empty: "This folder is empty.", id: "objects")
            let up: HTML = prefix.isEmpty ? "" : "<p>In folder <strong>\(prefix)</strong> · \(Components.link(here, "back to the top"))</p>"
            return visit.page("Container \(container)", up + table + """
                <h2>Upload Object</h2>
                <form class="panel" data-upload="\(here)object/" id="object-upload">\(visit.csrfInput)<input type="hidden" name="prefix" value="\(prefix)">
                <div class="field"><label for="object-file">File</label><input id="object-file" type="file" required></div>
                <div class="field"><label for="object-name">Object Name</label><input id="object-name" name="name"><small>Empty: the file's name. A name with slashes makes folders.</small></div>
                <progress value="0" max="1"></progress> <span role="status"></span>
                <button type="submit">Upload</button></form>
                """)
        }
        routes.action("project/containers/:container/delete", back: { visit in
            root + Components.segment(visit.context.parameters.get("container")?.removingPercentEncoding ?? "") + "/"
        }) { visit, form in
            let container = visit.context.parameters.get("container")?.removingPercentEncoding ?? ""
            try await visit.send(.delete, account(visit) + "/" + Components.segment(container) + "/" + objectPath(form.get("object") ?? ""))
            return "Deleted \(form.get("object") ?? "")."
        }
        // Download and upload stream straight between the browser and the object store.
        routes.script(.get, "project/containers/:container/object/**") { visit, request in
            let (container, object) = try target(visit, request)
            let answer = try await visit.stream(.get, account(visit) + "/" + Components.segment(container) + "/" + objectPath(object), body: nil, headers: [.accept: "*/*"])
            var headers = Layout.securityHeaders
            for name in [HTTPField.Name.contentLength, .contentType, .eTag, .lastModified] { headers[name] = answer.headers[name] }
            let filename = (object.split(separator: "/").last.map(String.init) ?? "download").filter { $0 != "\"" && $0 != "\\" && !$0.isNewline }
            headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
            return Response(status: .ok, headers: headers, body: answer.body)
        }
        routes.script(.put, "project/containers/:container/object/**") { visit, request in
            let (container, object) = try target(visit, request)
            var headers: HTTPFields = [.contentType: request.headers[.contentType] ?? "application/octet-stream"]
            if let length = request.headers[.contentLength] { headers[.contentLength] = length }
            _ = try await visit.stream(.put, account(visit) + "/" + Components.segment(container) + "/" + objectPath(object), body: request.body, headers: headers)
            return .json(.created, ["object": .string(object)])
        }
    }

    static func account(_ visit: Visit) -> String { "/object-store/v1/AUTH_\(visit.projectID)" }

    static func readACL(public isPublic: Bool) -> HTTPFields {
        [HTTPField.Name("X-Container-Read")!: isPublic ? ".r:*,.rlistings" : ""]
    }

    static func containerName(_ form: FormQuery) throws -> String {
        guard let name = form.get("container"), !name.isEmpty, !name.contains("/") else { throw DashboardError.badForm("A container name is not empty and has no slash.") }
        return name
    }

    /// An object's name as a path: each part percent-encoded, the slashes kept.
    static func objectPath(_ name: String) -> String { name.split(separator: "/", omittingEmptySubsequences: false).map { Components.segment(String($0)) }.joined(separator: "/") }

    /// The container and object named by `…/containers/<container>/object/<object>`.
    static func target(_ visit: Visit, _ request: Request) throws -> (String, String) {
        let container = visit.context.parameters.get("container")?.removingPercentEncoding ?? ""
        let marker = "/object/"
        let path = request.uri.path
        guard let range = path.range(of: root + Components.segment(container) + marker) ?? path.range(of: marker) else { throw DashboardError.badForm("No object named.") }
        let object = String(path[range.upperBound...]).removingPercentEncoding ?? ""
        guard !object.isEmpty else { throw DashboardError.badForm("No object named.") }
        return (container, object)
    }
}
