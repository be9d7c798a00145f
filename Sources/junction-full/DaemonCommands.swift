import ArgumentParser
import ClientCommands
import CommandLineSupport
import ControllerCore
import Dispatch
import Foundation
import Logging
import Observability
import PoolAgentCore
import ServiceLifecycle
import Services
import Store
import Topology
import TopologyWire
import Wire
import ZeroMQ

/// Log options shared by the daemons.
struct LogOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func bootstrap(label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

/// `junction controller`: the daemon that places jobs.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the controller: pool sessions, placements, dispatch, events.",
        discussion: "SIGHUP reloads the topology file (a bad file changes nothing); SIGINT or SIGTERM shuts down gracefully."
    )

    @Option(help: "The topology file.")
    var topology: String

    @Option(help: "Endpoint for pool agents (ROUTER).")
    var pools = ControllerEndpoints.defaults.pools

    @Option(help: "Endpoint for clients (ROUTER).")
    var clients = ControllerEndpoints.defaults.clients

    @Option(help: "Endpoint for events (PUB).")
    var events = ControllerEndpoints.defaults.events

    @Option(help: "Heartbeat interval in ms.")
    var heartbeatMs: UInt32 = 1_000

    @Option(parsing: .unconditional, help: "A pool silent this long (ms) is down and its jobs move.")
    var livenessMs: UInt32 = 5_000

    @Option(help: ArgumentHelp("The directory of the job store (SQLite), locked to this controller. Default: $XDG_STATE_HOME/junction, or ~/.local/state/junction.", valueName: "dir"))
    var state: String?

    @Option(help: "normal: everything acknowledged survives kill -9 of the controller; full: it also survives a power loss, at a cost per commit.")
    var sync: StoreSync = .normal

    @Option(help: ArgumentHelp("Keep the jobs in PostgreSQL instead of --state, shared with other controllers given the same URL: one leads, the others stand by and take over when its lease runs out. postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]; the password may come from $PGPASSWORD.", valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp("This controller's name among those sharing --store, in the lease, logs and the answers standbys give (default: the host name).", valueName: "name"))
    var name: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("How long, in ms, the leader's lease on --store lasts unrenewed: a standby takes over at most this long after the leader dies. The leader renews every third of it.", valueName: "ms"))
    var leaseMs: Int64 = 6_000

    @Option(help: ArgumentHelp("The pools endpoint agents should use to reach this controller, when --pools binds a wildcard or an address they do not see (with --store).", valueName: "endpoint"))
    var advertisePools: String?

    @Option(help: ArgumentHelp("The clients endpoint clients should use to reach this controller (with --store).", valueName: "endpoint"))
    var advertiseClients: String?

    @Option(help: ArgumentHelp("The events endpoint observers should use to reach this controller (with --store).", valueName: "endpoint"))
    var advertiseEvents: String?

    @Option(help: "Seconds a job may wait for a pool before it fails, unless its submit says.")
    var placementDeadlineS: Double = 3_600

    @Option(parsing: .unconditional, help: "How far ahead, in seconds, a job with no room now may be planned to start on a pool (when jobs there end); 0 refuses a submit that fits nowhere now.")
    var planHorizonS: Double = 86_400

    @Option(parsing: .unconditional, help: "The runtime, in seconds, a plan assumes for a job whose submit gives none (--runtime-s).")
    var defaultRuntimeS: Double = 3_600

    @Option(parsing: .unconditional, help: "How many times a planned job may move to another pool for an earlier completion.")
    var maxPlanMoves: UInt32 = 3

    @Option(parsing: .unconditional, help: ArgumentHelp("How long, in seconds, a batch pool's jobs (a Slurm pool's: they run on without its agent) stay on it after its agent goes silent, for an agent to come back and report them, before they are placed again; 0 places them again at once.", valueName: "s"))
    var batchGraceS: Double = 600

    @Option(help: ArgumentHelp("The access file (YAML): the controller's key pair and the pool and client keys it lets in, each with what it may do. Every endpoint then runs CURVE.", valueName: "file"))
    var access: String?

    @Flag(help: "Listen beyond loopback without keys: anyone who reaches the ports may register pools and submit jobs.")
    var insecure = false

    @Option(parsing: .unconditional, help: "The largest topology file read, at start or on a reload, in MiB.")
    var maxTopologyMib = Topology.defaultMaximumBytes >> 20

    @Option(help: ArgumentHelp("Another topology file an operator's reload request may name (repeatable); --topology always may.", valueName: "file"))
    var reloadable: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("Requests a second one client connection may send on average; more get RATE_LIMITED. 0 takes every request.", valueName: "n"))
    var clientRate: Double = 10_000

    @Option(parsing: .unconditional, help: ArgumentHelp("Requests one client connection may send at once beyond --client-rate.", valueName: "n"))
    var clientBurst: Double = 20_000

    @OptionGroup var admin: AdminOptions

    @OptionGroup var log: LogOptions

    @OptionGroup var configFile: ConfigFileOption

    func validate() throws {
        try checkRanges([
            ("--client-rate", clientRate, 0, 1e9), ("--client-burst", clientBurst, 1, 1e9),
            ("--plan-horizon-s", planHorizonS, 0, 365 * 86_400), ("--default-runtime-s", defaultRuntimeS, 1, 3.2e8),
            ("--max-plan-moves", Double(maxPlanMoves), 0, 100), ("--batch-grace-s", batchGraceS, 0, 7 * 86_400), ("--liveness-ms", Double(livenessMs), 100, 86_400_000),
            ("--lease-ms", Double(leaseMs), 1_000, 600_000),
        ])
        if let store {
            do {
                _ = try PostgresLocation(url: store)
            } catch {
                throw ValidationError("--store: \(error)")
            }
            if state != nil { throw ValidationError("give --state (SQLite, one controller) or --store (PostgreSQL, shared), not both") }
        } else if let shared = [("--name", name), ("--advertise-pools", advertisePools), ("--advertise-clients", advertiseClients), ("--advertise-events", advertiseEvents)].first(where: { $0.1 != nil }) {
            throw ValidationError("\(shared.0) names this controller among others sharing a store: give --store too")
        }
        if let name, name.isEmpty || name.count > 128 || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ValidationError("--name must be 1 to 128 printable characters")
        }
        for (option, endpoint) in [("--advertise-pools", advertisePools), ("--advertise-clients", advertiseClients), ("--advertise-events", advertiseEvents)] {
            if let endpoint, let problem = endpointProblem(endpoint) { throw ValidationError("\(option): \(problem)") }
        }
        guard placementDeadlineS.isFinite, placementDeadlineS > 0, placementDeadlineS <= 365 * 86_400 else {
            throw ValidationError("--placement-deadline-s must be above 0 and at most 31536000, not \(placementDeadlineS)")
        }
        guard maxTopologyMib > 0, maxTopologyMib <= 4_096 else {
            throw ValidationError("--max-topology-mib must be 1 to 4096, not \(maxTopologyMib)")
        }
        for (option, endpoint) in [("--pools", pools), ("--clients", clients), ("--events", events)] {
            if let problem = endpointProblem(endpoint) { throw ValidationError("\(option): \(problem)") }
        }
        if access == nil, !insecure, let open = [pools, clients, events].first(where: { !isLoopback($0) }) {
            throw ValidationError("\(open) listens beyond loopback without keys: give --access FILE (see Deploy/README.md), or --insecure on a network you trust")
        }
    }

    func run() async throws {
        let logger = log.bootstrap(label: "junction.controller")
        let descriptors = raiseDescriptorLimit()
        if descriptors < 4_096 {
            logger.warning("only \(descriptors) file descriptors: each pool and client connection takes one; raise the hard limit (LimitNOFILE= in the systemd unit, ulimit -Hn)")
        }
        if insecure {
            logger.warning("running without keys (--insecure): anyone who reaches the ports may register pools, submit jobs and change links")
        }
        var security: ControllerSecurity?
        if let access {
            do {
                security = try ControllerSecurity(accessFile: access)
            } catch {
                throw CommandFailure("\(access) is not a valid access file:\n\(error)")
            }
        }
        let loaded = try loadTopology(topology, maximumBytes: maxTopologyMib << 20)
        var configuration = ControllerConfiguration()
        configuration.heartbeatIntervalMs = heartbeatMs
        configuration.livenessMs = livenessMs
        configuration.placementDeadlineS = placementDeadlineS
        configuration.planHorizonS = planHorizonS
        configuration.defaultRuntimeS = defaultRuntimeS
        configuration.maxPlanMoves = maxPlanMoves
        configuration.batchGraceS = batchGraceS
        configuration.reloadablePaths = Set([topology] + reloadable)
        configuration.clientRequestsPerSecond = clientRate
        configuration.clientRequestBurst = clientBurst
        let (store, leadership, storeText) = try openStore(logger: logger)
        let assembly: ControllerAssembly
        do {
            assembly = try ControllerAssembly(
                topology: loaded, topologyPath: topology,
                endpoints: ControllerEndpoints(pools: pools, clients: clients, events: events),
                configuration: configuration, store: store, leadership: leadership, security: security, maximumTopologyBytes: maxTopologyMib << 20,
                adminAddress: try admin.address(), logger: logger
            )
        } catch let error as StoreError {
            throw CommandFailure("\(error)")
        } catch {
            throw CommandFailure("cannot listen: \(error); is another controller running on these ports? Pick others with --pools, --clients and --events")
        }
        let service = assembly.controller
        var banner = [
            "controller: \(loaded.name), \(loaded.nodes.count) nodes, \(loaded.links.count) links, \(loaded.pools.count) declared pools",
            "  store   \(storeText)",
            "  pools   \(service.endpoints.pools)",
            "  clients \(service.endpoints.clients)",
            "  events  \(service.endpoints.events)",
        ]
        if let security {
            banner.append("  keys    CURVE, server key \(security.keyPair.publicKey); \(security.policy.pools.count) pool and \(security.policy.clients.count) client keys allowed")
        }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP)
        hangup.setEventHandler { service.reload() }
        hangup.resume()
        if let server = assembly.admin { announce(server, logger: logger) }
        let group = ServiceGroup(configuration: .init(services: [Banner(lines: banner)] + assembly.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        hangup.cancel()
    }
}

