import MartletCore
import Testing

@Suite struct JSONTests {
    @Test func roundTripsAndEscapes() throws {
        let value: JSON = ["a": "quote\" back\\ nl\n tab\t ctl\u{01} é", "n": 3, "f": .double(1.5), "b": false, "z": nil, "l": [1, "x"]]
        let text = value.text
        #expect(text.contains(#""quote\" back\\ nl\n tab\t ctl\u0001 é""#))
        #expect(try JSON.parse(Array(text.utf8)) == value)
    }

    /// The parser answers as Foundation's decoder, which it replaced, did for the same text.
    @Test func parsesAsFoundationsDecoderDid() throws {
        let cases: [(String, JSON)] = [
            ("1.0", .int(1)), ("1e2", .int(100)), ("1.5e3", .int(1500)), ("-0", .int(0)), ("-0.0", .int(0)), ("0.5", .double(0.5)),
            ("1e-2", .double(0.01)), ("12345678901234567890", .double(12345678901234567890)), ("9223372036854775807", .int(.max)),
            ("9223372036854775808", .double(9223372036854775808)), ("-9223372036854775808", .int(.min)), (" 1 ", .int(1)),
            (#"{"a":1,"a":2}"#, ["a": 1]), (#""\ud83d\ude00""#, "😀"), (#""a\u0000b""#, "a\u{0}b"), (#""\/\b\f\n\r\t""#, "/\u{8}\u{C}\n\r\t"),
            (#"{"a":[],"b":{},"c":[true,false,null]}"#, ["a": [], "b": [:], "c": [true, false, nil]]), (#""é日""#, "é日"),
        ]
        for (text, expected) in cases { #expect(try JSON.parse(Array(text.utf8)) == expected, "\(text)") }
        let refused = ["1E400", #""\ud83d""#, #""\ude00""#, "01", "1.", ".5", "tru", "nan", "[1,]", #"{"a":1,}"#, "", " ", "[", #"{"a"}"#, "1 2",
                       "\"a\u{1}b\"", #""\x""#, #""\u12G4""#, "+1", "-", "1e", "[1 2]", #"{"a" 1}"#, #"{1:2}"#]
        for text in refused { #expect(throws: APIError.self, "\(text)") { try JSON.parse(Array(text.utf8)) } }
        #expect(throws: APIError.self) { try JSON.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: APIError.self) { try JSON.parse(Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8)) }
        #expect(try JSON.parse(Array((String(repeating: "[", count: 400) + String(repeating: "]", count: 400)).utf8)) != .null)
    }

    @Test func writesEveryIntegerAndStringExactly() throws {
        let integers: [Int64] = [0, 7, -7, 10, -10, 1_000_000, .max, .min]
        #expect(JSON.array(integers.map { JSON.int($0) }).text == "[" + integers.map(String.init).joined(separator: ",") + "]")
        var strings = ["", "plain", "\u{7F}ab", "\"\"", "\\\\", "end\n", "\u{1F}", "日本語 and ascii"]
        for _ in 0..<200 { strings.append(String((0..<20).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0...127))) })) }
        for string in strings { #expect(try JSON.parse(Array(JSON.string(string).text.utf8)) == .string(string)) }
    }

    @Test func keysAreSortedAndAPreSerializedMemberSplicesInPlace() {
        let members: [String: JSON] = ["user": ["id": "u", "Name": "x"], "OS-TRUST:trust": [:], "audit_ids": ["a"], "roles": [], "zed": nil]
        #expect(JSON.object(members).text == #"{"OS-TRUST:trust":{},"audit_ids":["a"],"roles":[],"user":{"Name":"x","id":"u"},"zed":null}"#)
        let catalog: JSON = [["type": "identity", "endpoints": [["url": "http://h/\"q\""]]]]
        for key in ["catalog", "a", "zz", "OS", "roles"] {
            var whole = members
            whole[key] = catalog
            #expect(JSON.serializedObject(members, key: key, serializedValue: catalog.serialized()) == JSON.object(whole).serialized(), "\(key)")
        }
    }

    @Test func rejectsWhatIsNotJSON() {
        #expect(throws: APIError.self) { try JSON.parse(Array("{\"a\": ".utf8)) }
        #expect(throws: APIError.self) { try JSON.parse([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]) }
    }

    @Test func fieldErrorsNameTheField() throws {
        let body = try JSON.parse(Array(#"{"user": {"name": 5, "enabled": "yes", "domain": {"id": []}}}"#.utf8))
        let user = try JSONFields.body(body, wrapper: "user")
        #expect { try user.string("name") } throws: { ($0 as? APIError)?.message.contains("'user.name'") == true }
        #expect { try user.bool("enabled") } throws: { ($0 as? APIError)?.message.contains("'user.enabled'") == true }
        #expect { try user.object("domain")?.string("id") } throws: { ($0 as? APIError)?.message.contains("'user.domain.id'") == true }
        #expect { try JSONFields.body(body, wrapper: "project") } throws: { ($0 as? APIError)?.status == .badRequest }
    }
}
