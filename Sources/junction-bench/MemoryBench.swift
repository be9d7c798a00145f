import ArgumentParser
import ClientCommands
import CommandLineSupport
import ControllerCore
import Foundation
import Placement
import Store
import Topology

/// `junction bench memory`: resident memory while jobs are submitted and finished without end.
struct MemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Submit and finish jobs through the controller core and its SQLite store on a virtual clock; report resident memory as they accumulate."
    )

    @Option(help: "A topology file for the controller.")
    var topology = "Topologies/cogentco.yaml"

    @Option(help: "Pools to attach.")
    var pools = 1_000

    @Option(help: "Jobs to submit and finish.")
    var jobs = 1_000_000

    @Option(help: "Jobs per virtual second (each job is submitted, runs and finishes at once).")
    var rate = 1_000.0

    @Option(help: "Seconds a finished job stays in memory (the controller's default is 300).")
    var retentionS = 60.0

    func validate() throws {
        guard jobs >= 10, pools > 0, rate > 0, retentionS >= 0 else { throw ValidationError("--jobs must be at least 10, and --pools, --rate above 0") }
    }

    func run() throws {
        let network = try loadTopology(topology, quiet: true).withSyntheticPools(pools, seed: 1)
        var configuration = ControllerConfiguration()
        // Every request here stands for many users, not one connection: no per-connection limit.
        configuration.clientRequestsPerSecond = 0
        configuration.advertisementsPerSecond = 0
        configuration.finishedRetentionS = retentionS
        configuration.livenessMs = UInt32.max
        configuration.staleAfterS = .infinity
        configuration.explainRefusals = false
        var core = ControllerCore(topology: network, configuration: configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("junction-memory-\(ProcessInfo.processInfo.processIdentifier)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        var seconds = 0.0
        func now() -> ControllerTime { ControllerTime(seconds: seconds, unixMs: 1_800_000_000_000 + Int64(seconds * 1_000)) }
        var pending: [StoredJob] = []
        func keep(_ actions: [ControllerAction]) {
            for case .persist(let record) in actions { pending.append(record) }
        }
        keep(core.restore(try store.recover(nowMs: now().unixMs, idempotencyWindowS: configuration.idempotencyWindowS), now: now()))
        for pool in network.pools {
            keep(core.handle(.fromPool(peer: Array(pool.id.utf8), correlationID: 0, .register(PoolRegistration(poolID: pool.id, total: pool.capacity))), now: now()))
        }
        let client = ClientAddress(frames: [[0]])
        var samples: [(jobs: Int, residentMB: Double, inMemory: Int)] = []
        let sampleEvery = max(jobs / 10, 1)
        printError("submitting and finishing \(jobs) jobs at \(Int(rate))/s of virtual time, \(Int(retentionS)) s retention")
        for number in 1...jobs {
            seconds += 1 / rate
            let submission = Submission(
                request: PlacementRequest(ingress: network.nodes[number % network.nodes.count].id, cpuCores: 1, explain: false),
                spec: JobSpec(command: "/bin/true")
            )
            let actions = core.handle(.fromClient(client, correlationID: UInt64(number), .submit(submission)), now: now())
            keep(actions)
            guard let (peer, dispatch) = actions.lazy.compactMap({ action -> ([UInt8], JobDispatch)? in
                if case .toPool(let peer, _, .dispatch(let dispatch)) = action { return (peer, dispatch) }
                return nil
            }).first else { throw CommandFailure("job \(number) was not dispatched") }
            for state in [JobState.running, .succeeded] {
                let report = JobReport(jobID: dispatch.jobID, state: state, attempt: dispatch.attempt)
                keep(core.handle(.fromPool(peer: peer, correlationID: 0, .jobReport(report)), now: now()))
            }
            if number % 1_000 == 0 {
                keep(core.handle(.tick, now: now()))
                try store.commit(jobs: pending, counters: core.takeCounterChanges())
                pending.removeAll(keepingCapacity: true)
            }
            if number % sampleEvery == 0 {
                samples.append((number, residentMegabytes(), core.jobsInMemory))
                printError("\(number) jobs: \(String(format: "%.1f", samples.last!.residentMB)) MB resident, \(core.jobsInMemory) jobs in memory")
            }
        }
        try store.commit(jobs: pending, counters: core.takeCounterChanges())
        let stored = try store.jobCount()
        print("jobs        resident MB  jobs in memory")
        for sample in samples { print(String(format: "%-11d %-12.1f %d", sample.jobs, sample.residentMB, sample.inMemory)) }
        if let first = samples.first, let last = samples.last {
            print(String(format: "from %d to %d jobs: resident memory %+.1f %% (%d jobs in the store)", first.jobs, last.jobs, (last.residentMB / first.residentMB - 1) * 100, stored))
        }
    }
}

/// This process's resident memory, from /proc/self/statm.
func residentMegabytes() -> Double {
    let fields = ((try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "").split(separator: " ")
    guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}
