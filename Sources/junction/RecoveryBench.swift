import ArgumentParser
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

    @Option(help: "A topology file for the controller (default: Topologies/cogentco.yaml).")
    var topology = "Topologies/cogentco.yaml"

    @Option(help: "Jobs in the store.")
    var jobs = 100_000

    @Option(help: "Of those, jobs not finished (running on pools), which a start loads.")
    var active = 10_000

    func validate() throws {
        guard jobs > 0, active >= 0, active <= jobs else { throw ValidationError("--active must be 0 to --jobs, and --jobs above 0") }
    }

    func run() async throws {
        let network = try loadTopology(topology, quiet: true)
        let pools = network.pools.map(\.id)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("junction-recovery-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        printError("filling a store with \(jobs) jobs, \(active) of them running")
        do {
            let store = try SQLiteStore(directory: directory)
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
        let store = try SQLiteStore(directory: directory)
        let service = try ControllerService(
            topology: network, topologyPath: topology,
            endpoints: ControllerEndpoints(pools: "tcp://127.0.0.1:*", clients: "tcp://127.0.0.1:*", events: "tcp://127.0.0.1:*"),
            store: store, logger: Logger(label: "junction.bench")
        )
        defer { service.shutdown() }
        let client = try JunctionClient(endpoint: service.endpoints.clients, timeout: 30)
        defer { client.close() }
        var status = Junction_V1_StatusRequest()
        status.jobIds = ["job-\(jobs)"]
        guard try await client.status(status).jobs.first?.state == (active > 0 ? .running : .succeeded) else {
            throw CommandFailure("the restarted controller did not report job-\(jobs) as the store has it")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let loaded = await service.inspect { $0.jobsInMemory }
        print(String(format: "restart over %d stored jobs (%d running, %d loaded): serving again after %.3f s", jobs, active, loaded, seconds))
    }
}
