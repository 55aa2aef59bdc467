// swift-tools-version:6.0
// Sumi: a terminal studio for few-step SDXL generation and DMD2 distillation.
// Dependencies point down: sumi → Checkpoint → Tensor → (COpenBLAS, CKernels).
import PackageDescription

/// Every Swift target builds in Swift 5 language mode: the engine shares raw buffers across
/// `concurrentPerform` workers, which Swift 6's strict checking rejects without adding safety here.
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "Sumi",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sumi", targets: ["sumi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // Leaves: each C library is imported by exactly one Swift target.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        /// Our own C kernels, compiled with -O3 and `target_clones` so one binary runs
        /// AVX-512 / AVX2 / baseline code paths chosen at run time.
        .target(name: "CKernels", path: "Sources/CKernels",
                cSettings: [.unsafeFlags(["-O3", "-ffp-contract=fast", "-fno-math-errno"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        /// libpng's classic API (needed for text chunks) reports errors with longjmp; this C shim keeps
        /// setjmp in C and hands Swift status codes and messages.
        .target(name: "CPNGShim", path: "Sources/CPNGShim", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "Imaging", dependencies: ["CPNG", "CPNGShim"], swiftSettings: v5),
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw", providers: [.apt(["libncurses-dev"])]),
        .systemLibrary(name: "CSixel", path: "Sources/CSixel", pkgConfig: "libsixel", providers: [.apt(["libsixel-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        // Engine.
        .target(name: "Tensor", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: v5),
        // IO.
        .target(name: "Checkpoint", dependencies: ["Tensor", "CKernels"], swiftSettings: v5),
        // Models: tokenizer, text encoders, UNet, VAE, LoRA, samplers.
        .target(name: "Diffusion", dependencies: ["Tensor", "Checkpoint", "Imaging"], swiftSettings: v5),
        // Training: webdataset loader, buckets, training loop, DMD2.
        .target(name: "Trainer", dependencies: [
            "Tensor", "Checkpoint", "Diffusion", "Imaging", "CJPEG", .product(name: "TOMLKit", package: "TOMLKit"),
        ], swiftSettings: v5),
        // UI core: frames, layout, widgets, keys, themes, sixel / half-block images. Knows no ML.
        .target(name: "TerminalUI", dependencies: [
            "CNcursesw", "CSixel", "Imaging", .product(name: "TOMLKit", package: "TOMLKit"),
        ], swiftSettings: v5),
        // App: where UI and ML meet (the studio's state, panes, engine).
        .target(name: "Studio", dependencies: [
            "TerminalUI", "Diffusion", "Trainer", "Imaging", .product(name: "TOMLKit", package: "TOMLKit"),
        ], swiftSettings: v5),
        // Executable.
        .executableTarget(name: "sumi", dependencies: [
            "Tensor", "Checkpoint", "Diffusion", "Trainer", "Imaging", "Studio", "TerminalUI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: v5),
        // Tests.
        .target(name: "TestSupport", dependencies: ["Tensor", "Checkpoint"], path: "Tests/TestSupport",
                swiftSettings: v5),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "Checkpoint", "CKernels", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "TrainerTests", dependencies: ["Trainer", "TestSupport"], exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "TerminalUITests", dependencies: ["TerminalUI", "TestSupport"], exclude: ["Snapshots"],
                    swiftSettings: v5),
        .testTarget(name: "StudioTests", dependencies: ["Studio", "TerminalUI", "TestSupport"], exclude: ["Snapshots"],
                    swiftSettings: v5),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"], exclude: ["Fixtures"], swiftSettings: v5),
    ]
)
