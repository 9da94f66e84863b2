import Foundation
import GPUCtlModels
import Testing

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func valuesOfEveryType() throws {
        let value = try parse(#" {"a":[1,-2.5e3,true,false,null],"b":{"c":"d"},"e":"","f":0} "#)
        #expect(value == .object([
            "a": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]),
            "b": .object(["c": .string("d")]), "e": .string(""), "f": .number(0),
        ]))
    }

    @Test func stringEscapes() throws {
        #expect(try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\n\té😀"))
        #expect(try parse(#""naïve ✓""#) == .string("naïve ✓"))
    }

    @Test(arguments: [
        "", "{", "}", "[1,]", "{\"a\"}", "{\"a\":}", "{a:1}", "01", "1.", "-", "1e", "+1", "tru", "nul",
        "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\u{01}b\"", "[1] 2", "'x'", "NaN", "1e999",
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    @Test func rejectsInvalidUTF8AndGarbage() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x00, 0x01, 0x80]) }
    }

    @Test func limitsNesting() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect {
            try parse(deep)
        } throws: { error in
            (error as? JSONParseError)?.message == "nesting deeper than 512 levels"
        }
        let fine = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        _ = try parse(fine)
    }

    @Test func agreesWithFoundation() throws {
        let text = #"{"model":"llama3.1:8b","options":{"num_ctx":8192,"temperature":0.7},"messages":[{"role":"user","content":"hi \"there\""}]}"#
        #expect(try parse(text) == JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
    }
}
