import ArgumentParser
import ClientCommands
import CommandLineSupport
import ControllerCore
import CZeroMQBaseline
import Dispatch
import Foundation
import Logging
import Observability
import Services
import Synchronization
import Store
import Topology
import TopologyWire
import Wire
import ZeroMQ

/// `junction bench controller`: the whole controller over loopback against bare baselines.
struct ControllerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Advertisement intake, submit-to-dispatch round trips and placements/s through a running controller.",
        discussion: """
        Starts a controller in this process on the Cogent network with 1,000 declared pools, and \
        1,000 pool connections (DEALER sockets on one thread) that register as those pools. \
        Baselines run in the same process first: a bare ROUTER receiving and decoding the same \
        advertisements, and plain C libzmq round trips.
        """
    )

    @Option(help: "A topology file for the controller.")
    var topology = "Topologies/cogentco.yaml"

    @Option(help: "Pools to connect.")
    var pools = 1_000

    @Option(help: "Advertisements to send.")
    var advertisements = 200_000

    @Option(help: "Submits to time one by one.")
    var submits = 2_000

    @Option(help: "Placements to ask for, 64 in flight.")
    var placements = 20_000

    @Option(help: "Submits to send with 64 in flight, for the submit rate.")
    var pipelinedSubmits = 20_000

    @Option(help: "The controller's job store: sqlite (durable, in a temporary directory), memory, or postgres (--postgres-url, an empty database; Tests/Postgres/postgres.sh starts one).")
    var store: BenchStore = .sqlite

    @Option(help: ArgumentHelp("With --store postgres: the database, which must hold no jobs yet.", valueName: "url"))
    var postgresURL: String?

    enum BenchStore: String, ExpressibleByArgument, CaseIterable {
        case sqlite, memory, postgres
    }

    @Flag(help: "Then measure intake and submit round trips again against a controller whose endpoints run CURVE, in the same run.")
    var curve = false

    @Flag(help: "Then measure intake with Prometheus metrics and the admin endpoint on, in rounds alternately with and without scraping /metrics, in the same run.")
    var scrape = false

    @Option(help: "With --scrape: the time between scrapes, in ms.")
    var scrapeIntervalMs = 1_000

    @Flag(help: "Print the results as JSON.")
    var json = false

    /// With --scrape: intake with metrics on, without and with scraping, over alternating rounds.
    struct ScrapeReport: Codable {
        var rounds: Int
        var advertisementsPerRound: Int
        var intakeWithoutScrapingPerSecond: Double
        var intakeWhileScrapingPerSecond: Double
        /// The share of intake scraping costs: the median over scraped rounds of 1 - the round's
        /// rate / the mean rate of the rounds before and after it.
        var scrapingCost: Double
        var scrapes: Int
        var scrapeP50Milliseconds: Double
        var expositionBytes: Int
        /// CPU one scrape costs the controller's loop thread (reading the core's gauges) and its
        /// admin thread (the HTTP request and the exposition), measured on an idle controller.
        var loopCPUPerScrapeMilliseconds: Double
        var adminCPUPerScrapeMilliseconds: Double
        /// At one scrape per interval, the share of one core both take: what intake, bound by
        /// the loop thread, could lose at most.
        var shareOfOneCore: Double
    }

    struct Report: Codable {
        var pools: Int
        var bareDecodePerSecond: Double
        var controllerAdvertisementsPerSecond: Double
        var intakeRatio: Double
        var rawRoundTripP50Microseconds: Double
        var rawRoundTripP99Microseconds: Double
        var submitToDispatchP50Microseconds: Double
        var submitToDispatchP99Microseconds: Double
        var roundTripRatioP50: Double
        var placementsPerSecond: Double
        var store: String
        var submitsPerSecond: Double
        /// CPU time of the controller's loop thread per pipelined submit: what the rate costs,
        /// less sensitive than the rate to what else the machine runs.
        var loopCPUMicrosecondsPerSubmit: Double
        /// With --curve: the same intake and round trips through a controller running CURVE.
        var curveAdvertisementsPerSecond: Double?
        var curveSubmitToDispatchP50Microseconds: Double?
        var curveSubmitToDispatchP99Microseconds: Double?
        var scraping: ScrapeReport?
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let network = try loadTopology(topology, quiet: true).withSyntheticPools(pools, seed: 1)
        let messages = try encodedAdvertisements(network)

        progress("bare receive-and-decode loop: \(advertisements) advertisements from \(pools) connections")
        let bare = try bareDecodeRate(messages)

        progress("starting the controller (\(store.rawValue) store)")
        let plain = try BenchController(network: network, topology: topology, store: store, postgresURL: postgresURL, keys: nil)
        defer { plain.close() }

        progress("controller intake: the same advertisements")
        let intake = try plain.intake(messages)

        progress("raw libzmq round trips")
        var raw = [Double](repeating: 0, count: submits)
        guard junction_baseline_round_trips("tcp://127.0.0.1:*", Int32(submits), 200, &raw) == 0 else { throw CommandFailure("the C baseline failed") }

        progress("submit-to-dispatch round trips")
        let submitTimes = try plain.agents.submitRoundTrips(client: plain.client, network: network, count: submits)

        progress("submits through the controller, 64 in flight")
        let loopCPUBefore = threadCPUSeconds(prefix: "controller-sock")
        let submitRate = try submitsPerSecond(client: plain.client, network: network)
        let loopCPUPerSubmit = (threadCPUSeconds(prefix: "controller-sock") - loopCPUBefore) / Double(pipelinedSubmits) * 1e6

        progress("placements through the controller")
        let placementRate = try placementsPerSecond(client: plain.client, network: network)
        plain.close()

        var curved: (intake: Double, submitTimes: [Double])?
        if curve {
            progress("the same intake and round trips through a controller running CURVE")
            let keys = try BenchKeys(pools: network.pools.map(\.id))
            let secured = try BenchController(network: network, topology: topology, store: store, postgresURL: postgresURL, keys: keys)
            defer { secured.close() }
            curved = (try secured.intake(messages), try secured.agents.submitRoundTrips(client: secured.client, network: network, count: submits))
        }

        var scraping: ScrapeReport?
        if scrape {
            progress("intake with metrics on, alternately with and without scraping every \(scrapeIntervalMs) ms")
            scraping = try measureScraping(network: network)
        }

        var report = Report(
            pools: pools, bareDecodePerSecond: bare, controllerAdvertisementsPerSecond: intake, intakeRatio: intake / bare,
            rawRoundTripP50Microseconds: percentile(raw, 0.5) / 1_000, rawRoundTripP99Microseconds: percentile(raw, 0.99) / 1_000,
            submitToDispatchP50Microseconds: percentile(submitTimes, 0.5) / 1_000, submitToDispatchP99Microseconds: percentile(submitTimes, 0.99) / 1_000,
            roundTripRatioP50: percentile(submitTimes, 0.5) / percentile(raw, 0.5), placementsPerSecond: placementRate,
            store: store.rawValue, submitsPerSecond: submitRate, loopCPUMicrosecondsPerSubmit: loopCPUPerSubmit
        )
        if let curved {
            report.curveAdvertisementsPerSecond = curved.intake
            report.curveSubmitToDispatchP50Microseconds = percentile(curved.submitTimes, 0.5) / 1_000
            report.curveSubmitToDispatchP99Microseconds = percentile(curved.submitTimes, 0.99) / 1_000
        }
        report.scraping = scraping
        if json {
            print(try jsonText(report))
            return
        }
        print(String(format: "advertisement intake, %d pools: bare decode loop %.0f/s, controller %.0f/s applied (%.0f%%)", pools, bare, intake, report.intakeRatio * 100))
        print(String(format: "round trip: raw libzmq p50 %.1f µs p99 %.1f µs; submit-to-dispatch p50 %.1f µs p99 %.1f µs (p50 %.2f × raw)", report.rawRoundTripP50Microseconds, report.rawRoundTripP99Microseconds, report.submitToDispatchP50Microseconds, report.submitToDispatchP99Microseconds, report.roundTripRatioP50))
        print(String(format: "placements through the controller (explained dry runs, 64 in flight): %.0f/s", placementRate))
        print(String(format: "submits through the controller (%@ store, 64 in flight, every acknowledged job committed first): %.0f/s, %.1f µs of the loop thread's CPU each", store.rawValue, submitRate, loopCPUPerSubmit))
        if let intake = report.curveAdvertisementsPerSecond, let p50 = report.curveSubmitToDispatchP50Microseconds, let p99 = report.curveSubmitToDispatchP99Microseconds {
            print(String(format: "with CURVE on every endpoint: intake %.0f/s (%.0f%% of plain), submit-to-dispatch p50 %.1f µs p99 %.1f µs (p50 %.2f × plain)", intake, intake / report.controllerAdvertisementsPerSecond * 100, p50, p99, p50 / report.submitToDispatchP50Microseconds))
        }
        if let scraping {
            print(String(
                format: "with metrics on, %d rounds of %d advertisements: intake %.0f/s without scraping, %.0f/s while scraping every %d ms (median cost against the neighbouring rounds %.2f%%; %d scrapes, p50 %.1f ms, %d bytes each)",
                scraping.rounds, scraping.advertisementsPerRound, scraping.intakeWithoutScrapingPerSecond, scraping.intakeWhileScrapingPerSecond, scrapeIntervalMs,
                scraping.scrapingCost * 100, scraping.scrapes, scraping.scrapeP50Milliseconds, scraping.expositionBytes
            ))
            print(String(
                format: "one scrape costs %.2f ms of CPU on the controller's loop thread and %.2f ms on its admin thread: every %d ms, %.2f%% of one core",
                scraping.loopCPUPerScrapeMilliseconds, scraping.adminCPUPerScrapeMilliseconds, scrapeIntervalMs, scraping.shareOfOneCore * 100
            ))
        }
    }

    /// Submits acknowledged per second with 64 in flight. Each reply is sent only after its job
    /// is committed to the store, so with the SQLite store this is the durable submit rate.
    private func submitsPerSecond(client: Socket, network: Topology) throws -> Double {
        try pipelinedSubmitRate(client: client, network: network, count: pipelinedSubmits)
    }

    private func progress(_ text: String) {
        if !json { printError(text) }
    }

    /// Advertisements round-robin over the pools, each pool's sequence rising.
    /// Intake through a controller with metrics and its admin endpoint on, in rounds that take
    /// turns: without scraping, then with a scraper fetching /metrics every interval.
    private func measureScraping(network: Topology) throws -> ScrapeReport {
        // Rounds without and with scraping take turns, starting and ending without: each scraped
        // round is compared with the mean of its two neighbours, so a drift of the machine's
        // speed over the run does not count as the scrapes' cost.
        let pairs = 5
        let rounds = 2 * pairs + 1
        let messages = try encodedAdvertisements(network, count: advertisements * rounds)
        let export = PrometheusExport(help: ControllerMetrics.help, durationBuckets: ControllerMetrics.durationBuckets)
        let controller = try BenchController(network: network, topology: topology, store: store, postgresURL: postgresURL, keys: nil, metrics: export)
        defer { controller.close() }
        let server = AdminServer(address: AdminAddress(host: "127.0.0.1", port: 0), source: ControllerAdmin(service: controller.service, export: export), logger: quietLogger())
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        guard let port = waitFor({ await server.port() }) else { throw CommandFailure("the admin endpoint could not listen on 127.0.0.1") }
        var rates: [Double] = []
        var scrapeTimes: [Double] = []
        var size = 0
        for round in 0..<rounds {
            let slice = Array(messages[(round * advertisements)..<((round + 1) * advertisements)])
            guard round % 2 == 1 else {
                rates.append(try controller.intake(slice))
                continue
            }
            let scraper = Scraper(port: port, intervalMs: scrapeIntervalMs)
            scraper.start()
            rates.append(try controller.intake(slice))
            let done = scraper.stop()
            scrapeTimes += done.times
            size = done.bytes
        }
        guard !scrapeTimes.isEmpty else { throw CommandFailure("no scrape completed during the rounds: raise --advertisements so a round lasts longer than --scrape-interval-ms") }
        // CPU per scrape, from the threads' own counters: the same idle time without and then
        // with scrapes ten times a second; the difference is what the scrapes took.
        let idleSeconds = 5.0
        func cpu() -> (loop: Double, admin: Double) { (threadCPUSeconds(prefix: "controller-sock"), threadCPUSeconds(prefix: "NIO-ELT")) }
        let quietStart = cpu()
        usleep(UInt32(idleSeconds * 1e6))
        let quietEnd = cpu()
        let fast = Scraper(port: port, intervalMs: 100)
        fast.start()
        usleep(UInt32(idleSeconds * 1e6))
        let scrapedEnd = cpu()
        let fastScrapes = fast.stop().times.count
        let loopPerScrape = max(0, (scrapedEnd.loop - quietEnd.loop) - (quietEnd.loop - quietStart.loop)) / Double(max(1, fastScrapes))
        let adminPerScrape = max(0, (scrapedEnd.admin - quietEnd.admin) - (quietEnd.admin - quietStart.admin)) / Double(max(1, fastScrapes))

        var costs: [Double] = []
        var plain: [Double] = []
        var scraped: [Double] = []
        for round in 0..<rounds {
            guard round % 2 == 1 else {
                plain.append(rates[round])
                continue
            }
            scraped.append(rates[round])
            let neighbours = (rates[round - 1] + rates[round + 1]) / 2
            costs.append(1 - rates[round] / neighbours)
        }
        return ScrapeReport(
            rounds: rounds, advertisementsPerRound: advertisements,
            intakeWithoutScrapingPerSecond: percentile(plain, 0.5), intakeWhileScrapingPerSecond: percentile(scraped, 0.5),
            scrapingCost: percentile(costs, 0.5), scrapes: scrapeTimes.count, scrapeP50Milliseconds: percentile(scrapeTimes, 0.5) * 1_000, expositionBytes: size,
            loopCPUPerScrapeMilliseconds: loopPerScrape * 1_000, adminCPUPerScrapeMilliseconds: adminPerScrape * 1_000,
            shareOfOneCore: (loopPerScrape + adminPerScrape) * 1_000 / Double(scrapeIntervalMs)
        )
    }

    private func encodedAdvertisements(_ network: Topology, count: Int? = nil) throws -> [(pool: Int, bytes: [UInt8])] {
        var sequence = [UInt64](repeating: 1, count: network.pools.count)
        return try (0..<(count ?? advertisements)).map { index in
            let pool = index % network.pools.count
            sequence[pool] += 1
            var advertisement = Junction_V1_Advertisement()
            advertisement.poolID = network.pools[pool].id
            advertisement.sequence = sequence[pool]
            advertisement.free = network.pools[pool].capacity.wire
            advertisement.total = network.pools[pool].capacity.wire
            advertisement.queueWaitS = Double(index % 30)
            advertisement.timestampMs = 1_790_000_000_000 + Int64(index)
            return (pool, try WireMessage(.advertisement(advertisement)).serialized())
        }
    }

    private func bareDecodeRate(_ messages: [(pool: Int, bytes: [UInt8])]) throws -> Double {
        let context = try Context()
        defer { context.terminate() }
        let router = try Socket(context, type: .router)
        defer { router.close() }
        try router.set(.linger(milliseconds: 0))
        try router.set(.receiveHighWaterMark(0))
        try router.bind("tcp://127.0.0.1:*")
        let senders = try PoolConnections(context: context, endpoint: try router.lastEndpoint(), pools: (0..<pools).map { "bare-\($0)" })
        defer { senders.close() }
        // Every connection up before the clock starts, as the controller's are after registering.
        try senders.send(messages.prefix(pools).map { $0 })
        for _ in 0..<min(pools, messages.count) { _ = try router.receive() }
        let start = DispatchTime.now().uptimeNanoseconds
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let unsafeSenders = senders
        Thread {
            try? unsafeSenders.send(messages)
            done.signal()
        }.start()
        var decoded = 0
        while decoded < messages.count, let message = try router.receive() {
            if (try? WireMessage(bytes: message.frames[1])) != nil { decoded += 1 }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        done.wait()
        return Double(decoded) / elapsed
    }

    private func placementsPerSecond(client: Socket, network: Topology) throws -> Double {
        var requests: [[UInt8]] = []
        for index in 0..<min(placements, 1_000) {
            var place = Junction_V1_PlaceRequest()
            place.request.ingress = network.nodes[index % network.nodes.count].id
            place.request.cpuCores = Double(1 + index % 8)
            place.request.dataBytes = index % 3 == 0 ? 1_000_000_000 : 0
            place.request.runtimeS = 600
            requests.append(try WireMessage(.place(place), correlationID: UInt64(index + 1)).serialized())
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var sent = 0, received = 0
        while received < placements {
            while sent < placements, sent - received < 64 {
                try client.send(Message([requests[sent % requests.count]]))
                sent += 1
            }
            guard let reply = try client.receive() else { throw CommandFailure("no placement reply") }
            guard case .placement? = try? WireMessage(bytes: reply.frames[0]).body else { throw CommandFailure("unexpected reply to a placement") }
            received += 1
        }
        return Double(received) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}

/// Keys for a controller running CURVE in a benchmark: its own, one pool key bound to every pool,
/// and one operator client key.
struct BenchKeys {
    let security: ControllerSecurity
    let pool: CurveClientKeys
    let client: CurveClientKeys

    init(pools: [String]) throws {
        let server = try CurveKeyPair.generate()
        let pool = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        security = ControllerSecurity(
            keyPair: server, names: [pool.publicKey: "bench-pools", client.publicKey: "bench-client"],
            policy: AccessPolicy(pools: ["bench-pools": Set(pools)], clients: ["bench-client": .operator])
        )
        self.pool = CurveClientKeys(serverPublicKey: server.publicKey, keys: pool)
        self.client = CurveClientKeys(serverPublicKey: server.publicKey, keys: client)
    }
}

/// A controller in this process with its pools registered and a client connected.
final class BenchController {
    let service: ControllerService
    let agents: PoolConnections
    let client: Socket
    private let context: Context
    private let running: Task<Void, any Error>
    private let stateDirectory: String
    private var closed = false

    init(network: Topology, topology: String, store: ControllerBench.BenchStore, postgresURL: String? = nil, keys: BenchKeys?, metrics: PrometheusExport? = nil) throws {
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("junction-bench-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)").path
        let jobStore: any ControllerStore
        var shared: PostgresStore?
        switch store {
        case .sqlite: jobStore = try SQLiteStore(directory: stateDirectory)
        case .memory: jobStore = InMemoryStore()
        case .postgres:
            guard let postgresURL else { throw CommandFailure("--store postgres needs --postgres-url: an empty database (Tests/Postgres/postgres.sh start DIR prints one)") }
            shared = try PostgresStore(location: try PostgresLocation(url: postgresURL))
            jobStore = shared!
        }
        // The bench's pools read their dispatches only when timed and never answer the rest: no
        // dispatch times out during the run.
        var configuration = ControllerConfiguration()
        configuration.dispatchTimeoutS = 86_400
        configuration.livenessMs = 3_600_000
        configuration.staleAfterS = 86_400
        // One client connection drives every request here: the per-connection limit is off; and
        // intake measures what the loop can apply, so every advertisement is applied on arrival.
        configuration.clientRequestsPerSecond = 0
        configuration.advertisementsPerSecond = 0
        service = try ControllerService(
            topology: network, topologyPath: topology,
            endpoints: ControllerEndpoints(pools: "tcp://127.0.0.1:*", clients: "tcp://127.0.0.1:*", events: "tcp://127.0.0.1:*"),
            configuration: configuration, store: jobStore, leadership: shared.map { LeadershipSettings(election: $0, name: "bench") },
            security: keys?.security, metrics: metrics, logger: Logger(label: "junction.bench")
        )
        running = Task { [service] in try await service.run() }
        if let shared {
            // A shared store is served once the lease is taken; the bench compares empty stores.
            let deadline = Date().addingTimeInterval(30)
            while try shared.leader()?.name != "bench" {
                guard Date() < deadline else { throw CommandFailure("the bench controller did not take the lead of \(shared.location.description) within 30 s") }
                Thread.sleep(forTimeInterval: 0.05)
            }
            service.inspectWaiting { _ in }
            let held = try shared.jobCount()
            guard held == 0 else { throw CommandFailure("\(shared.location.description) already holds \(held) jobs; give the bench an empty database") }
        }
        context = try Context()
        agents = try PoolConnections(context: context, endpoint: service.endpoints.pools, pools: network.pools.map(\.id), curve: keys?.pool)
        try agents.registerAll()
        client = try Socket(context, type: .dealer)
        for option in keys?.client.socketOptions ?? [] { try client.set(option) }
        try client.set(.linger(milliseconds: 0))
        try client.set(.receiveTimeout(milliseconds: 10_000))
        try client.connect(service.endpoints.clients)
    }

    /// Advertisements applied per second, timed until the controller has applied all of them.
    func intake(_ messages: [(pool: Int, bytes: [UInt8])]) throws -> Double {
        let applied = service.inspectWaiting { $0.advertisementsApplied }
        let start = DispatchTime.now().uptimeNanoseconds
        try agents.send(messages)
        // Each look is a wake-up of the controller's loop: look rarely.
        while service.inspectWaiting({ $0.advertisementsApplied }) - applied < messages.count {
            if Double(DispatchTime.now().uptimeNanoseconds - start) > 120e9 {
                let counts = service.inspectWaiting { ($0.advertisementsApplied, $0.dropped) }
                throw CommandFailure("the controller applied only \(counts.0 - applied) advertisements in 120 s; dropped: \(counts.1)")
            }
            usleep(2_000)
        }
        return Double(messages.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    func close() {
        guard !closed else { return }
        closed = true
        client.close()
        agents.close()
        context.terminate()
        running.cancel()
        service.shutdown()
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }
}

/// Many DEALER connections that act as pool agents, all owned by the thread that uses them.
final class PoolConnections {
    let sockets: [Socket]
    let pools: [String]

    init(context: Context, endpoint: String, pools: [String], curve: CurveClientKeys? = nil) throws {
        self.pools = pools
        sockets = try pools.map { _ in
            let socket = try Socket(context, type: .dealer)
            for option in curve?.socketOptions ?? [] { try socket.set(option) }
            try socket.set(.linger(milliseconds: 0))
            try socket.set(.sendHighWaterMark(0))
            try socket.set(.receiveTimeout(milliseconds: 10_000))
            try socket.connect(endpoint)
            return socket
        }
    }

    func close() {
        for socket in sockets { socket.close() }
    }

    /// Registers every pool and waits for each welcome.
    func registerAll() throws {
        for (index, socket) in sockets.enumerated() {
            var register = Junction_V1_Register()
            register.poolID = pools[index]
            try socket.send(Message([try WireMessage(.register(register)).serialized()]))
        }
        for (index, socket) in sockets.enumerated() {
            guard let reply = try socket.receive(), case .welcome? = try? WireMessage(bytes: reply.frames[0]).body else {
                throw CommandFailure("pool \(pools[index]) got no welcome")
            }
        }
    }

    func send(_ messages: [(pool: Int, bytes: [UInt8])]) throws {
        for message in messages { try sockets[message.pool].send(Message([message.bytes])) }
    }

    /// Times submit → dispatch received by the chosen pool (the submit's reply names it),
    /// finishing each job at once so pools stay free.
    func submitRoundTrips(client: Socket, network: Topology, count: Int) throws -> [Double] {
        let index = Dictionary(uniqueKeysWithValues: pools.enumerated().map { ($1, $0) })
        var samples: [Double] = []
        for number in 0..<count {
            var submit = Junction_V1_SubmitRequest()
            submit.request.ingress = network.nodes[number % network.nodes.count].id
            submit.request.cpuCores = 1
            submit.request.runtimeS = 60
            submit.spec.command = "/bin/true"
            let bytes = try WireMessage(.submit(submit), correlationID: UInt64(number + 1)).serialized()
            let start = DispatchTime.now().uptimeNanoseconds
            try client.send(Message([bytes]))
            guard let reply = try client.receive(), case .submitted(let submitted)? = try? WireMessage(bytes: reply.frames[0]).body,
                  let pool = index[submitted.placement.winner.pool] else {
                throw CommandFailure("submit \(number) was not accepted")
            }
            var dispatch: Junction_V1_Dispatch?
            while dispatch == nil {
                guard let message = try sockets[pool].receive() else { throw CommandFailure("no dispatch within 10 s") }
                if case .dispatch(let received)? = try? WireMessage(bytes: message.frames[0]).body { dispatch = received }
            }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start))
            var update = Junction_V1_JobUpdate()
            update.jobID = dispatch!.jobID
            update.state = .succeeded
            try sockets[pool].send(Message([try WireMessage(.jobUpdate(update)).serialized()]))
        }
        return samples
    }
}

/// Fetches /metrics from an admin endpoint on its own thread, every interval, and times each.
final class Scraper: @unchecked Sendable {
    // @unchecked: `times`, `bytes` and `running` are guarded by `lock`.
    private let port: Int
    private let intervalMs: Int
    private let lock = NSLock()
    private var times: [Double] = []
    private var bytes = 0
    private var running = true
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int, intervalMs: Int) {
        self.port = port
        self.intervalMs = intervalMs
    }

    func start() {
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let start = DispatchTime.now().uptimeNanoseconds
                if let body = try? httpGet(port: port, path: "/metrics") {
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    lock.withLock {
                        times.append(seconds)
                        bytes = body.count
                    }
                }
                let next = start + UInt64(intervalMs) * 1_000_000
                while lock.withLock({ running }), DispatchTime.now().uptimeNanoseconds < next { usleep(5_000) }
            }
            finished.signal()
        }
    }

    func stop() -> (times: [Double], bytes: Int) {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { (times, bytes) }
    }
}

