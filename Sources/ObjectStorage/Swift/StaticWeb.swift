import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Containers as web sites for anonymous readers (or with `X-Web-Mode: true`): the container's
/// `X-Container-Meta-Web-Index` object, or with `Web-Listings: true` an HTML listing (styled by
/// `Web-Listings-CSS`).
struct StaticWeb {
    let service: ObjectStorageService

    func page(_ call: SwiftRequest, _ container: String) async throws -> Response? {
        let webMode = ["true", "1", "yes", "on"].contains(call.header("X-Web-Mode")?.lowercased() ?? "")
        guard call.method == .get, call.access.auth == nil || webMode,
              let record = try await service.catalog.container(call.account, container),
              call.reads || call.access.canRead(acl: record.meta["x-container-read"], listing: false) else { return nil }
        if let index = record.meta["x-container-meta-web-index"],
           let object = try await service.catalog.object(call.account, container, index), !object.isExpired {
            return try await ObjectRoutes(service: service).get(call, container, object.name)
        }
        guard ["true", "1", "yes", "on"].contains(record.meta["x-container-meta-web-listings"]?.lowercased() ?? "") else { return nil }
        var query = ListQuery()
        query.delimiter = "/"
        query.prefix = call.query("prefix") ?? ""
        let items = try await service.catalog.listObjects(call.account, container, query)
        var html = "<!DOCTYPE html>\n<html>\n<head>\n<title>Listing of /\(XML.escape(container))/\(XML.escape(query.prefix))</title>\n"
        if let css = record.meta["x-container-meta-web-listings-css"] {
            html += "<link rel=\"stylesheet\" type=\"text/css\" href=\"\(XML.escape(css))\" />\n"
        }
        html += "</head>\n<body>\n<h1 id=\"title\">Listing of /\(XML.escape(container))/\(XML.escape(query.prefix))</h1>\n<table id=\"listing\">\n"
        for item in items {
            switch item {
            case .subdir(let s): html += "<tr class=\"item subdir\"><td class=\"colname\"><a href=\"?prefix=\(XML.escape(s))\">\(XML.escape(s))</a></td></tr>\n"
            case .row(let o):
                html += "<tr class=\"item\"><td class=\"colname\"><a href=\"\(XML.escape(o.name))\">\(XML.escape(o.name))</a></td><td class=\"colsize\">\(o.size)</td><td class=\"coldate\">\(o.modified.listingTime)</td></tr>\n"
            }
        }
        html += "</table>\n</body>\n</html>\n"
        return Response(status: .ok, headers: [.contentType: "text/html; charset=UTF-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
