import Hummingbird
import MartletCore

/// Neutron's fault body: `{"NeutronError": {"type", "message", "detail"}}`.
public struct NeutronFaults: JSONFaultFormat {
    public init() {}

    public func render(_ error: APIError) -> JSON {
        ["NeutronError": ["type": .string(error.type ?? Self.defaultType(error.status)), "message": .string(error.message), "detail": ""]]
    }

    static func defaultType(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: return "HTTPBadRequest"
        case 401: return "HTTPUnauthorized"
        // Neutron's 403s are policy refusals, the route's own rule included.
        case 403: return "PolicyNotAuthorized"
        case 404: return "HTTPNotFound"
        case 405: return "HTTPMethodNotAllowed"
        case 409: return "HTTPConflict"
        case 412: return "HTTPPreconditionFailed"
        case 413: return "HTTPRequestEntityTooLarge"
        default: return "HTTPInternalServerError"
        }
    }
}

/// The failures the Network service names, with Neutron's types and messages.
enum NetFault {
    static func badRequest(_ message: String, type: String = "HTTPBadRequest") -> APIError {
        APIError(.badRequest, message, type: type)
    }

    /// `Invalid input for <attribute>. Reason: <why>.`
    static func invalid(_ attribute: String, _ why: String) -> APIError {
        APIError(.badRequest, "Invalid input for \(attribute). Reason: \(why)", type: "HTTPBadRequest")
    }

    static func notFound(_ table: ResourceTable, _ id: String) -> APIError {
        let name = displayName(table)
        // The metering plugin words its 404s its own way.
        if table.member.hasPrefix("metering_") {
            return APIError(.notFound, "\(name) '\(id)' does not exist.", type: typeName(table) + "NotFound")
        }
        return APIError(.notFound, "\(name) \(id) could not be found.", type: typeName(table) + "NotFound")
    }

    static func conflict(_ message: String, type: String) -> APIError { APIError(.conflict, message, type: type) }

    static func policy(_ rule: String) -> APIError {
        APIError(.forbidden, "(\(rule)) is disallowed by policy", type: "PolicyNotAuthorized")
    }

    static func inUse(_ table: ResourceTable, _ id: String, _ why: String) -> APIError {
        APIError(.conflict, "Unable to complete operation on \(table.member.replacingOccurrences(of: "_", with: " ")) \(id): \(why)",
                 type: typeName(table) + "InUse")
    }

    static func overQuota(_ resource: String) -> APIError {
        APIError(.conflict, "Quota exceeded for resources: ['\(resource)'].", type: "OverQuota")
    }

    static func typeName(_ table: ResourceTable) -> String {
        switch table.member {
        case "floatingip": return "FloatingIP"
        case "subnetpool": return "SubnetPool"
        default: return table.member.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        }
    }

    static func displayName(_ table: ResourceTable) -> String {
        switch table.member {
        case "floatingip": return "Floating IP"
        case "subnetpool": return "Subnet pool"
        case "security_group": return "Security group"
        case "security_group_rule": return "Security group rule"
        case "port_forwarding": return "Port forwarding"
        case "address_scope": return "Address scope"
        case "metering_label": return "Metering label"
        case "metering_label_rule": return "Metering label rule"
        default: return table.member.prefix(1).uppercased() + table.member.dropFirst()
        }
    }
}
