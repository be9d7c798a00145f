import ArgumentParser
import ClientCommands
import CommandLineSupport
import ControllerCore
import Foundation
import JunctionClient
import Logging
import Observability
import Placement
import PoolAgentCore
import ServiceLifecycle
import Services
import Store
import Topology
import Wire

/// `junction demo`: a controller, five pool agents and a handful of jobs, on this machine.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a local demo: a controller on the Abilene network, five pool agents, and jobs with different needs.",
        discussion: "Everything listens on loopback ports chosen by the system and stops when the demo ends."
    )

    @Option(help: "A topology file to use instead of the built-in Abilene network (its declared pools get agents).")
    var topology: String?

    @Option(help: "Log level for the controller and agents.")
    var logLevel: String = "error"

    @Flag(help: "Serve the dashboard and keep the demo running after its jobs, until Ctrl-C.")
    var dashboard = false

    @Option(help: ArgumentHelp("Where the dashboard listens with --dashboard; port 0 lets the system choose.", valueName: "host:port"))
    var dashboardAddress = "127.0.0.1:0"

    func validate() throws {
        do { _ = try AdminAddress(parsing: dashboardAddress) } catch { throw ValidationError("--dashboard-address: \(error)") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .error
            return handler
        }
        let logger = Logger(label: "junction.demo")
        let network: Topology
        if let topology {
            network = try loadTopology(topology)
        } else {
            network = try Topology.load(yaml: embeddedAbilene, file: "abilene.yaml").topology
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("junction-demo-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: work) }

        var configuration = ControllerConfiguration()
        configuration.heartbeatIntervalMs = 500
        let assembly = try ControllerAssembly(
            topology: network, topologyPath: topology ?? "abilene.yaml",
            endpoints: ControllerEndpoints(pools: "tcp://127.0.0.1:*", clients: "tcp://127.0.0.1:*", events: "tcp://127.0.0.1:*"),
            configuration: configuration, store: try SQLiteStore(directory: work.appendingPathComponent("controller").path),
            adminAddress: dashboard ? try AdminAddress(parsing: dashboardAddress) : nil, logger: logger
        )
        let controller = assembly.controller
        let admin = assembly.admin
        var services = assembly.services
        for pool in network.pools {
            let agent = AgentConfiguration(
                poolID: pool.id, capacity: pool.capacity, labels: pool.labels, price: pool.price,
                speed: pool.speed, processingLatencyMs: pool.processingLatencyMs
            )
            services.append(try PoolAgentService(configuration: agent, controllers: [controller.endpoints.pools], workDirectory: work.appendingPathComponent(pool.id), logger: logger))
        }
        print("Junction demo on \(network.name): \(network.nodes.count) nodes, \(network.links.count) links, \(network.pools.count) pools")
        print("controller listening: pools \(controller.endpoints.pools), clients \(controller.endpoints.clients), events \(controller.endpoints.events)\n")

        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigint, .sigterm], logger: logger))
        let running = Task { try await group.run() }
        let client = try JunctionClient(endpoint: controller.endpoints.clients, timeout: 5)
        defer { client.close() }

        var url = ""
        if let admin, let port = await admin.port() {
            var address = admin.address
            address.port = port
            url = "http://\(address)/"
            print("dashboard: \(url)\n")
            fflush(nil)
        }
        // Ctrl-C stops the services; the jobs' part then stops too instead of waiting for them.
        let flow = Task { [self] in
            try await waitForPools(client, count: network.pools.count)
            try await runJobs(client, network: network)
        }
        let watcher = Task {
            _ = try? await running.value
            flow.cancel()
        }
        let outcome = await flow.result
        if admin != nil, case .success = outcome {
            print("\nthe demo keeps running for the dashboard at \(url); Ctrl-C stops it")
            fflush(nil)
        } else {
            await group.triggerGracefulShutdown()
        }
        try await running.value
        _ = await watcher.result
        if flow.isCancelled, case .failure = outcome {
            print("\ninterrupted; all services stopped")
            return
        }
        print("\nall services stopped")
        try outcome.get()
    }

    private func waitForPools(_ client: JunctionClient, count: Int) async throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            do {
                let pools = try await client.pools()
                let up = pools.pools.filter { $0.state == .up }.count
                if up == count {
                    print("\(up) pool agents registered:")
                    print(table(header: ["pool", "node", "cores", "GPUs", "speed", "core-hour"], rows: pools.pools.map {
                        [$0.poolID, $0.node, decimal($0.total.cpuCores), gpuText($0.total.gpus.mapValues { Int($0) }, leading: false), decimal($0.speed), decimal($0.price.cpuCoreHour)]
                    }, indent: "  "))
                    print("")
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CommandFailure("the pool agents did not register within 15 s")
    }

    /// One demo job: what it asks for and why it is interesting.
    struct DemoJob {
        var title: String
        var request: Junction_V1_PlacementRequest
        var command: String
    }

    private func jobs(for network: Topology) -> [DemoJob] {
        let first = network.nodes.first?.id ?? ""
        let last = network.nodes.last?.id ?? ""
        func request(_ ingress: String, cpu: Double, _ configure: (inout Junction_V1_PlacementRequest) -> Void = { _ in }) -> Junction_V1_PlacementRequest {
            var request = Junction_V1_PlacementRequest()
            request.ingress = ingress
            request.cpuCores = cpu
            request.memoryBytes = 2 << 30
            request.runtimeS = 60
            configure(&request)
            return request
        }
        let gpuModel = network.pools.flatMap { $0.capacity.gpus.keys }.sorted().last ?? "H100"
        return [
            DemoJob(title: "interactive, 3 ms latency budget from \(first)", request: request(first, cpu: 2) { $0.maxLatencyMs = 3; $0.objective = .latency }, command: "echo rendering a frame; sleep 1"),
            DemoJob(title: "moves 400 GB from \(last), runs 10 minutes", request: request(last, cpu: 16) { $0.dataBytes = 400_000_000_000; $0.runtimeS = 600 }, command: "echo crunching 400 GB; sleep 2"),
            DemoJob(title: "needs 4 \(gpuModel) GPUs", request: request(first, cpu: 8) { $0.gpuCount = 4; $0.gpuModels = [gpuModel]; $0.runtimeS = 3_600 }, command: "echo training on $JUNCTION_JOB_ID; sleep 2"),
            DemoJob(title: "cheapest place for a 2-hour batch job", request: request(first, cpu: 32) { $0.runtimeS = 7_200; $0.objective = .cost }, command: "echo batch; sleep 1"),
            DemoJob(title: "asks for 2 V100 GPUs, which no pool has", request: request(first, cpu: 1) { $0.gpuCount = 2; $0.gpuModels = ["V100"] }, command: "echo unreachable"),
        ]
    }

    private func submitOnce(_ client: JunctionClient, _ submit: Junction_V1_SubmitRequest) async -> Result<Junction_V1_SubmitReply, ClientError> {
        do {
            return .success(try await client.submit(submit))
        } catch {
            return .failure(error)
        }
    }

    private func runJobs(_ client: JunctionClient, network: Topology) async throws {
        var submitted: [(title: String, job: String)] = []
        var refused = 0
        for (index, demo) in jobs(for: network).enumerated() {
            print("[\(index + 1)] \(demo.title)")
            var place = Junction_V1_PlaceRequest()
            place.request = demo.request
            guard let placement = try? await client.place(place) else { continue }
            let objective = demo.request.objective == .cost ? "cost" : demo.request.objective == .latency ? "latency" : "completion"
            let text = describePlacement(placement, objective: objective, explain: !placement.placed)
            print(text.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            var submit = Junction_V1_SubmitRequest()
            submit.request = demo.request
            submit.spec.command = "/bin/sh"
            submit.spec.arguments = ["-c", demo.command]
            submit.spec.name = demo.title
            let answer = await submitOnce(client, submit)
            switch answer {
            case .success(let reply):
                print("    submitted as \(reply.jobID)\n")
                submitted.append((demo.title, reply.jobID))
            case .failure(let error):
                refused += 1
                print("    not submitted: \(error.description.prefix(160))…\n")
            }
        }
        print("waiting for \(submitted.count) jobs (shortened stand-ins: each runs a 1–2 s command in place of the runtime it asked for)...")
        let deadline = Date().addingTimeInterval(30)
        var jobs: [Junction_V1_JobInfo] = []
        while Date() < deadline {
            var status = Junction_V1_StatusRequest()
            status.jobIds = submitted.map(\.job)
            if let reply = try? await client.status(status) {
                jobs = reply.jobs
                if jobs.allSatisfy({ [.succeeded, .failed, .cancelled].contains($0.state) }) { break }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        print("")
        print(table(header: ["job", "what", "state", "pool", "path", "wall_s", "core_s"], rows: jobs.map { job in
            [job.jobID, submitted.first { $0.job == job.jobID }?.title ?? "", job.state.name, job.pool, arrowPath(job.path), decimal(job.usage.wallSeconds), decimal(job.usage.coreSeconds)]
        }))
        let succeeded = jobs.filter { $0.state == .succeeded }.count
        print("\n\(succeeded) of \(submitted.count) submitted jobs succeeded; \(refused) request\(refused == 1 ? " was" : "s were") refused with the reasons above.")
        guard succeeded == submitted.count else { throw CommandFailure("\(submitted.count - succeeded) jobs did not succeed") }
    }
}
