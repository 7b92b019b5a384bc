import Foundation
import Formats
import Tokenization

/// A model ready to run: the decoder, its tokenizer and its chat template, opened from a GGUF file or a
/// Hugging Face folder (config.json, *.safetensors, tokenizer.json, tokenizer_config.json).
public struct ModelBundle: Sendable {
    public let path: String
    public let model: DecoderModel
    public let tokenizer: Tokenizer
    /// Nil when the checkpoint carries no chat template.
    public let chatTemplate: ChatTemplate?

    public init(path: String, model: DecoderModel, tokenizer: Tokenizer, chatTemplate: ChatTemplate?) {
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
    }

    /// Opens `path`: a `.gguf` file or a Hugging Face model folder.
    public static func open(_ path: String, workers: Int = 1) throws -> ModelBundle {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError.cannotOpen(path: path, reason: "no such file or folder")
        }
        if isDirectory.boolValue {
            let folder = try HFModelFolder(directory: path)
            let model = try DecoderModel(huggingFace: folder, workers: workers)
            let tokenizer = try Tokenizer(tokenizerJSONPath: folder.tokenizerPath)
            var template: ChatTemplate?
            let configPath = path + "/tokenizer_config.json"
            if let data = FileManager.default.contents(atPath: configPath),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let jinja = object["chat_template"] as? String {
                template = try ChatTemplate(jinja: jinja)
            }
            return ModelBundle(path: path, model: model, tokenizer: tokenizer, chatTemplate: template)
        }
        let file = try GGUFFile(path: path)
        let model = try DecoderModel(gguf: file, workers: workers)
        let tokenizer = try Tokenizer(gguf: file)
        let template = file.string("tokenizer.chat_template") == nil ? nil : try ChatTemplate(gguf: file)
        return ModelBundle(path: path, model: model, tokenizer: tokenizer, chatTemplate: template)
    }
}
