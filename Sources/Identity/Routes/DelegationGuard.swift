import Foundation
import MartletCore

extension IdentityService {
    /// The trust of the caller's token when it is trust-scoped (validating it again is a cache hit).
    func callerTrustID(_ call: APICall) async throws -> String? {
        guard let token = call.request.headers[.authToken] else { return nil }
        do {
            return try await tokens.validated(token).payload.trustID
        } catch {
            throw APIError.unauthorized()  // it stopped being valid since the request was let in
        }
    }

    /// Keystone keeps trust-scoped tokens away from credentials: one made with such a token would
    /// outlive the delegation and, under impersonation, stand for the trustor with all of its roles.
    /// (Keystone lets EC2 and other credentials of the token's own project through, binding EC2 ones
    /// to the trust; Martlet does not bind credentials to trusts, so it refuses them all.)
    func refuseTrustScoped(_ call: APICall, what: String = "credentials") async throws {
        if try await callerTrustID(call) != nil {
            throw APIError.forbidden("Cannot manage \(what) with a token issued via delegation.")
        }
    }
}
