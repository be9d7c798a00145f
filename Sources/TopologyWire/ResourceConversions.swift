import Topology
import Wire

/// Resources as the wire carries them.
extension Resources {
    public init(_ wire: Junction_V1_Resources) {
        self.init(cpuCores: wire.cpuCores, memoryBytes: wire.memoryBytes, gpus: wire.gpus.mapValues { Int($0) })
    }

    public var wire: Junction_V1_Resources {
        var wire = Junction_V1_Resources()
        wire.cpuCores = cpuCores
        wire.memoryBytes = memoryBytes
        wire.gpus = gpus.mapValues { UInt32(clamping: $0) }
        return wire
    }
}

extension Price {
    public init(_ wire: Junction_V1_Prices) {
        self.init(cpuCoreHour: wire.cpuCoreHour, gpuHour: wire.gpuHour)
    }

    public var wire: Junction_V1_Prices {
        var wire = Junction_V1_Prices()
        wire.cpuCoreHour = cpuCoreHour
        wire.gpuHour = gpuHour
        return wire
    }
}

