import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// A listing rendered as Swift renders it: JSON, XML or one name per line.
enum ListingFormat {
    case json, xml, plain

    /// `format=` wins; otherwise the `Accept` header; plain text by default.
    init(_ request: Request) throws {
        if let format = request.formQuery.get("format")?.lowercased() {
            switch format {
            case "json": self = .json
            case "xml": self = .xml
            case "plain", "txt", "text": self = .plain
            default: throw APIError.badRequest("Invalid format \(format)")
            }
            return
        }
        let accept = request.headers[.accept]?.lowercased() ?? ""
        if accept.contains("application/json") { self = .json }
        else if accept.contains("application/xml") || accept.contains("text/xml") { self = .xml }
        else { self = .plain }
    }

    var contentType: String {
        switch self {
        case .json: return "application/json; charset=utf-8"
        case .xml: return "application/xml; charset=utf-8"
        case .plain: return "text/plain; charset=utf-8"
        }
    }

    func containers(_ items: [Listed<ContainerRecord>], account: String) -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .plain:
            for item in items { out.append(contentsOf: Self.name(item, \.name).utf8); out.append(10) }
        case .json:
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                switch item {
                case .subdir(let s): Self.subdirJSON(s, &out)
                case .row(let c):
                    out.append(contentsOf: #"{"name":"#.utf8)
                    JSON.writeString(c.name, into: &out)
                    out.append(contentsOf: #","count":\#(c.objectCount),"bytes":\#(c.bytesUsed),"last_modified":"\#(c.modified.listingTime)"}"#.utf8)
                }
            }
            out.append(UInt8(ascii: "]"))
        case .xml:
            out.append(contentsOf: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"\(XML.escape(account))\">".utf8)
            for item in items {
                switch item {
                case .subdir(let s): out.append(contentsOf: "<subdir name=\"\(XML.escape(s))\"><name>\(XML.escape(s))</name></subdir>".utf8)
                case .row(let c):
                    out.append(contentsOf: "<container><name>\(XML.escape(c.name))</name><count>\(c.objectCount)</count><bytes>\(c.bytesUsed)</bytes><last_modified>\(c.modified.listingTime)</last_modified></container>".utf8)
                }
            }
            out.append(contentsOf: "</account>".utf8)
        }
        return out
    }

    func objects(_ items: [Listed<ObjectEntry>], container: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(items.count * 160)
        switch self {
        case .plain:
            for item in items { out.append(contentsOf: Self.name(item, \.name).utf8); out.append(10) }
        case .json:
            preconditionFailure("JSON listings are rendered from RenderedEntry rows")
        case .xml:
            out.append(contentsOf: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"\(XML.escape(container))\">".utf8)
            for item in items {
                switch item {
                case .subdir(let s): out.append(contentsOf: "<subdir name=\"\(XML.escape(s))\"><name>\(XML.escape(s))</name></subdir>".utf8)
                case .row(let o):
                    out.append(contentsOf: "<object><name>\(XML.escape(o.name))</name><hash>\(o.etag)</hash><bytes>\(o.size)</bytes><content_type>\(XML.escape(o.contentType))</content_type><last_modified>\(o.modified.listingTime)</last_modified></object>".utf8)
                }
            }
            out.append(contentsOf: "</container>".utf8)
        }
        return out
    }

    private static func name<Row>(_ item: Listed<Row>, _ key: KeyPath<Row, String>) -> String {
        switch item {
        case .subdir(let s): return s
        case .row(let r): return r[keyPath: key]
        }
    }

    /// A JSON container listing: the stored entries joined, subdirs between them.
    static func json(_ items: [Listed<RenderedEntry>]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(items.count * 170 + 2)
        out.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            switch item {
            case .subdir(let s): subdirJSON(s, &out)
            case .row(let entry): out.append(contentsOf: entry.json.utf8)
            }
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    private static func subdirJSON(_ s: String, _ out: inout [UInt8]) {
        out.append(contentsOf: #"{"subdir":"#.utf8)
        JSON.writeString(s, into: &out)
        out.append(UInt8(ascii: "}"))
    }
}

enum XML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
