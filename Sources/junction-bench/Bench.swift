import ArgumentParser
import ClientCommands
import CZeroMQBaseline
import Topology
import Dispatch
import Foundation
import ZeroMQ

/// `junction bench`: measures Junction on this machine against baselines run in the same process.
/// A program of its own, so that the benchmarks and their C baseline stay out of the product;
/// `junction bench` runs it.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "junction bench",
        abstract: "Measure Junction against baselines in the same run.",
        subcommands: [BenchAll.self, ZeroMQBench.self, TopologyBench.self, PlacementBench.self, ControllerBench.self, RecoveryBench.self, MemoryBench.self, SimulationBench.self, DashboardBench.self],
        defaultSubcommand: BenchAll.self
    )

    static func main() async {
        await runAsRoot(Array(CommandLine.arguments.dropFirst()))
    }
}

/// `junction bench` on its own: every benchmark with its defaults, one after another.
struct BenchAll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run every benchmark with its defaults (several minutes; build with -c release first)."
    )

    @Option(help: "The 197-node topology the topology, placement and controller benchmarks use.")
    var topology = "Topologies/cogentco.yaml"

    func run() async throws {
        print("== ZeroMQ module against plain C")
        try await ZeroMQBench.parse([]).run()
        print("\n== topology files")
        try TopologyBench.parse([topology]).run()
        print("\n== placement engine")
        try PlacementBench.parse(["--topology", topology]).run()
        print("\n== the controller over loopback")
        try ControllerBench.parse(["--topology", topology]).run()
        print("\n== a controller restart over a large store")
        try await RecoveryBench.parse(["--topology", topology]).run()
        print("\n== the simulator")
        try SimulationBench.parse(["--topology", topology]).run()
    }
}

