import ArgumentParser
import ClientCommands
import CommandLineSupport
import ControllerCore
import Dispatch
import Foundation
import JunctionClient
import Logging
import Placement
import Services
import Store
import Topology
import Wire

/// `junction bench recovery`: how long a controller takes to serve again over a large store.
struct RecoveryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "Fill a job store, then time a controller's start on it until it answers a status request."
    )

    @Option(help: "A topology file for the controller.")
    var topology = "Topologies/cogentco.yaml"

    @Option(help: "Jobs in the store.")
    var jobs = 100_000

    @Option(help: "Of those, jobs not finished (running on pools), which a start loads.")
    var active = 10_000

    @Option(help: ArgumentHelp("Fill this PostgreSQL database instead (an empty one; Tests/Postgres/postgres.sh starts one), and time a controller taking the lead of it until it answers.", valueName: "url"))
    var postgresURL: String?

    func validate() throws {
        guard jobs > 0, active >= 0, active <= jobs else { throw ValidationError("--active must be 0 to --jobs, and --jobs above 0") }
    }

    func run() async throws {
        let network = try loadTopology(topology, quiet: true)
        let pools = network.pools.map(\.id)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("junction-recovery-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        printError("filling a store with \(jobs) jobs, \(active) of them running")
        // The controller before: it fills the store, then gives the lead up (PostgreSQL) or goes away.
        func openStore() throws -> any ControllerStore {
            guard let postgresURL else { return try SQLiteStore(directory: directory) }
            return try PostgresStore(location: try PostgresLocation(url: postgresURL))
        }
        do {
            let store = try openStore()
            if let shared = store as? PostgresStore {
                guard case .won = try shared.campaign(as: ControllerAdvert(name: "filler", pools: "", clients: "", events: ""), leaseMs: 600_000) else {
                    throw CommandFailure("another controller leads \(shared.location.description)")
                }
                guard try shared.jobCount() == 0 else { throw CommandFailure("\(shared.location.description) already holds jobs; give the bench an empty database") }
            }
            defer { (store as? PostgresStore)?.resign() }
            _ = try store.recover(nowMs: 0, idempotencyWindowS: 60)
            var batch: [StoredJob] = []
            for number in 1...UInt64(jobs) {
                let running = number > UInt64(jobs - active)
                let submittedMs = Int64(Date().timeIntervalSince1970 * 1_000)
                let job = JobView(
                    id: "job-\(number)", state: running ? .running : .succeeded, pool: pools.isEmpty ? "" : pools[Int(number) % pools.count],
                    path: [network.nodes[0].id], attempts: 1, submittedMs: submittedMs, updatedMs: submittedMs,
                    spec: JobSpec(command: "/bin/true", resources: Resources(cpuCores: 0.001))
                )
                let request = PlacementRequest(ingress: network.nodes[0].id, cpuCores: 0.001, explain: false)
                batch.append(StoredJob(job: job, request: request, number: number, dispatchSequence: number))
                if batch.count == 1_000 {
                    try store.commit(jobs: batch, counters: DurableCounters(nextJobNumber: number + 1))
                    batch.removeAll(keepingCapacity: true)
                }
            }
            try store.commit(jobs: batch, counters: DurableCounters(nextJobNumber: UInt64(jobs) + 1))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let store = try openStore()
        let service = try ControllerService(
            topology: network, topologyPath: topology,
            endpoints: ControllerEndpoints(pools: "tcp://127.0.0.1:*", clients: "tcp://127.0.0.1:*", events: "tcp://127.0.0.1:*"),
            store: store, leadership: (store as? PostgresStore).map { LeadershipSettings(election: $0, name: "bench") }, logger: Logger(label: "junction.bench")
        )
        defer { service.shutdown() }
        let client = try JunctionClient(endpoint: service.endpoints.clients, timeout: 30)
        defer { client.close() }
        var status = Junction_V1_StatusRequest()
        status.jobIds = ["job-\(jobs)"]
        // A controller on a shared store stands by until its first campaign takes the free lease.
        var answer: Junction_V1_StatusReply?
        while answer == nil {
            let outcome: Result<Junction_V1_StatusReply, ClientError>
            do {
                outcome = .success(try await client.status(status))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let reply): answer = reply
            case .failure(.refused(.notLeader, _)): try await Task.sleep(for: .milliseconds(5))
            case .failure(let error): throw error
            }
        }
        guard answer?.jobs.first?.state == (active > 0 ? .running : .succeeded) else {
            throw CommandFailure("the restarted controller did not report job-\(jobs) as the store has it")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let loaded = await service.inspect { $0.jobsInMemory }
        print(String(format: "%@ over %d stored jobs (%d running, %d loaded): serving again after %.3f s", postgresURL == nil ? "restart" : "takeover", jobs, active, loaded, seconds))
    }
}