extension ControllerCommand {
    /// The store the options name: SQLite under --state, or PostgreSQL shared with other
    /// controllers (with the lease that picks the leader); and how to describe it.
    func openStore(logger: Logger) throws -> (any ControllerStore, LeadershipSettings?, String) {
        guard let url = store else {
            let directory = state ?? defaultStateDirectory()
            do {
                let store = try SQLiteStore(directory: directory, sync: sync)
                return (store, nil, "\(store.path) (sync \(sync.rawValue))")
            } catch {
                throw CommandFailure("\(error)")
            }
        }
        var location = try PostgresLocation(url: url)
        if location.password == nil, let password = ProcessInfo.processInfo.environment["PGPASSWORD"], !password.isEmpty { location.password = password }
        let shared: PostgresStore
        do {
            // A call to the store never blocks the loop past a third of the lease.
            shared = try PostgresStore(location: location, timeout: .milliseconds(max(500, leaseMs / 3)), logger: logger)
        } catch {
            throw CommandFailure("\(error)")
        }
        let advertised = ControllerEndpoints(
            pools: advertisePools ?? reachable(pools), clients: advertiseClients ?? reachable(clients), events: advertiseEvents ?? reachable(events)
        )
        // Ephemeral ports are only known once bound: then the service advertises what it bound.
        let fixed = [advertised.pools, advertised.clients, advertised.events].allSatisfy { !$0.hasSuffix(":0") && !$0.hasSuffix(":*") }
        let leadership = LeadershipSettings(election: shared, name: name ?? hostName(), advertised: fixed ? advertised : nil, leaseMs: leaseMs)
        return (shared, leadership, "\(location.description), shared: \(leadership.name) leads or stands by (lease \(leaseMs) ms)")
    }
}

