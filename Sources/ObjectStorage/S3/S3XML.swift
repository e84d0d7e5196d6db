import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// An S3 failure: the status, S3's error code and a message, rendered as S3's XML error.
struct S3Error: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var resource: String?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, resource: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.resource = resource
    }

    static func noSuchBucket(_ bucket: String) -> S3Error { .init(.notFound, "NoSuchBucket", "The specified bucket does not exist.", resource: bucket) }
    static func noSuchKey(_ key: String) -> S3Error { .init(.notFound, "NoSuchKey", "The specified key does not exist.", resource: key) }
    static func noSuchUpload(_ id: String) -> S3Error {
        .init(.notFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", resource: id)
    }
    static let accessDenied = S3Error(.forbidden, "AccessDenied", "Access Denied")
    static let malformedXML = S3Error(.badRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
    static func invalidArgument(_ message: String) -> S3Error { .init(.badRequest, "InvalidArgument", message) }

    /// A Swift-side refusal in S3's words.
    static func from(_ error: APIError) -> S3Error {
        switch error.status.code {
        case 400: return .init(.badRequest, "InvalidArgument", error.message)
        case 401, 403: return accessDenied
        case 404: return .init(.notFound, "NoSuchKey", error.message)
        case 409: return .init(.conflict, "OperationAborted", error.message)
        case 411: return .init(.lengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        case 412: return .init(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        case 413: return .init(.contentTooLarge, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
        case 416: return .init(.rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
        case 422: return .init(.badRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        case 501: return .init(.notImplemented, "NotImplemented", error.message)
        default: return .init(.internalServerError, "InternalError", "We encountered an internal error. Please try again.")
        }
    }

    func response(requestID: String, head: Bool) -> Response {
        var headers: HTTPFields = [.contentType: "application/xml", HTTPField.Name("x-amz-request-id")!: requestID]
        if head { return Response(status: status, headers: headers) }
        var xml = XMLWriter()
        xml.open("Error")
        xml.element("Code", code)
        xml.element("Message", message)
        if let resource { xml.element("Resource", resource) }
        xml.element("RequestId", requestID)
        xml.close("Error")
        headers[.contentType] = "application/xml"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: xml.text)))
    }
}

/// Builds S3's XML documents.
struct XMLWriter {
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
    private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

    mutating func open(_ name: String, namespace: Bool = false) {
        text += namespace ? "<\(name) xmlns=\"\(Self.namespace)\">" : "<\(name)>"
    }
    mutating func close(_ name: String) { text += "</\(name)>" }
    mutating func element(_ name: String, _ value: String) { text += "<\(name)>\(XML.escape(value))</\(name)>" }
    mutating func element(_ name: String, _ value: some BinaryInteger) { text += "<\(name)>\(value)</\(name)>" }

    func response(_ status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/xml"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Reads the few small XML documents S3 clients send (a part list, a list of keys): the text of
/// elements by name, with entities decoded. Enough for flat documents, and nothing more.
enum XMLReader {
    /// The inner text of every `<name>…</name>` in `text`, in order.
    static func elements(_ name: String, in text: Substring) -> [Substring] {
        var found: [Substring] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(name)>") ?? rest.range(of: "<\(name) ") {
            var contentStart = open.upperBound
            if text[open].hasSuffix(" ") {
                guard let end = rest[open.upperBound...].firstIndex(of: ">") else { break }
                contentStart = rest.index(after: end)
            }
            guard let close = rest[contentStart...].range(of: "</\(name)>") else { break }
            found.append(rest[contentStart..<close.lowerBound])
            rest = rest[close.upperBound...]
        }
        return found
    }

    static func value(_ name: String, in text: Substring) -> String? {
        elements(name, in: text).first.map { decode(String($0)) }
    }

    static func decode(_ text: String) -> String {
        guard text.contains("&") || text.contains("<![CDATA[") else { return text }
        if text.hasPrefix("<![CDATA["), text.hasSuffix("]]>") { return String(text.dropFirst(9).dropLast(3)) }
        var out = "", i = text.startIndex
        while i < text.endIndex {
            if text[i] == "&", let semi = text[i...].firstIndex(of: ";") {
                let entity = text[text.index(after: i)..<semi]
                var replacement: String?
                switch entity {
                case "amp": replacement = "&"
                case "lt": replacement = "<"
                case "gt": replacement = ">"
                case "quot": replacement = "\""
                case "apos": replacement = "'"
                default:
                    if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16), let s = Unicode.Scalar(v) { replacement = String(s) }
                    else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()), let s = Unicode.Scalar(v) { replacement = String(s) }
                }
                if let replacement { out += replacement; i = text.index(after: semi); continue }
            }
            out.append(text[i])
            i = text.index(after: i)
        }
        return out
    }
}
