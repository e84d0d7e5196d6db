import Foundation
import Testing
@testable import MartletCore

@Suite struct TimestampTests {
    /// Foundation's ISO 8601 formatting, which the computed form must match.
    static func reference(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false)
            .timeSeparator(.colon).timeZone(separator: .omitted))
    }

    @Test func isoMatchesFoundationAcrossCenturiesAndLeapDays() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Double] = [0, -1, 951_782_400, 951_868_799.999, 4_107_542_400, -2_208_988_800.5, 1_700_000_000.25]
        for _ in 0..<5_000 { samples.append(Double.random(in: -5_000_000_000...10_000_000_000, using: &generator)) }
        for t in samples {
            let date = Date(timeIntervalSince1970: t)
            #expect(Timestamp.iso(date) == Self.reference(date), "at \(t)")
        }
    }

    /// The computed parser against Foundation's formatter, both ways: every time `iso` prints reads
    /// back to itself, and what is not a real time (a 30th of February, hour 24) is refused.
    @Test func parseReadsWhatIsoPrintsAndRefusesWhatIsNoTime() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, -1, 951_782_400, 951_868_799, 4_107_542_400, -2_208_988_800, 1_700_000_000]
        for _ in 0..<5_000 { samples.append(Int64.random(in: -5_000_000_000...10_000_000_000, using: &generator)) }
        for t in samples {
            let date = Date(timeIntervalSince1970: Double(t))
            #expect(Timestamp.parse(Timestamp.iso(date)) == date, "at \(t)")
            #expect(Timestamp.parse(Self.reference(date)) == date, "at \(t)")
        }
        #expect(Timestamp.parse("2026-11-22T21:17:44.250000+00:00") == Date(timeIntervalSince1970: 1_795_382_264.25))
        #expect(Timestamp.parse("2026-11-22T21:17") == Date(timeIntervalSince1970: 1_795_382_220))
        #expect(Timestamp.parse("2024-02-29T00:00:00") != nil)
        for bad in ["2026-02-29T00:00:00", "2100-02-29T00:00:00", "2026-04-31T00:00:00", "2026-13-01T00:00:00", "2026-00-10T00:00:00",
                    "2026-11-22T24:00:00", "2026-11-22T23:60:00", "2026-11-22T23:59:60", "2026-11-22 21:17:44", "2026-11-2T21:17:44",
                    "2026-11-22T21:17:4x", "+026-11-22T21:17:44", "2026-11-22T21:17:44+02:00", "", "yesterday"] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func microsecondsRoundAndPad() {
        #expect(Timestamp.microseconds(Date(timeIntervalSince1970: 1_795_000_000)) == "2026-11-18T11:06:40.000000Z")
        #expect(Timestamp.microseconds(Date(timeIntervalSince1970: 1_795_000_000.9999996), zone: false) == "2026-11-18T11:06:41.000000")
        #expect(Timestamp.microseconds(Date(timeIntervalSince1970: 1_795_000_000.012345)) == "2026-11-18T11:06:40.012345Z")
        #expect(Timestamp.microseconds(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500000Z")
    }

    @Test func hexDigits() {
        #expect(([0x00, 0x0f, 0xa5, 0xff] as [UInt8]).hex == "000fa5ff")
        #expect(([0xde, 0xad] as [UInt8]).hex(separator: ":") == "de:ad")
        #expect([UInt8]().hex == "")
    }
}
