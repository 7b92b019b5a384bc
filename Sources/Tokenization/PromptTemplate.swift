import Foundation

/// A chat prompt kept as a text file in `prompts/`: `[system]` and `[user]` sections whose
/// `{{name}}` placeholders are filled at run time.
///
/// ```
/// [system]
/// You answer questions using only the numbered passages...
/// [user]
/// Passages:
/// {{passages}}
///
/// Question: {{question}}
/// ```
public struct PromptTemplate: Sendable, Equatable {
    public var system: String?
    public var user: String

    public init(system: String?, user: String) {
        self.system = system
        self.user = user
    }

    /// Parses the section format.
    /// - Throws: `PromptTemplateError.badTemplate` naming the file when there is no `[user]` section or an
    ///   unknown section header.
    public init(text: String, path: String = "<prompt>") throws {
        var sections: [String: [String]] = [:]
        var current: String?
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("["), trimmed.hasSuffix("]"), !trimmed.contains(" ") {
                let name = String(trimmed.dropFirst().dropLast())
                guard name == "system" || name == "user" else {
                    throw PromptTemplateError.badTemplate(path: path, reason: "unknown section [\(name)]")
                }
                current = name
                sections[name] = []
            } else if let name = current {
                sections[name, default: []].append(line)
            } else if !trimmed.isEmpty {
                throw PromptTemplateError.badTemplate(path: path, reason: "text before the first [system] or [user] header")
            }
        }
        func joined(_ name: String) -> String? {
            sections[name].map { $0.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        guard let user = joined("user"), !user.isEmpty else {
            throw PromptTemplateError.badTemplate(path: path, reason: "no [user] section")
        }
        self.init(system: joined("system"), user: user)
    }

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw PromptTemplateError.badTemplate(path: path, reason: "cannot read the file as UTF-8")
        }
        try self.init(text: text, path: path)
    }

    /// The template in the section format it is read from.
    public var text: String { (system.map { "[system]\n\($0)\n" } ?? "") + "[user]\n\(user)\n" }

    /// The chat messages with every `{{name}}` replaced by `values[name]`.
    /// - Throws: `PromptTemplateError.missingValue` when the template names a value not given.
    public func messages(_ values: [String: String]) throws -> [ChatMessage] {
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: try Self.fill(system, values))) }
        messages.append(ChatMessage(role: "user", content: try Self.fill(user, values)))
        return messages
    }

    static func fill(_ text: String, _ values: [String: String]) throws -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let value = values[name] else { throw PromptTemplateError.missingValue(name) }
            out += value
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}

/// A prompt template that cannot be read or filled, naming the file or the value at fault.
public enum PromptTemplateError: Error, Equatable, CustomStringConvertible {
    case badTemplate(path: String, reason: String)
    case missingValue(String)

    public var description: String {
        switch self {
        case let .badTemplate(path, reason): "\(path): bad prompt template: \(reason)"
        case let .missingValue(name): "the prompt template uses {{\(name)}}, which has no value"
        }
    }
}
