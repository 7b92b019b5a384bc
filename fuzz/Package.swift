// swift-tools-version: 6.0
import PackageDescription

// The reader fuzzer: a libFuzzer executable over dera's readers, kept out of the main package so that
// `swift build` and `swift test` at the root never build or run it. Built and run only by `scripts/fuzz`,
// which passes `-sanitize=fuzzer,address` (coverage for libFuzzer plus AddressSanitizer) to every Swift target.
let package = Package(
    name: "dera-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "dera", path: "..")],
    targets: [
        // Declarations of libFuzzer's driver entry points, nothing else.
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "ReaderFuzzer",
            dependencies: ["CFuzzerDriver",
                           .product(name: "Formats", package: "dera"),
                           .product(name: "Tokenization", package: "dera"),
                           .product(name: "Retrieval", package: "dera")]),
    ],
    swiftLanguageModes: [.v6]
)