/// `junction bench zmq`: messaging through the ZeroMQ module against plain C libzmq.
struct ZeroMQBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zmq",
        abstract: "DEALER->ROUTER throughput and round trips over tcp loopback: ZeroMQ module vs plain C."
    )

    @Option(help: "Messages per throughput run.")
    var messages = 300_000

    @Option(help: "Message size in bytes.")
    var size = 200

    @Option(help: "Round trips per latency run.")
    var roundTrips = 10_000

    @Option(help: "Runs of each measurement; the median is reported.")
    var repeats = 3

    @Flag(help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        guard messages >= 1_000, size >= 1, roundTrips >= 100, repeats >= 1 else {
            throw ValidationError("--messages must be at least 1000, --round-trips at least 100, --size and --repeats at least 1")
        }
    }

    func run() async throws {
        var cThroughput: [Double] = [], socketThroughput: [Double] = [], loopThroughput: [Double] = []
        var cTrips: [[Double]] = [], loopTrips: [[Double]] = []
        for run in 1...repeats {
            progress("run \(run)/\(repeats): throughput (C, module socket, module loop)")
            cThroughput.append(try cBaselineThroughput())
            socketThroughput.append(try socketThroughputRun())
            loopThroughput.append(try await loopThroughputRun())
            progress("run \(run)/\(repeats): round trips (C, module loop)")
            cTrips.append(try cBaselineRoundTrips())
            loopTrips.append(try await loopRoundTrips())
        }
        let report = ZeroMQBenchReport(
            messageBytes: size,
            messages: messages,
            roundTrips: roundTrips,
            repeats: repeats,
            cMessagesPerSecond: median(cThroughput),
            socketMessagesPerSecond: median(socketThroughput),
            loopMessagesPerSecond: median(loopThroughput),
            cRoundTripP50Microseconds: median(cTrips.map { percentile($0, 0.50) }) / 1_000,
            cRoundTripP99Microseconds: median(cTrips.map { percentile($0, 0.99) }) / 1_000,
            loopRoundTripP50Microseconds: median(loopTrips.map { percentile($0, 0.50) }) / 1_000,
            loopRoundTripP99Microseconds: median(loopTrips.map { percentile($0, 0.99) }) / 1_000
        )
        if json {
            print(try jsonText(report))
        } else {
            print(report.table)
        }
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("\(text)\n".utf8))
    }

    private func cBaselineThroughput() throws -> Double {
        let rate = junction_baseline_dealer_router_throughput("tcp://127.0.0.1:*", Int32(messages), Int32(size))
        guard rate > 0 else { throw CommandFailure("C baseline failed: errno \(Int32(-rate))") }
        return rate
    }

    private func cBaselineRoundTrips() throws -> [Double] {
        var samples = [Double](repeating: 0, count: roundTrips)
        let result = junction_baseline_round_trips("tcp://127.0.0.1:*", Int32(roundTrips), Int32(size), &samples)
        guard result == 0 else { throw CommandFailure("C baseline round trips failed: errno \(-result)") }
        return samples
    }

    /// The module's `Socket` used directly: a sender thread owns the DEALER, this thread the ROUTER.
    private func socketThroughputRun() throws -> Double {
        let context = try Context()
        defer { context.terminate() }
        let router = try Socket(context, type: .router)
        defer { router.close() }
        try router.set(.linger(milliseconds: 0))
        try router.set(.receiveHighWaterMark(100_000))
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let (count, size) = (messages, size)
        let senderDone = DispatchSemaphore(value: 0)
        let sender = Thread {
            defer { senderDone.signal() }
            guard let dealer = try? Socket(context, type: .dealer) else { return }
            defer { dealer.close() }
            try? dealer.set(.sendHighWaterMark(100_000))
            try? dealer.set(.linger(milliseconds: -1))
            try? dealer.connect(endpoint)
            let message = Message([UInt8](repeating: 0, count: size))
            for _ in 0..<count { _ = try? dealer.send(message) }
        }
        sender.start()
        _ = try router.receive()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 1..<count { _ = try router.receive() }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        senderDone.wait()
        return Double(count - 1) / (Double(elapsed) / 1e9)
    }

    /// Both ends through `SocketLoop`, as the daemons use it: queued sends, batched async delivery.
    private func loopThroughputRun() async throws -> Double {
        let context = try Context()
        defer { context.terminate() }
        let router = try SocketLoop(
            context: context,
            sockets: [SocketSpec(.router, options: [.receiveHighWaterMark(100_000)], bind: ["tcp://127.0.0.1:*"], lingerMilliseconds: 0)],
            name: "bench-router"
        )
        defer { router.shutdown() }
        let dealer = try SocketLoop(
            context: context,
            sockets: [SocketSpec(.dealer, options: [.sendHighWaterMark(100_000)], connect: [router.boundEndpoints[0][0]], lingerMilliseconds: 0)],
            name: "bench-dealer"
        )
        defer { dealer.shutdown() }
        let (count, size) = (messages, size)
        let producer = Task {
            let message = Message([UInt8](repeating: 0, count: size))
            let chunk = [(socket: Int, message: Message)](repeating: (0, message), count: 1_000)
            var queued = 0
            while queued < count, !Task.isCancelled {
                // Keep the outgoing queue short, as a daemon would.
                while queued - dealer.statistics.sent > 20_000 { await Task.yield() }
                let batch = min(chunk.count, count - queued)
                dealer.send(Array(chunk.prefix(batch)))
                queued += batch
            }
        }
        defer { producer.cancel() }
        var received = 0
        var start: UInt64 = 0
        while received < count, let batch = await router.incoming.next() {
            if received == 0 { start = DispatchTime.now().uptimeNanoseconds }
            received += batch.count
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        guard received >= count else { throw CommandFailure("loop ended after \(received) of \(count) messages") }
        return Double(count) / (Double(elapsed) / 1e9)
    }

    /// Round trips from a DEALER loop to a ROUTER loop whose async consumer echoes each message.
    private func loopRoundTrips() async throws -> [Double] {
        let context = try Context()
        defer { context.terminate() }
        let router = try SocketLoop(context: context, sockets: [SocketSpec(.router, bind: ["tcp://127.0.0.1:*"], lingerMilliseconds: 0)], name: "bench-echo")
        defer { router.shutdown() }
        let dealer = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, connect: [router.boundEndpoints[0][0]], lingerMilliseconds: 0)], name: "bench-client")
        defer { dealer.shutdown() }
        let echo = Task {
            for await batch in router.incoming {
                router.send(batch.map { (socket: 0, message: $0.message) })
            }
        }
        defer { echo.cancel() }
        let message = Message([UInt8](repeating: 0, count: size))
        // Warm up the connection before timing.
        dealer.send(message)
        _ = await dealer.incoming.next()
        var samples: [Double] = []
        samples.reserveCapacity(roundTrips)
        for _ in 0..<roundTrips {
            let start = DispatchTime.now().uptimeNanoseconds
            dealer.send(message)
            guard await dealer.incoming.next() != nil else { throw CommandFailure("echo loop stopped") }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        return samples
    }
}

