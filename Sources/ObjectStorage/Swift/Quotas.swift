import Foundation
import MartletCore

/// Container quotas (`X-Container-Meta-Quota-Bytes`, `-Count`) and the account's
/// (`X-Account-Meta-Quota-Bytes`, `X-Account-Quota-Count`, set by a reseller admin).
struct Quotas {
    let catalog: ObjectCatalog
    static let exceeded = APIError(.contentTooLarge, "Upload exceeds quota.")

    /// Bytes the upload may still take, or nil for no limit; 413 when even `adding` is too many.
    func bytesLeft(_ account: String, _ container: ContainerRecord, adding: Int64?) async throws -> Int64? {
        var left: Int64?
        if let quota = container.meta["x-container-meta-quota-bytes"].flatMap(Int64.init) {
            left = quota - container.bytesUsed
        }
        if let countQuota = container.meta["x-container-meta-quota-count"].flatMap(Int64.init), container.objectCount >= countQuota {
            throw Self.exceeded
        }
        if let accountMeta = try await catalog.account(account)?.meta {
            let quota = accountMeta["x-account-meta-quota-bytes"].flatMap(Int64.init)
            let countQuota = accountMeta["x-account-quota-count"].flatMap(Int64.init)
            if quota != nil || countQuota != nil {
                let usage = try await catalog.usage(account)
                if let quota { left = min(left ?? .max, quota - usage.bytes) }
                if let countQuota, usage.objects >= countQuota { throw Self.exceeded }
            }
        }
        if let left, left < (adding ?? 0) || left < 0 { throw Self.exceeded }
        return left
    }

    /// Inside the commit: a new name must still fit the container's count quota.
    static func checkCount(_ container: ContainerRecord, replacing old: ObjectRecord?) throws {
        guard old == nil, let quota = container.meta["x-container-meta-quota-count"].flatMap(Int64.init) else { return }
        if container.objectCount >= quota { throw exceeded }
    }
}