/// A plain HTTP/1.1 GET on loopback, answered until the server closes: the body, or an error.
func httpGet(port: Int, path: String) throws -> [UInt8] {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { throw CommandFailure("cannot connect to 127.0.0.1:\(port)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == request.count else { throw CommandFailure("cannot send to 127.0.0.1:\(port)") }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = recv(socket, &buffer, buffer.count, 0)
        if count <= 0 { break }
        response += buffer[..<count]
    }
    let separator: [UInt8] = [13, 10, 13, 10]
    guard let end = (0..<max(0, response.count - 3)).first(where: { Array(response[$0..<($0 + 4)]) == separator }),
          String(decoding: response.prefix(12), as: UTF8.self).hasSuffix("200") else {
        throw CommandFailure("GET \(path) on 127.0.0.1:\(port) did not answer 200")
    }
    return Array(response[(end + 4)...])
}

/// Runs async work from synchronous code (a benchmark's thread) and waits for its result.
func waitFor<Value: Sendable>(_ body: @escaping @Sendable () async -> Value) -> Value {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Value?>(nil)
    Task {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}

/// Sends `count` small submits with 64 in flight and returns how many were acknowledged per second.
func pipelinedSubmitRate(client: Socket, network: Topology, count: Int) throws -> Double {
    let window = 64
    var sent = 0, answered = 0
    func submit() throws {
        var request = Junction_V1_SubmitRequest()
        request.request.ingress = network.nodes[sent % network.nodes.count].id
        request.request.cpuCores = 0.001
        request.spec.command = "/bin/true"
        sent += 1
        try client.send(Message([try WireMessage(.submit(request), correlationID: UInt64(1_000_000 + sent)).serialized()]))
    }
    let start = DispatchTime.now().uptimeNanoseconds
    while sent < min(window, count) { try submit() }
    while answered < count {
        guard let reply = try client.receive() else { throw CommandFailure("no submit reply within 10 s (\(answered) of \(count))") }
        let body = try? WireMessage(bytes: reply.frames[0]).body
        guard case .submitted? = body else {
            let reason = if case .error(let error)? = body { error.message } else { "an unexpected reply" }
            throw CommandFailure("submit \(answered + 1) was not accepted: \(reason)")
        }
        answered += 1
        if sent < count { try submit() }
    }
    return Double(answered) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// CPU seconds used so far by this process's threads whose names start with `prefix` (Linux
/// names are cut to 15 bytes), from /proc: the scheduler's run time in nanoseconds where the
/// kernel keeps it, else user and system time in clock ticks.
func threadCPUSeconds(prefix: String) -> Double {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    var total = 0.0
    for task in tasks {
        guard let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8), name.hasPrefix(prefix) else { continue }
        if let schedule = try? String(contentsOfFile: "/proc/self/task/\(task)/schedstat", encoding: .utf8),
           let nanoseconds = schedule.split(separator: " ").first.flatMap({ Double($0) }) {
            total += nanoseconds / 1e9
            continue
        }
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { continue }
        // After the command name: utime is field 14 and stime 15 of the whole line.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
        total += (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
    return total
}

/// A logger for a benchmark's admin server, stopped by cancelling it: only what is critical.
func quietLogger() -> Logger {
    var logger = Logger(label: "junction.bench")
    logger.logLevel = .critical
    return logger
}
