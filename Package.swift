// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Junction",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "junction", targets: ["junction"]),
        .executable(name: "junction-full", targets: ["junction-full"]),
        .executable(name: "junction-bench", targets: ["junction-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Without its Foundation streams, SwiftProtobuf needs only FoundationEssentials: the quick
        // junction executable starts without loading Foundation.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(
            name: "ZeroMQ",
            dependencies: ["CZeroMQ"]
        ),
        .target(
            name: "CZeroMQBaseline",
            dependencies: ["CZeroMQ"]
        ),
        .target(name: "Wording"),
        // Topology's values as the wire carries them, for the controller and the pool agent.
        .target(name: "TopologyWire", dependencies: ["Topology", "Wire"]),
        .target(
            name: "Topology",
            dependencies: ["Wording", "Yams"]
        ),
        .target(
            name: "Routing",
            dependencies: ["Topology", .product(name: "HeapModule", package: "swift-collections")]
        ),
        .target(
            name: "Placement",
            dependencies: ["Topology", "Routing", .product(name: "HeapModule", package: "swift-collections")]
        ),
        .target(
            name: "ControllerCore",
            dependencies: [
                "Placement", "Routing", "Topology", "Wording", .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Observability",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ControllerWire",
            dependencies: ["ControllerCore", "Placement", "Routing", "Topology", "TopologyWire", "Wire"]
        ),
        .target(
            name: "PoolAgentCore",
            dependencies: ["Topology", "TopologyWire", "Wire", .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        .target(name: "CSpawn"),
        .target(name: "Simulation", dependencies: ["ControllerCore", "Placement", "Topology", .product(name: "HeapModule", package: "swift-collections")]),
        .target(name: "JunctionClient", dependencies: ["Wire", "ZeroMQ"]),
        .target(name: "ClientCommands", dependencies: [
            "JunctionClient", "Wording", "Wire", "ZeroMQ", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "CommandLineSupport", dependencies: ["ClientCommands", "Topology"]),
        .target(name: "Store", dependencies: [
            "ControllerCore", "ControllerWire", "Placement", "TopologyWire", "Wire", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(
            name: "Services",
            dependencies: [
                "CSpawn", "ControllerCore", "ControllerWire", "Observability", "PoolAgentCore", "Store", "Topology", "TopologyWire", "Wire", "Wording", "ZeroMQ", "Yams",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Wire",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/SOURCES.sha256"]
        ),
        // The commands that make one request of a controller, in a small executable that starts
        // in a few milliseconds (no Foundation, the Swift libraries linked in); it hands every
        // other command to junction-full, the whole command set, installed beside it.
        .executableTarget(
            name: "junction",
            dependencies: ["ClientCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // FoundationEssentials's archive leaves out the collections it is built on.
            linkerSettings: [.unsafeFlags(["-static-stdlib"]), .linkedLibrary("_FoundationCollections"), .linkedLibrary("_FoundationCShims")]
        ),
        .executableTarget(
            name: "junction-full",
            dependencies: [
                "ClientCommands",
                "CommandLineSupport",
                "TopologyWire",
                "Wording",
                "ZeroMQ",
                "Wire",
                "Topology",
                "Routing",
                "Placement",
                "ControllerCore",
                "ControllerWire",
                "PoolAgentCore",
                "Observability",
                "Services",
                "Store",
                "JunctionClient",
                "Simulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The benchmarks with their C baseline, out of the product; `junction bench` runs this.
        .executableTarget(
            name: "junction-bench",
            dependencies: [
                "ClientCommands", "CommandLineSupport", "CZeroMQBaseline", "ControllerCore", "ControllerWire", "JunctionClient", "Observability", "Placement",
                "Routing", "Services", "Simulation", "Store", "Topology", "TopologyWire", "Wire", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "FuzzTargets", dependencies: ["ControllerCore", "ControllerWire", "Simulation", "Topology", "Wire", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(name: "junction-fuzz", dependencies: ["FuzzTargets"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "WireTests", dependencies: ["JunctionClient", "Wire", "ZeroMQ", "Topology", "ControllerCore", "ControllerWire", "Placement"]),
        .testTarget(name: "ControllerCoreTests", dependencies: ["ControllerCore", "Placement", "Topology"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Placement", "Topology"]),
        .testTarget(name: "PoolAgentCoreTests", dependencies: ["PoolAgentCore", "Topology", "Wire"]),
        .testTarget(name: "PlacementTests", dependencies: ["Placement", "Routing", "Topology"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", "Routing"], exclude: ["Broken"]),
        .testTarget(name: "CLITests", dependencies: ["ControllerCore", "JunctionClient", "PoolAgentCore", "Services", "Wire", "ZeroMQ", "Yams", "TestSupport"], exclude: ["Slurm"]),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets"]),
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "StoreTests", dependencies: ["Store", "ControllerCore", "Placement", "Topology", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
    ]
)