extension ControllerCommand: CheckedConfiguration {
    func fileProblems() -> [String] {
        var problems: [String] = []
        for file in [topology] + reloadable {
            do {
                _ = try Topology.load(contentsOf: file, maximumBytes: maxTopologyMib << 20)
            } catch {
                problems += error.problems.map(\.description)
            }
        }
        if let access {
            do {
                _ = try ControllerSecurity(accessFile: access)
            } catch {
                problems += error.problems.map(\.description)
            }
        }
        do {
            _ = try admin.address()
        } catch {
            problems.append("\(error)")
        }
        return problems
    }
}

/// `--config FILE` on the daemons; `ConfigFile.expand` reads the file before the command line is parsed.
struct ConfigFileOption: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp("A configuration file (YAML) whose keys are this command's long options; options given here win. `junction config check FILE` checks one.", valueName: "file"))
    var path: String?
}

/// The admin endpoint's address, shared by the daemons.
struct AdminOptions: ParsableArguments {
    @Option(name: .customLong("admin"), help: ArgumentHelp("Serve metrics (/metrics) and health (/healthz, /readyz) over HTTP on HOST:PORT, such as 127.0.0.1:7413; the controller also serves its read-only JSON API and dashboard there. Off unless given.", valueName: "host:port"))
    var text: String?