/// What `junction bench zmq` measured.
struct ZeroMQBenchReport: Codable {
    var messageBytes: Int
    var messages: Int
    var roundTrips: Int
    var repeats: Int
    var cMessagesPerSecond: Double
    var socketMessagesPerSecond: Double
    var loopMessagesPerSecond: Double
    var cRoundTripP50Microseconds: Double
    var cRoundTripP99Microseconds: Double
    var loopRoundTripP50Microseconds: Double
    var loopRoundTripP99Microseconds: Double

    var table: String {
        func rate(_ value: Double) -> String { String(format: "%12.0f msg/s", value) }
        func micro(_ value: Double) -> String { String(format: "%9.1f µs", value) }
        func ratio(_ value: Double) -> String { String(format: "%.2f", value) }
        return """
        DEALER->ROUTER over tcp loopback, \(messageBytes)-byte messages, median of \(repeats) runs
          throughput (\(messages) messages)
            plain C libzmq            \(rate(cMessagesPerSecond))
            ZeroMQ.Socket             \(rate(socketMessagesPerSecond))   \(ratio(socketMessagesPerSecond / cMessagesPerSecond)) × C
            ZeroMQ.SocketLoop (async) \(rate(loopMessagesPerSecond))   \(ratio(loopMessagesPerSecond / cMessagesPerSecond)) × C
          round trip (\(roundTrips) trips)         p50          p99
            plain C libzmq            \(micro(cRoundTripP50Microseconds))  \(micro(cRoundTripP99Microseconds))
            ZeroMQ.SocketLoop (async) \(micro(loopRoundTripP50Microseconds))  \(micro(loopRoundTripP99Microseconds))   p50 \(ratio(loopRoundTripP50Microseconds / cRoundTripP50Microseconds)) × C
        """
    }
}

func median(_ values: [Double]) -> Double {
    percentile(values, 0.5)
}

/// The nearest-rank percentile of `values` (0 < fraction <= 1).
func percentile(_ values: [Double], _ fraction: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((fraction * Double(sorted.count)).rounded(.up))
    return sorted[max(0, min(sorted.count - 1, rank - 1))]
}

/// `junction bench topology`: how long parsing and validating a topology file takes.
struct TopologyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Time parsing and validating topology files (YAML, or GraphML converted first).",
        discussion: "The clock covers Topology.load on the file's YAML text: parsing, validation and the model; not reading the file."
    )

    @Argument(help: "Topology files (.yaml) or Topology Zoo files (.graphml).")
    var files: [String]

    @Option(help: "Loads per file; the median and the fastest are reported.")
    var repeats = 20

    func run() throws {
        var rows: [[String]] = []
        for file in files {
            let text: String
            if file.hasSuffix(".graphml") {
                guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
                text = try GraphMLImporter.importTopology(data, file: file).topology.yaml()
            } else {
                text = try String(contentsOfFile: file, encoding: .utf8)
            }
            var samples: [Double] = []
            var topology: Topology?
            for _ in 0..<max(1, repeats) {
                let start = DispatchTime.now().uptimeNanoseconds
                topology = try Topology.load(yaml: text, file: file).topology
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            rows.append([
                URL(fileURLWithPath: file).lastPathComponent, "\(topology?.nodes.count ?? 0)", "\(topology?.links.count ?? 0)",
                "\(text.utf8.count / 1024) KiB", String(format: "%.2f ms", median(samples)), String(format: "%.2f ms", samples.min() ?? 0),
            ])
        }
        print(table(header: ["file", "nodes", "links", "size", "median", "fastest"], rows: rows))
    }
}
