// swift-tools-version: 6.0
import PackageDescription

// One target per stage of the pipeline; data flows one way:
// Formats -> Tokenization / Inference -> (Realign) -> Retrieval -> ... -> dera (CLI).
let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "dera",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dera", targets: ["dera"]),
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "Tokenization", targets: ["Tokenization"]),
        .library(name: "Inference", targets: ["Inference"]),
        .library(name: "Embedding", targets: ["Embedding"]),
        .library(name: "Realign", targets: ["Realign"]),
        .library(name: "Retrieval", targets: ["Retrieval"]),
        .library(name: "Factuality", targets: ["Factuality"]),
        .library(name: "Control", targets: ["Control"]),
        .library(name: "Pipelines", targets: ["Pipelines"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // Only the Serving target (dera serve) uses these; the core targets and their tests build without them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System-library shims: nothing but headers and link lines.
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]),
        // Small C SIMD kernels for what Swift cannot do fast (quantised dot products).
        .target(
            name: "CKernels", path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O3"])]),

        // Checkpoint and metadata readers: GGUF, safetensors, Hugging Face folders. No maths.
        .target(name: "Formats"),
        // Byte-level BPE, pre-tokenizers, special tokens, chat templates, streaming detokenizer.
        .target(name: "Tokenization", dependencies: ["Formats"]),
        // Tensors, quantised blocks, kernels, architectures, KV cache.
        .target(
            name: "Inference",
            dependencies: ["Formats", "Tokenization", "COpenBLAS", "CKernels",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimise),
        // Sentence embeddings for dense retrieval: a BERT encoder (all-MiniLM-L6-v2) with mean pooling.
        .target(
            name: "Embedding",
            dependencies: ["Formats", "Tokenization", "COpenBLAS", "CKernels"],
            swiftSettings: optimise),
        // Decoding: samplers, streaming generation, and the DeRa mix of reference and aligned logits.
        .target(
            name: "Realign",
            dependencies: ["Inference", "Tokenization"],
            swiftSettings: optimise),
        // Passage store, ingestion, FTS5 search, passage vectors and hybrid search.
        .target(
            name: "Retrieval",
            dependencies: ["CLibXML2", "Embedding", "Tokenization", "CKernels", "COpenBLAS", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Logging", package: "swift-log")]),
        // The factuality checker: claims, lexical and model-based support signals, calibration, evidence.
        .target(
            name: "Factuality",
            dependencies: ["Inference", "Tokenization"],
            swiftSettings: optimise),
        // The lambda controller: naturalness, candidate choice between correctness and naturalness, Pareto
        // fronts over lambda sweeps, the tuned-lambda file.
        .target(
            name: "Control",
            dependencies: ["Realign", "Factuality"]),
        // End-to-end jobs: grounded question answering (and, later, summarisation and lambda tuning).
        .target(
            name: "Pipelines",
            dependencies: ["Inference", "Realign", "Retrieval", "Embedding", "Factuality", "Control", "Tokenization"]),
        // The HTTP server behind `dera serve`: OpenAI-compatible chat completions plus dera's ask / check / search,
        // one engine that owns the model and batches queued requests (different lambdas in one forward pass).
        .target(
            name: "Serving",
            dependencies: ["Inference", "Realign", "Retrieval", "Embedding", "Factuality", "Control", "Pipelines", "Tokenization",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Logging", package: "swift-log")]),
        // The command-line tool: argument parsing only, no logic.
        .executableTarget(
            name: "dera",
            dependencies: ["Formats", "Tokenization", "Inference", "Realign", "Retrieval", "Factuality", "Control", "Pipelines",
                           "Serving",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]),

        .testTarget(name: "FormatsTests", dependencies: ["Formats"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "Formats"]),
        .testTarget(name: "EmbeddingTests", dependencies: ["Embedding", "Tokenization", "Formats", "CKernels", "COpenBLAS"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Formats", "Tokenization"]),
        .testTarget(name: "RealignTests", dependencies: ["Realign", "Inference", "Tokenization", "Formats"]),
        .testTarget(name: "RetrievalTests",
                    dependencies: ["Retrieval", "Embedding", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FactualityTests", dependencies: ["Factuality", "Inference", "Tokenization"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "Factuality"]),
        // The command-line tool's own helpers (text arguments, terminal escaping) and commands.
        .testTarget(name: "DeraTests", dependencies: ["dera", "Retrieval", "Embedding"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "Pipelines", "Retrieval", "Embedding"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Pipelines", "Control", "Retrieval", "Inference", "Tokenization"]),
    ],
    swiftLanguageModes: [.v6]
)
