#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Formats
import Retrieval
import Tokenization

/// One reader of untrusted input, and how a fuzz input becomes what that reader reads.
///
/// Document readers get the bytes as a file's contents. File readers (GGUF, safetensors) get them written to a
/// scratch file first, since they read through a memory map. Readers of two files (a tokenizer.json with an optional
/// tokenizer_config.json, a PEFT folder's adapter_config.json and adapter_model.safetensors) get the input split at
/// its first NUL byte, which no JSON text contains, so every mutation still yields a valid pair.
/// Errors thrown by a reader are the expected outcome for bad input; only a trap, a sanitizer report, a timeout or
/// running out of memory counts as a failure.
enum FuzzedReader: String, CaseIterable {
    case markdown, html, xml, jsonl, text, gguf, safetensors, tokenizer, peft

    /// Text the tokenizers that load are asked to encode and decode, so a vocabulary that loads is also used.
    static let sample = "hello world <|end|> <x> 12345 café 日本語 \u{1F600}\n\t  x'll"

    /// Reads one input the way dera reads such a file, and touches what came out.
    func read(_ bytes: UnsafeRawBufferPointer, scratch: Scratch) {
        switch self {
        case .markdown: readDocuments(MarkdownReader(), bytes, source: "/fuzz/input.md")
        case .html: readDocuments(HTMLReader(), bytes, source: "/fuzz/input.html")
        case .xml: readDocuments(XMLReader(), bytes, source: "/fuzz/input.xml")
        case .text: readDocuments(PlainTextReader(), bytes, source: "/fuzz/input.txt")
        case .jsonl:
            let reader = JSONLReader(idField: "id")
            let data = Data(bytes)
            var skipped = 0
            let documents = reader.documents(in: data, source: "/fuzz/input.jsonl", invalidRow: { _ in skipped += 1 })
            touch(documents)
            _ = try? reader.documents(in: data, source: "/fuzz/input.jsonl")
        case .gguf:
            let path = scratch.write(bytes, as: "model.gguf")
            guard let file = try? GGUFFile(path: path) else { return }
            for info in file.tensors { touch(try? file.tensor(info.name).bytes) }
            _ = try? file.strings("tokenizer.ggml.tokens")
            _ = try? file.numbers("tokenizer.ggml.scores")
            if let tokenizer = try? Tokenizer(gguf: file) { exercise(tokenizer) }
            if let template = try? ChatTemplate(gguf: file) {
                _ = template.render([.user("Hi"), .assistant("Hello"), ChatMessage(role: "tool", content: "42")],
                                    addGenerationPrompt: true)
            }
        case .safetensors:
            let path = scratch.write(bytes, as: "model.safetensors")
            guard let file = try? SafetensorsFile(path: path) else { return }
            for name in file.tensors.keys { touch(try? file.tensor(name).bytes) }
        case .tokenizer:
            let (json, config) = Self.split(bytes)
            let path = scratch.write(json, as: "tokenizer.json")
            scratch.write(config, as: "tokenizer_config.json")
            if let tokenizer = try? Tokenizer(tokenizerJSONPath: path) { exercise(tokenizer) }
        case .peft:
            let (config, weights) = Self.split(bytes)
            scratch.write(config, as: "adapter_config.json")
            scratch.write(weights, as: "adapter_model.safetensors")
            guard let adapter = try? PEFTAdapterFolder(directory: scratch.directory) else { return }
            _ = adapter.scale
            for module in adapter.modules {
                _ = (module.rank, module.inputs, module.outputs)
                touch(try? adapter.weights.tensor(module.down.name).bytes)
                touch(try? adapter.weights.tensor(module.up.name).bytes)
            }
        }
    }

    private func readDocuments(_ reader: some DocumentReader, _ bytes: UnsafeRawBufferPointer, source: String) {
        if let documents = try? reader.documents(in: Data(bytes), source: source) { touch(documents) }
    }

    private func touch(_ documents: [ExtractedDocument]) {
        var total = 0
        for document in documents { total &+= document.text.utf8.count &+ document.title.utf8.count }
        blackHole(total)
    }

    /// Reads the first and last byte of a tensor view, so AddressSanitizer sees a view that runs past the file.
    private func touch(_ view: UnsafeRawBufferPointer?) {
        guard let view, !view.isEmpty else { return }
        blackHole(Int(view[0]) &+ Int(view[view.count - 1]))
    }

    private func exercise(_ tokenizer: Tokenizer) {
        let ids = tokenizer.encode(Self.sample)
        blackHole(tokenizer.decode(ids).utf8.count)
        blackHole(tokenizer.encode(Self.sample, addSpecial: false, parseSpecial: false).count)
    }

    /// The bytes before the first NUL, and those after it (`nil` when there is no NUL).
    static func split(_ bytes: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) {
        guard let nul = bytes.firstIndex(of: 0) else { return (bytes, nil) }
        return (UnsafeRawBufferPointer(rebasing: bytes[..<nul]),
                UnsafeRawBufferPointer(rebasing: bytes[(nul + 1)...]))
    }
}

/// A private scratch folder (in /dev/shm when there is one) that file readers read their inputs from.
struct Scratch {
    let directory: String

    init() {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        directory = "\(base)/dera-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` in the folder, or removes the file when `bytes` is nil; returns the path.
    @discardableResult
    func write(_ bytes: UnsafeRawBufferPointer?, as name: String) -> String {
        let path = directory + "/" + name
        guard let bytes else {
            unlink(path)
            return path
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { fatalError("cannot write the scratch file \(path): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let result = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            guard result > 0 else { fatalError("cannot write the scratch file \(path)") }
            written += result
        }
        close(fd)
        return path
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Keeps a value alive so the optimiser cannot drop the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
