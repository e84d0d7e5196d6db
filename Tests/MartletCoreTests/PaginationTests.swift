import Foundation
import Testing
@testable import MartletCore

@Suite struct PaginationTests {
    @Test func limitIsOptionalNonNegativeAndCapped() throws {
        #expect(try Pagination.limit(nil, max: 1000) == nil)
        #expect(try Pagination.limit("0", max: 1000) == 0)
        #expect(try Pagination.limit("25", max: 1000) == 25)
        #expect(try Pagination.limit("5000", max: 1000) == 1000)
    }

    @Test(arguments: ["-1", "ten", "", "1.5", " 3", "99999999999999999999"])
    func badLimitIsA400SayingWhatIsExpected(raw: String) {
        #expect {
            try Pagination.limit(raw, max: 1000)
        } throws: { error in
            let e = error as? APIError
            return e?.status == .badRequest && e?.message == "Invalid limit: \(raw); expected a non-negative integer."
        }
    }

    @Test func badLimitUsesTheCallersError() {
        #expect {
            try Pagination.limit("x", max: 10) { APIError(.badRequest, "Limit must be an integer 0 or greater and not '\($0)'", type: "HTTPBadRequest") }
        } throws: { error in
            (error as? APIError)?.message == "Limit must be an integer 0 or greater and not 'x'" && (error as? APIError)?.type == "HTTPBadRequest"
        }
    }

    @Test func afterSkipsThroughTheMarker() throws {
        let ids = ["a", "b", "c", "d"]
        #expect(Array(try Pagination.after(nil, in: ids, id: { $0 }, notFound: { .notFound($0) })) == ids)
        #expect(Array(try Pagination.after("b", in: ids, id: { $0 }, notFound: { .notFound($0) })) == ["c", "d"])
        #expect(Array(try Pagination.after("d", in: ids, id: { $0 }, notFound: { .notFound($0) })).isEmpty)
    }

    @Test func afterMatchesAMarkerAnyWayTheCallerAccepts() throws {
        let rows = [(1, "u-a"), (2, "u-b"), (3, "u-c")]
        func names(_ row: (Int, String), _ marker: String) -> Bool { String(row.0) == marker || row.1 == marker }
        #expect(try Pagination.after("2", in: rows, matching: names, notFound: { .notFound($0) }).map(\.1) == ["u-c"])
        #expect(try Pagination.after("u-a", in: rows, matching: names, notFound: { .notFound($0) }).map(\.1) == ["u-b", "u-c"])
        #expect(try Pagination.after(nil, in: rows, matching: names, notFound: { .notFound($0) }).count == 3)
        #expect(throws: APIError.self) { try Pagination.after("9", in: rows, matching: names, notFound: { .badRequest($0) }) }
    }

    /// Glance and Nova answer an unknown marker with 400, Neutron with 404: the caller decides.
    @Test(arguments: [(400, "Marker z not found."), (404, "Network z could not be found.")])
    func unknownMarkerIsTheCallersError(status: Int, message: String) {
        #expect {
            try Pagination.after("z", in: ["a"], id: { $0 }, notFound: { _ in APIError(.init(code: status), message) })
        } throws: { error in
            (error as? APIError)?.status.code == status && (error as? APIError)?.message == message
        }
    }

    @Test func resolveLooksTheMarkerUp() async throws {
        let rows = ["a": 1, "b": 2]
        #expect(try await Pagination.resolve(nil, notFound: { .badRequest($0) }) { rows[$0] } == nil)
        #expect(try await Pagination.resolve("b", notFound: { .badRequest($0) }) { rows[$0] } == 2)
        await #expect(throws: APIError.self) {
            try await Pagination.resolve("z", notFound: { .badRequest("Marker \($0) not found.") }) { rows[$0] }
        }
    }

    @Test func pageTellsWhetherMoreFollow() {
        let rows = [1, 2, 3, 4]
        #expect(Array(Pagination.page(rows, limit: 3).items) == [1, 2, 3])
        #expect(Pagination.page(rows, limit: 3).hasMore)
        #expect(Array(Pagination.page(rows, limit: 4).items) == rows)
        #expect(!Pagination.page(rows, limit: 4).hasMore)
        #expect(Array(Pagination.page(rows, limit: nil).items) == rows)
        #expect(!Pagination.page(rows, limit: nil).hasMore)
        #expect(Pagination.page(rows, limit: 0).items.isEmpty)
    }

    @Test func hrefKeepsOrderAndEscapes() {
        #expect(Pagination.href("http://h/network/v2.0/ports", [("name", "a b&c"), ("limit", "2"), ("marker", "m/1")])
            == "http://h/network/v2.0/ports?name=a%20b%26c&limit=2&marker=m%2F1")
        let glance = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))
        #expect(Pagination.href("/v2/images", [("limit", "1"), ("sort", "name:asc,id"), ("tag", "a+b=c")], allowed: glance)
            == "/v2/images?limit=1&sort=name:asc,id&tag=a%2Bb%3Dc")
    }

    @Test func linksListNextThenPrevious() {
        #expect(Pagination.links(next: nil) == [])
        #expect(Pagination.links(next: "n") == [["rel": "next", "href": "n"]])
        #expect(Pagination.links(next: nil, previous: "p") == [["rel": "previous", "href": "p"]])
        #expect(Pagination.links(next: "n", previous: "p") == [["rel": "next", "href": "n"], ["rel": "previous", "href": "p"]])
    }
}
