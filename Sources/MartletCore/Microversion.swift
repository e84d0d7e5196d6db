import Hummingbird
import HTTPTypes

/// An API microversion such as `2.47`: compared as (major, minor), never as a decimal.
public struct Microversion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && !$0.isEmpty && $0.allSatisfy(\.isNumber) })
        else { return nil }
        self.init(major, minor)
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (a: Microversion, b: Microversion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
}

/// The microversions one service accepts, and how a request names the one it wants.
public struct MicroversionRange: Sendable {
    /// The name in `OpenStack-API-Version: <service> X.Y` (`compute`).
    public let service: String
    public let minimum: Microversion
    public let maximum: Microversion
    /// The service's legacy header (`X-OpenStack-Nova-API-Version`), if it has one.
    public let legacyHeader: String?

    public init(service: String, minimum: Microversion, maximum: Microversion, legacyHeader: String? = nil) {
        self.service = service
        self.minimum = minimum
        self.maximum = maximum
        self.legacyHeader = legacyHeader
    }

    /// The version a request asks for: the minimum when it names none, 406 outside the range.
    public func requested(by request: Request) throws -> Microversion {
        var asked: String?
        for value in request.headers[values: HTTPField.Name("OpenStack-API-Version")!] {
            for item in value.split(separator: ",") {
                let words = item.split(separator: " ", omittingEmptySubsequences: true)
                if words.count == 2, words[0].lowercased() == service { asked = String(words[1]) }
            }
        }
        if asked == nil, let legacy = legacyHeader.flatMap({ HTTPField.Name($0) }) {
            asked = request.headers[legacy]?.trimmingCharacters(in: .whitespaces)
        }
        guard let asked else { return minimum }
        if asked.lowercased() == "latest" { return maximum }
        guard let version = Microversion(asked) else {
            throw APIError.badRequest("Invalid format for API version '\(asked)': use MAJOR.MINOR, e.g. \(minimum).")
        }
        guard version >= minimum && version <= maximum else {
            throw APIError(.notAcceptable, "Version \(version) is not supported by the API. Minimum is \(minimum) and maximum is \(maximum).")
        }
        return version
    }

    /// The headers every answer carries to say which version it speaks.
    public func headers(for version: Microversion) -> HTTPFields {
        var fields: HTTPFields = [HTTPField.Name("OpenStack-API-Version")!: "\(service) \(version)"]
        var vary = "OpenStack-API-Version"
        if let legacy = legacyHeader.flatMap({ HTTPField.Name($0) }) {
            fields[legacy] = version.description
            vary += ", " + legacy.rawName
        }
        fields[.vary] = vary
        return fields
    }
}

/// Reads the requested microversion into the context and states it on every answer, faults included.
public struct MicroversionMiddleware: RouterMiddleware {
    public typealias Context = MartletContext
    let range: MicroversionRange

    public init(_ range: MicroversionRange) { self.range = range }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let version: Microversion
        do { version = try range.requested(by: request) } catch {
            var fault = APIError.from(error)
            fault.headers.append(contentsOf: range.headers(for: range.minimum))
            throw fault
        }
        context.microversion = version
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: range.headers(for: version))
            return response
        } catch var fault as APIError {
            fault.headers.append(contentsOf: range.headers(for: version))
            throw fault
        }
    }
}
