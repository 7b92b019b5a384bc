import Foundation

/// An error the server answers with, in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
///
/// `type` is `invalid_request_error` for anything the client can fix (4xx), `server_overloaded` when the queue is
/// full or the server is shutting down (503), and `server_error` for failures of the server itself (500).
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var type: String
    /// The request field at fault, as a JSON path (`messages[1].content`, `dera.lambda`); nil when no one field is.
    public var param: String?
    public var code: String?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    /// A 400 the client can fix, naming the field.
    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(status: 404, message: message, type: "invalid_request_error", code: "not_found")
    }

    public static func overloaded(_ message: String) -> APIError {
        APIError(status: 503, message: message, type: "server_overloaded", code: "server_overloaded")
    }

    public static func server(_ message: String) -> APIError {
        APIError(status: 500, message: message, type: "server_error")
    }

    public var description: String { "\(status) \(type): \(message)" + (param.map { " (\($0))" } ?? "") }

    struct Body: Encodable {
        struct Inner: Encodable {
            var message: String
            var type: String
            var param: String?
            var code: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(message, forKey: .message)
                try container.encode(type, forKey: .type)
                // OpenAI's clients read explicit nulls; keep both keys present.
                try container.encode(param, forKey: .param)
                try container.encode(code, forKey: .code)
            }

            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }
        var error: Inner
    }

    /// The JSON body.
    public var json: Data {
        let body = Body(error: .init(message: message, type: type, param: param, code: code))
        return (try? JSONEncoder.api.encode(body)) ?? Data(#"{"error":{"message":"unencodable error","type":"server_error","param":null,"code":null}}"#.utf8)
    }
}

extension JSONEncoder {
    /// The encoder every response goes through: stable key order, no escaped slashes.
    static var api: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }
}

/// A JSON object key of any name, for reading which keys a request object holds.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// An unknown field in a request object: rejected, not ignored, so a misspelt option (`max_token`) is an error
/// instead of a silent default.
struct UnknownFieldError: Error {
    var path: String
}

extension Decoder {
    /// The current object's container, after throwing ``UnknownFieldError`` for its first key that is not a case
    /// of `keys`.
    func strictContainer<Key: CodingKey & CaseIterable>(keyedBy keys: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let known = Set(Key.allCases.map(\.stringValue))
        let any = try container(keyedBy: AnyKey.self)
        if let unknown = any.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw UnknownFieldError(path: APIRequestDecoding.path(codingPath + [AnyKey(stringValue: unknown)]))
        }
        return try container(keyedBy: keys)
    }
}

/// Decodes request bodies strictly and turns every failure into a 400 that names the field.
enum APIRequestDecoding {
    /// `messages[1].content` from a coding path.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        guard !data.isEmpty else { throw APIError.invalid("the request body is empty; send a JSON object", code: "invalid_json") }
        // JSONDecoder reports syntax errors vaguely; JSONSerialization says where.
        do {
            let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            guard object is [String: Any] else {
                throw APIError.invalid("the request body must be a JSON object", code: "invalid_json")
            }
        } catch let error as APIError {
            throw error
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw APIError.invalid("the request body is not valid JSON: \(reason)", code: "invalid_json")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as UnknownFieldError {
            throw APIError.invalid("unknown field '\(error.path)'", param: error.path, code: "unknown_field")
        } catch let error as APIError {
            throw error
        } catch let error as DecodingError {
            throw describe(error)
        }
    }

    static func describe(_ error: DecodingError) -> APIError {
        switch error {
        case let .keyNotFound(key, context):
            let field = path(context.codingPath + [key])
            return .invalid("missing required field '\(field)'", param: field, code: "missing_field")
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            let field = path(context.codingPath)
            return .invalid("field '\(field)' has the wrong type: expected \(jsonName(type))", param: field, code: "invalid_type")
        case let .dataCorrupted(context):
            let field = path(context.codingPath)
            if let underlying = context.underlyingError as? APIError { return underlying }
            return .invalid("field '\(field)': \(context.debugDescription)", param: field.isEmpty ? nil : field, code: "invalid_value")
        @unknown default:
            return .invalid("the request could not be read: \(error)")
        }
    }

    static func jsonName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        default: "\(type)"
        }
    }
}
