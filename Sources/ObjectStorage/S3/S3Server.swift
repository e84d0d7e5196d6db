import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// The S3 listener: buckets are containers and keys are objects of the caller's account.
struct S3Server {
    let service: ObjectStorageService

    func router() -> Router<MartletContext> {
        let router = Router(context: MartletContext.self)
        return router
    }
}