    func validate() throws {
        _ = try address()
    }

    func address() throws -> AdminAddress? {
        guard let text else { return nil }
        do {
            return try AdminAddress(parsing: text)
        } catch {
            throw ValidationError("--admin: \(error)")
        }
    }
}

/// Prints where the admin endpoint listens once it does, and warns when it is reachable beyond
/// this machine: it has no keys of its own.
/// Prints what a daemon serves once its service group handles SIGTERM and SIGINT, so that a
/// signal sent on seeing these lines (as a service manager or a test does) stops the daemon
/// gracefully instead of killing it; then waits for the shutdown. First in the group, so it
/// stops last.
struct Banner: Service {
    let lines: [String]

    func run() async throws {
        for line in lines { print(line) }
        fflush(nil)
        try? await gracefulShutdown()
    }
}

func announce(_ server: AdminServer, dashboard: Bool = true, logger: Logger) {
    if !server.address.isLoopback {
        logger.warning("the admin endpoint \(server.address) is reachable beyond this machine and asks no key: anyone who reaches it reads metrics\(dashboard ? ", jobs and the network" : "")")
    }
    Task {
        guard let port = await server.port() else { return }
        var address = server.address
        address.port = port
        print("  admin   http://\(address)\(dashboard ? "/ (dashboard), /metrics, /healthz, /readyz, /api/v1/" : " /metrics, /healthz, /readyz")")
        fflush(nil)
        logger.notice("admin endpoint listening", metadata: ["url": "http://\(address)"])
    }
}

/// Raises the soft limit on open files to the hard one, as a daemon with a connection per peer
/// needs, and returns the limit now in force.
func raiseDescriptorLimit() -> UInt64 {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return UInt64(limit.rlim_cur)
}

/// Where the controller keeps its store when not told: the XDG state directory.
func defaultStateDirectory() -> String {
    let environment = ProcessInfo.processInfo.environment
    if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/junction" }
    return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/junction"
}

extension StoreSync: ExpressibleByArgument {}

