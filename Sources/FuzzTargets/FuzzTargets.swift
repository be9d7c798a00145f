import ControllerCore
import ControllerWire
import Foundation
import Simulation
import SwiftProtobuf
import Topology
import Wire

/// The readers and state machines that take bytes from outside, each as one fuzzing entry point.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// An envelope as it arrives on any endpoint, and its conversion into the core's typed inputs.
    case envelope
    /// A topology file's text.
    case topologyYAML = "topology-yaml"
    /// An Internet Topology Zoo GraphML file, and a Rocketfuel latency map.
    case graphml
    /// A workload trace; the first byte chooses the format.
    case traces
    /// The controller core fed a sequence of decoded messages from several pools and clients.
    case controller

    /// Runs one input. A finding is a crash: every outcome that returns, error or not, is fine.
    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .envelope: Self.envelope(Array(bytes))
        case .topologyYAML: _ = try? Topology.load(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml")
        case .graphml: Self.importers(bytes)
        case .traces: Self.traces(bytes)
        case .controller: ControllerScript(bytes).run()
        }
    }

    /// Runs one input held in an array.
    public func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run($0) }
    }

    private static func envelope(_ bytes: [UInt8]) {
        for endpoint in [Endpoint.pools, .clients] {
            _ = ControllerWire.event(frames: [[1], bytes], on: endpoint, caller: "fuzz")
        }
        guard let message = try? WireMessage(bytes: bytes) else { return }
        // What decodes must encode again and decode to the same message. Compared as
        // deterministic encodings, not as values: a NaN is itself on the wire but not under ==.
        guard let again = try? message.serialized() else { return }
        guard let decoded = try? WireMessage(bytes: again), canonical(decoded) == canonical(message) else {
            fatalError("a decoded envelope did not survive encoding: \(message.kind)")
        }
        _ = message.text
    }

    private static func canonical(_ message: WireMessage) -> [UInt8]? {
        var envelope = Junction_V1_Envelope()
        envelope.protocolVersion = WireProtocol.version
        envelope.correlationID = message.correlationID
        envelope.body = message.body
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return try? envelope.serializedBytes(options: options)
    }

    private static func importers(_ bytes: UnsafeRawBufferPointer) {
        _ = try? GraphMLImporter.importTopology(Data(bytes), file: "fuzz.graphml")
        _ = try? RocketfuelImporter.importTopology(latencies: String(decoding: bytes, as: UTF8.self), file: "fuzz.intra", name: "fuzz")
    }

    private static func traces(_ bytes: UnsafeRawBufferPointer) {
        guard let selector = bytes.first else { return }
        let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
        let formats = TraceFormat.allCases
        if Int(selector) % (formats.count + 1) == formats.count {
            _ = try? TraceReader.openbNodes(text)
        } else {
            _ = try? formats[Int(selector) % (formats.count + 1)].read(text)
        }
    }
}

/// A fuzz input read as a conversation with the controller core. Each record starts with a byte:
/// its low two bits say what it is (0 a pool's message, 1 a client's, 2 time passing, 3 a link
/// change), the next two bits which of four peers sends it; a message's payload follows as a
/// two-byte little-endian length and that many bytes.
struct ControllerScript {
    /// Built once: every input starts from a copy of the same fresh core.
    static let fresh: ControllerCore = {
        var configuration = ControllerConfiguration()
        configuration.clientRequestsPerSecond = 0
        configuration.logLevel = .error
        return ControllerCore(topology: fuzzNetwork(), configuration: configuration)
    }()

    static let links = ["in-east", "in-west", "in-mid", "mid-east", "unknown"]

    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    func run() {
        _ = finalCore().readings()
    }

    /// The core after the whole conversation.
    func finalCore() -> ControllerCore {
        var core = Self.fresh
        var seconds = 0.0
        var output: [ControllerAction] = []
        var offset = 0
        while offset < bytes.count {
            let head = bytes[offset]
            offset += 1
            let peer = Int(head >> 2) & 3
            let event: ControllerEvent
            switch head & 3 {
            case 0, 1:
                guard offset + 2 <= bytes.count else { return core }
                let length = min(Int(bytes[offset]) | Int(bytes[offset + 1]) << 8, bytes.count - offset - 2)
                let payload = Array(bytes[(offset + 2)..<(offset + 2 + length)])
                offset += 2 + length
                event = head & 3 == 0
                    ? ControllerWire.event(frames: [Array("pool-\(peer)".utf8), payload], on: .pools)
                    : ControllerWire.event(frames: [Array("client-\(peer)".utf8), [], payload], on: .clients, caller: "client-\(peer)")
            case 2:
                seconds += Double(head >> 2) * 0.25
                event = .tick
            default:
                let change = Int(head >> 4)
                event = .linkChanged(LinkChange(
                    link: Self.links[peer == 3 ? 4 : change % 4],
                    up: change & 1 == 0 ? nil : change & 2 == 0,
                    capacityGbps: change & 4 == 0 ? nil : Double(change)
                ))
            }
            output.removeAll(keepingCapacity: true)
            core.handle(event, now: ControllerTime(seconds: seconds, unixMs: 1_790_000_000_000 + Int64(seconds * 1_000)), into: &output)
        }
        return core
    }
}

/// The network every controller input starts on: an ingress, two sites, a detour, and one pool
/// declared by the file; agents bring the rest.
func fuzzNetwork() -> Topology {
    let nodes = ["in", "east", "west", "mid"].map { Topology.Node(id: $0) }
    let links = [
        Topology.Link(id: "in-east", from: 0, to: 1, latencyMs: 2, capacityGbps: 10),
        Topology.Link(id: "in-west", from: 0, to: 2, latencyMs: 9, capacityGbps: 10),
        Topology.Link(id: "in-mid", from: 0, to: 3, latencyMs: 3, capacityGbps: 10),
        Topology.Link(id: "mid-east", from: 3, to: 1, latencyMs: 3, capacityGbps: 10),
    ]
    let pools = [Topology.Pool(id: "pool-0", node: 1, capacity: Resources(cpuCores: 16, memoryBytes: 64 << 30, gpus: ["A100": 4]))]
    return Topology(name: "fuzz", nodes: nodes, links: links, pools: pools)
}
