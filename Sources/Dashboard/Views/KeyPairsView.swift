import Foundation
import HTTPTypes
import Hummingbird
import MartletCore
import NIOCore

/// Key pairs: create (the private key downloads once), import, delete.
enum KeyPairsView {
    static func addRoutes(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in "/dashboard/project/key_pairs/" }
        routes.page("project/key_pairs") { visit in
            let keys = try await visit.get("/compute/v2.1/os-keypairs")["keypairs"]?.array.compactMap { $0["keypair"] } ?? []
            let table = Components.table(keys, [
                .init("Name", key: "name"), .init("Fingerprint", key: "fingerprint"),
                .init("Actions") { Components.button(visit, action: "/dashboard/project/key_pairs/delete/", "Delete", confirm: "Delete this key pair?", fields: [("name", $0["name"]?.stringValue ?? "")]) },
            ], empty: "No key pairs.", id: "keypairs")
            return visit.page("Key Pairs", table
                + "<h2>Create Key Pair</h2><p>The private key downloads once and is not kept.</p>"
                + Components.form(visit, action: "/dashboard/project/key_pairs/create/", [.init(name: "name", label: "Key Pair Name", kind: .text, required: true)],
                                  submit: "Create Key Pair", id: "keypair")
                + "<h2>Import Public Key</h2>"
                + Components.form(visit, action: "/dashboard/project/key_pairs/import/", [
                    .init(name: "name", label: "Key Pair Name", kind: .text, required: true),
                    .init(name: "public_key", label: "Public Key", kind: .textarea, required: true),
                ], submit: "Import Public Key", id: "import"))
        }
        // Not an `action`: its answer is the private key as a file, not a page.
        let dashboard = routes.dashboard
        routes.group.post("project/key_pairs/create") { request, context in
            guard let visit = dashboard.visit(request, context) else { return Routes.toLogin(request) }
            guard let form = try? await visit.form() else { return visit.errorPage(status: 403, message: "The form expired; reload the page and try again.") }
            let name = form.get("name") ?? ""
            do {
                let created = try await visit.send(.post, "/compute/v2.1/os-keypairs", ["keypair": ["name": .string(name)]])
                let key = created["keypair"]?["private_key"]?.stringValue ?? ""
                let filename = name.filter { $0.isLetter || $0.isNumber || "-_.".contains($0) }
                return Response(status: .ok, headers: [.contentType: "application/x-pem-file", .contentDisposition: "attachment; filename=\"\(filename.isEmpty ? "key" : filename).pem\"",
                                                       .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: key)))
            } catch DashboardError.api(let status, let message) {
                return visit.errorPage(status: status, message: message)
            } catch DashboardError.signedOut {
                return Routes.toLogin(request)
            }
        }
        routes.action("project/key_pairs/import", back: back) { visit, form in
            try await visit.send(.post, "/compute/v2.1/os-keypairs", ["keypair": ["name": .string(form.get("name") ?? ""), "public_key": .string(form.get("public_key") ?? "")]])
            return "Imported key pair \(form.get("name") ?? "")."
        }
        routes.action("project/key_pairs/delete", back: back) { visit, form in
            try await visit.send(.delete, "/compute/v2.1/os-keypairs/\(Components.segment(form.get("name") ?? ""))")
            return "Deleted key pair \(form.get("name") ?? "")."
        }
    }
}