/// `junction pool`: the agent on a compute pool.
struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Run a pool agent: advertise capacity to the controller and run the jobs it sends.",
        discussion: """
        Without --cpu and --memory-gib, capacity is read from /proc, and GPUs from nvidia-smi where present.

        With --executor slurm, the pool is a Slurm cluster's partition: capacity and queue wait come from sinfo and squeue, jobs go to sbatch, and an agent started again on the same --work-dir follows the jobs its predecessor left in Slurm. The work directory must be on a file system the cluster's nodes share.
        """
    )

    @Option(help: "The pool's id.")
    var id: String

    @Option(help: "The node the pool attaches to (not needed when the topology declares the pool).")
    var node: String = ""

    @Option(name: .customLong("pools"), help: ArgumentHelp("The controller's pools endpoint, as its --pools names it; several, comma-separated, for controllers sharing a store: the agent follows the one that leads (default: $JUNCTION_POOLS, else \(ControllerEndpoints.defaults.pools)).", valueName: "endpoint[,endpoint]"))
    var givenPools: String?

    /// The name this option had before the controller's endpoints got one name each.
    @Option(name: .customLong("controller"), help: .hidden)
    var formerControllerOption: String?

    /// The pools endpoint: as given, else from the environment, else the default.
    var controller: String {
        givenPools ?? formerControllerOption ?? ProcessInfo.processInfo.environment["JUNCTION_POOLS"].flatMap { $0.isEmpty ? nil : $0 } ?? ControllerEndpoints.defaults.pools
    }

    /// Each controller's pools endpoint, in the order tried.
    var controllers: [String] { endpointList(controller) }

    @Option(parsing: .unconditional, help: "CPU cores to offer.")
    var cpu: Double?

    @Option(parsing: .unconditional, help: "Memory to offer, in GiB.")
    var memoryGib: Double?

    @Option(help: ArgumentHelp("GPUs as MODEL:COUNT[,MODEL:COUNT].", valueName: "gpus"))
    var gpus: String?

    @Option(name: .customLong("label"), help: ArgumentHelp("A label KEY=VALUE. Repeatable.", valueName: "label"))
    var labels: [String] = []

    @Option(parsing: .unconditional, help: "Price per core-hour. Without it and --price-gpu-hour, the topology's prices for the pool stand (none: free).")
    var priceCoreHour: Double?

    @Option(name: .customLong("price-gpu-hour"), help: ArgumentHelp("Price per GPU-hour as MODEL=PRICE. Repeatable.", valueName: "price"))
    var gpuPrices: [String] = []

    @Option(parsing: .unconditional, help: "Speed relative to a reference pool. Without it, the topology's speed for the pool stands (none: 1).")
    var speed: Double?

    @Option(help: ArgumentHelp("Where jobs run: local processes on this machine, or slurm: batch jobs in a Slurm cluster.", valueName: "local|slurm"))
    var executor: ExecutorKind = .local

    @Option(help: ArgumentHelp("The Slurm partition the pool is made of and jobs go to (default: every node; jobs to the default partition).", valueName: "name"))
    var partition: String?

    @Option(help: ArgumentHelp("The Slurm account jobs are charged to.", valueName: "name"))
    var account: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("How often, in ms, Slurm's queue and nodes are read.", valueName: "ms"))
    var slurmPollMs: Int = 2_000

    @Option(help: "Where jobs run: one folder per job with its stdout and stderr.")
    var workDir: String = FileManager.default.temporaryDirectory.appendingPathComponent("junction-jobs").path

    @OptionGroup var keys: KeyOptions

    @OptionGroup var admin: AdminOptions

    @OptionGroup var log: LogOptions

    @OptionGroup var configFile: ConfigFileOption

    func validate() throws {
        // Each named, with its range: NaN is not "negative", and a pool past these does not exist.
        try checkRanges([("--cpu", cpu, 0, 1e7), ("--memory-gib", memoryGib, 0, 1e9), ("--speed", speed, 1e-6, 1e6), ("--price-core-hour", priceCoreHour, 0, 1e9)])
        if givenPools != nil, formerControllerOption != nil {
            throw ValidationError("give the controller's pools endpoint once, with --pools")
        }
        let option = givenPools != nil ? "--pools" : formerControllerOption != nil ? "--controller" : "$JUNCTION_POOLS"
        try checkEndpointList(controllers, option: option, role: "the controller's pools endpoint")
        if executor == .slurm {
            let configured = [("--cpu", cpu != nil), ("--memory-gib", memoryGib != nil), ("--gpus", gpus != nil)].filter(\.1).map(\.0)
            if !configured.isEmpty {
                throw ValidationError("\(configured.joined(separator: ", ")): with --executor slurm the pool's capacity is what Slurm reports (sinfo); leave \(configured.count == 1 ? "it" : "them") out")
            }
        } else if partition != nil || account != nil {
            throw ValidationError("--partition and --account are for --executor slurm")
        }
        guard (100...600_000).contains(slurmPollMs) else {
            throw ValidationError("--slurm-poll-ms must be from 100 to 600000, not \(slurmPollMs)")
        }
    }

    /// Slurm's settings, with --executor slurm.
    var slurm: SlurmSettings? {
        executor == .slurm ? SlurmSettings(partition: partition, account: account, pollIntervalS: Double(slurmPollMs) / 1_000) : nil
    }

    func agentConfiguration() throws -> AgentConfiguration {
        var capacity = Resources(
            cpuCores: cpu ?? PoolHardware.cores,
            memoryBytes: memoryGib.map { UInt64($0 * Double(1 << 30)) } ?? PoolHardware.memoryBytes
        )
        var devices: [String: [UInt32]] = [:]
        if let gpus {
            capacity.gpus = try parseCounts(gpus, flag: "--gpus")
        } else if executor == .local {
            devices = PoolHardware.gpus()
            capacity.gpus = devices.mapValues(\.count)
        }
        var labelMap: [String: String] = [:]
        for label in labels {
            let parts = label.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--label takes KEY=VALUE; got \(label)") }
            labelMap[String(parts[0])] = String(parts[1])
        }
        var gpuHour: [String: Double] = [:]
        for price in gpuPrices {
            let parts = price.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Double(parts[1]), value.isFinite, value >= 0, value <= 1e9 else {
                throw ValidationError("--price-gpu-hour takes MODEL=PRICE, a price from 0 to 1000000000; got \(price)")
            }
            gpuHour[String(parts[0])] = value
        }
        // An agent that names any price states its whole price list.
        let price = priceCoreHour != nil || !gpuHour.isEmpty ? Price(cpuCoreHour: priceCoreHour ?? 0, gpuHour: gpuHour) : nil
        var configuration = AgentConfiguration(poolID: id, node: node, capacity: capacity, labels: labelMap, price: price, speed: speed)
        configuration.gpuDevices = devices
        return configuration
    }

    func run() async throws {
        let logger = log.bootstrap(label: "junction.pool")
        if formerControllerOption != nil {
            logger.warning("junction pool --controller is now --pools, the name the controller gives that endpoint; --controller names the clients endpoint on client commands")
        }
        let configuration = try agentConfiguration()
        let adminAddress = try admin.address()
        let export = adminAddress.map { _ in PrometheusExport(help: AgentMetrics.help, durationBuckets: AgentMetrics.durationBuckets) }
        let service = try PoolAgentService(
            configuration: configuration, controllers: controllers, workDirectory: URL(fileURLWithPath: workDir).appendingPathComponent(id), logger: logger,
            curve: keys.curve(), metrics: export, slurm: slurm
        )
        let source = executor == .slurm ? " in Slurm\(partition.map { " partition \($0)" } ?? "")" : ""
        let banner = "pool \(id): \(decimal(service.capacity.cpuCores)) cores, \(decimal(service.capacity.memoryGiB)) GiB\(gpuText(service.capacity.gpus))\(source); controller \(controllers.joined(separator: ", "))"
        var services: [any Service] = [Banner(lines: [banner]), service]
        if let adminAddress, let export {
            let server = AdminServer(address: adminAddress, source: AgentAdmin(service: service, export: export), logger: logger)
            services.append(server)
            announce(server, dashboard: false, logger: logger)
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Where a pool agent runs its jobs.
enum ExecutorKind: String, ExpressibleByArgument, CaseIterable {
    case local
    case slurm
}

/// Parses MODEL:COUNT[,MODEL:COUNT].
func parseCounts(_ text: String, flag: String) throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for part in text.split(separator: ",") {
        let pieces = part.split(separator: ":")
        guard pieces.count == 2, let count = Int(pieces[1]), count >= 0 else {
            throw ValidationError("\(flag) takes MODEL:COUNT[,MODEL:COUNT], such as H100:8,A100:2; got \(text)")
        }
        counts[String(pieces[0])] = count
    }
    return counts
}

/// Whether an endpoint is reachable only from this machine.
func isLoopback(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://") else { return false }
    let host = endpoint.dropFirst("tcp://".count).split(separator: ":").dropLast().joined(separator: ":")
    return host == "localhost" || host.hasPrefix("127.") || host == "[::1]" || host == "::1"
}

extension PoolCommand: CheckedConfiguration {
    func fileProblems() -> [String] {
        var problems: [String] = []
        do {
            _ = try agentConfiguration()
            _ = try keys.curve()
            _ = try admin.address()
        } catch let error as ValidationError {
            problems.append(error.message)
        } catch {
            problems.append("\(error)")
        }
        return problems
    }
}

/// `junction keygen`: a CURVE key pair for the controller, a pool agent or a client.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: NAME.key (both keys, mode 0600) and NAME.pub (the public key).",
        discussion: "List the .pub in the controller's access file (--access); give the .key to the peer that owns it (--key). An existing key is never overwritten."
    )

    @Argument(help: ArgumentHelp("The path and name of the files to write, without extension (or give it as --out).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("The path and name of the files to write, without extension.", valueName: "name"))
    var out: String?

    func validate() throws {
        guard (name == nil) != (out == nil) else {
            throw ValidationError(name == nil ? "name the files to write: junction keygen NAME (or --out NAME)" : "name the files once: NAME or --out NAME, not both")
        }
    }

    func run() throws {
        let out = out ?? name ?? ""
        do {
            let pair = try CurveKeyPair.generate()
            try pair.write(to: out)
            print("wrote \(out).key (secret) and \(out).pub")
            print("public key \(pair.publicKey)")
        } catch let error as KeyFileError {
            throw CommandFailure(error.description)
        }
    }
}
