import ControllerCore
import Foundation
import GRDB
import Placement
import Store
import TestSupport
import Testing

func stateDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("junction-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func record(_ number: UInt64, _ state: JobState, key: String = "", submittedMs: Int64 = 1_000, owner: String = "") -> StoredJob {
    let job = JobView(
        id: "job-\(number)", state: state, pool: state == .accepted ? "" : "east-1", attempts: 1,
        submittedMs: submittedMs, updatedMs: submittedMs, spec: JobSpec(command: "true", owner: owner)
    )
    let request = PlacementRequest(ingress: "in", cpuCores: 2, explain: false)
    return StoredJob(job: job, request: request, number: number, dispatchSequence: number, exclusions: ["west-1": 99_000], idempotencyKey: key)
}

/// Commits what both stores' recovery tests recover: three jobs, then a later state of one of
/// them, with the counters as they stood after each batch, then a fourth job without counters.
func commitSampleBatches(to store: any ControllerStore) throws {
    try store.commit(jobs: [record(1, .running, key: "k1"), record(2, .succeeded), record(3, .accepted)],
                     counters: DurableCounters(nextJobNumber: 4, eventSequence: 17, epoch: 1, dispatchSequences: ["east-1": 3]))
    // A later state of the same job replaces the earlier one.
    try store.commit(jobs: [record(3, .dispatched)], counters: DurableCounters(nextJobNumber: 4, eventSequence: 18, epoch: 1, dispatchSequences: ["east-1": 2]))
    // A batch that uses no counter past what is stored writes none; its job still counts.
    try store.commit(jobs: [record(4, .accepted)], counters: nil)
}

/// Checks that the next controller on `store` recovers what `commitSampleBatches` committed.
func expectSampleBatchesRecovered(by store: any ControllerStore, epoch: UInt64) throws {
    let recovered = try store.recover(nowMs: 2_000, idempotencyWindowS: 60)
    #expect(recovered.counters.epoch == epoch)
    #expect(recovered.counters.nextJobNumber == 5, "the next number after the highest job, whatever the counter says")
    #expect(recovered.counters.eventSequence == 18)
    #expect(recovered.counters.dispatchSequences == ["east-1": 3], "a dispatch sequence never goes back")
    #expect(recovered.jobs.map(\.job.id) == ["job-1", "job-3", "job-4"], "finished jobs stay in the store, not in memory")
    #expect(recovered.jobs[1].job.state == .dispatched)
    #expect(recovered.jobs.first?.exclusions == ["west-1": 99_000])
    #expect(recovered.jobs.first?.request.cpuCores == 2)
    #expect(recovered.idempotencyKeys == ["k1": "job-1"])
    #expect(try store.recover(nowMs: 1_000_000, idempotencyWindowS: 60).idempotencyKeys.isEmpty, "keys expire")
}

/// A store of each kind, empty and ready for a controller: a PostgreSQL one on a server of its
/// own, whose lease it holds. `close` ends what the store needed.
func emptyStore(_ kind: String) throws -> (store: any ControllerStore, close: () -> Void) {
    switch kind {
    case "sqlite":
        let directory = try stateDirectory()
        return (try SQLiteStore(directory: directory), { try? FileManager.default.removeItem(atPath: directory) })
    case "postgres":
        let server = try PostgresServer.start()
        let store = try PostgresStore(location: try PostgresLocation(url: server.url))
        _ = try store.campaign(as: ControllerAdvert(name: "a", pools: "", clients: "", events: ""), leaseMs: 60_000)
        return (store, { store.close(); server.stop() })
    default:
        return (InMemoryStore(), {})
    }
}

@Suite("SQLite job store")
struct SQLiteStoreTests {
    @Test func whatIsCommittedIsRecoveredByTheNextController() throws {
        let directory = try stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try SQLiteStore(directory: directory)
            let first = try store.recover(nowMs: 1_000, idempotencyWindowS: 60)
            #expect(first.counters.epoch == 1 && first.counters.nextJobNumber == 1 && first.jobs.isEmpty)
            try commitSampleBatches(to: store)
        }
        let store = try SQLiteStore(directory: directory)
        try expectSampleBatchesRecovered(by: store, epoch: 2)
    }

    @Test func aBatchThatFailsLeavesNothingOfItAndTheNextOneCommits() throws {
        let directory = try stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        _ = try store.recover(nowMs: 1_000, idempotencyWindowS: 60)
        try store.commit(jobs: [record(1, .accepted)], counters: nil)
        // Another number under an id already stored breaks the id's uniqueness mid-batch.
        var clash = record(3, .accepted)
        clash.job.id = "job-1"
        #expect(throws: (any Error).self) { try store.commit(jobs: [record(1, .running), record(2, .accepted), clash], counters: nil) }
        try store.commit(jobs: [record(4, .accepted)], counters: nil)
        let recovered = try store.recover(nowMs: 2_000, idempotencyWindowS: 60)
        #expect(recovered.jobs.map(\.job.id) == ["job-1", "job-4"])
        #expect(recovered.jobs.first?.job.state == .accepted, "the failed batch's update of job-1 was rolled back")
    }

    @Test func aSecondControllerCannotTakeTheSameDirectory() throws {
        let directory = try stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory)
        #expect(throws: StoreError.self) { try SQLiteStore(directory: directory) }
        _ = store
        let file = directory + "/jobs.sqlite"
        let notADirectory = #expect(throws: StoreError.self) { try SQLiteStore(directory: file) }
        #expect(notADirectory?.message.contains("is not a directory") == true)
    }

    @Test func aStoreWrittenByANewerJunctionIsRefusedUntouched() throws {
        let directory = try stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try SQLiteStore(directory: directory)
            _ = try store.recover(nowMs: 1_000, idempotencyWindowS: 60)
            try store.commit(jobs: [record(1, .accepted)], counters: nil)
        }
        let path = directory + "/jobs.sqlite"
        do {
            let newer = try DatabaseQueue(path: path)
            try newer.write { try $0.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v99-newer')") }
        }
        let refusal = #expect(throws: StoreError.self) { try SQLiteStore(directory: directory) }
        #expect(refusal?.message.contains("written by a newer junction (schema v99-newer") == true, "\(refusal?.message ?? "")")
        let after = try DatabaseQueue(path: path)
        let jobs = try after.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs") }
        let migrations = try after.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier") }
        #expect(jobs == 1 && migrations == ["v1", "v2-owner", "v3-ended", "v99-newer"])
    }

    @Test func aFullDiskStopsTheCommitsAndLosesNothingCommittedBeforeIt() throws {
        let disk = try SmallDisk.mount(kibibytes: 512)
        defer { disk.remove() }
        let directory = disk.directory + "/state"
        var committed = 0
        do {
            let store = try SQLiteStore(directory: directory)
            _ = try store.recover(nowMs: 1_000, idempotencyWindowS: 60)
            var failure: StoreError?
            while failure == nil, committed < 10_000 {
                do {
                    try store.commit(jobs: [record(UInt64(committed + 1), .accepted)], counters: nil)
                    committed += 1
                } catch let error as StoreError {
                    failure = error
                }
            }
            #expect(failure?.message.contains("\(directory)/jobs.sqlite: its disk is full") == true, "\(failure?.message ?? "no failure in \(committed) commits")")
        }
        try disk.grow(to: 8_192)
        let store = try SQLiteStore(directory: directory)
        let recovered = try store.recover(nowMs: 2_000, idempotencyWindowS: 60)
        #expect(recovered.jobs.count == committed && committed > 0)
        #expect(recovered.jobs.last?.job.id == "job-\(committed)")
        try store.commit(jobs: [record(UInt64(committed + 1), .accepted)], counters: nil)
    }

    @Test(arguments: ["sqlite", "postgres"]) func finishedJobsAreServedInPagesAndByID(kind: String) throws {
        let (store, close) = try emptyStore(kind)
        defer { close() }
        _ = try store.recover(nowMs: 0, idempotencyWindowS: 60)
        try store.commit(jobs: (1...7).map { record($0, $0 % 2 == 0 ? .running : .succeeded) }, counters: DurableCounters(nextJobNumber: 8))
        var seen: [String] = []
        var cursor: UInt64 = 0
        var pages = 0
        while true {
            guard case .jobs(let jobs, let next) = try store.answer(.page(after: cursor, limit: 3, activeOnly: false)) else {
                Issue.record("a page is a list of jobs")
                return
            }
            seen += jobs.map(\.id)
            pages += 1
            guard let following = UInt64(next) else { break }
            cursor = following
        }
        #expect(seen == (1...7).map { "job-\($0)" })
        #expect(pages == 3)
        guard case .jobs(let active, _) = try store.answer(.page(after: 0, limit: 10, activeOnly: true)) else { return }
        #expect(active.map(\.id) == ["job-2", "job-4", "job-6"])
        guard case .missing(let id) = try store.answer(.jobs(["job-1", "job-99"])) else {
            Issue.record("an unknown id is named")
            return
        }
        #expect(id == "job-99")
        guard case .jobs(let found, _) = try store.answer(.cancelFinished("job-5")) else { return }
        #expect(found.first?.state == .succeeded)
    }

    @Test(arguments: ["sqlite", "memory", "postgres"]) func aQueryLimitedToAnOwnerAnswersWithItsJobsAlone(kind: String) throws {
        let (store, close) = try emptyStore(kind)
        defer { close() }
        _ = try store.recover(nowMs: 0, idempotencyWindowS: 60)
        try store.commit(jobs: (1...9).map { record($0, $0 < 5 ? .running : .succeeded, owner: $0 % 3 == 0 ? "bob" : "alice") }, counters: DurableCounters(nextJobNumber: 10))
        var seen: [String] = []
        var cursor: UInt64 = 0
        while true {
            guard case .jobs(let jobs, let next) = try store.answer(.page(after: cursor, limit: 2, activeOnly: false, owner: "alice")) else {
                Issue.record("a page is a list of jobs")
                return
            }
            seen += jobs.map(\.id)
            guard let following = UInt64(next) else { break }
            cursor = following
        }
        #expect(seen == [1, 2, 4, 5, 7, 8].map { "job-\($0)" })
        guard case .jobs(let active, _) = try store.answer(.page(after: 0, limit: 10, activeOnly: true, owner: "bob")) else { return }
        #expect(active.map(\.id) == ["job-3"])
        guard case .foreign(let id) = try store.answer(.jobs(["job-1", "job-6"], owner: "alice")) else {
            Issue.record("another owner's job is named")
            return
        }
        #expect(id == "job-6")
        guard case .foreign = try store.answer(.cancelFinished("job-9", owner: "alice")) else {
            Issue.record("another owner's finished job is not cancelled")
            return
        }
        guard case .jobs(let own, _) = try store.answer(.jobs(["job-9"], owner: "bob")) else { return }
        #expect(own.map(\.spec.owner) == ["bob"])
    }

    @Test(arguments: ["sqlite", "memory", "postgres"]) func usageSumsTheChargesOfJobsThatEndedInThePeriod(kind: String) throws {
        let (store, close) = try emptyStore(kind)
        defer { close() }
        _ = try store.recover(nowMs: 0, idempotencyWindowS: 60)
        // Jobs 1-6 end at 1,000 ms apart from 10,000 ms; job 7 still runs.
        let jobs = (UInt64(1)...7).map { number -> StoredJob in
            var stored = record(number, number == 7 ? .running : .succeeded, submittedMs: 1_000, owner: number % 2 == 0 ? "bob" : "alice")
            stored.job.updatedMs = 9_000 + Int64(number) * 1_000
            stored.job.pool = number <= 3 ? "east-1" : "west-1"
            if number != 7 { stored.job.charge = JobCharge(coreSeconds: 3_600, gpuSeconds: ["A100": 60], cost: Double(number)) }
            return stored
        }
        try store.commit(jobs: jobs, counters: DurableCounters(nextJobNumber: 8))
        guard case .usage(let byOwner) = try store.answer(.usage(UsageQuery(sinceMs: 11_000, untilMs: 15_000, by: .owner))) else {
            Issue.record("a usage answer")
            return
        }
        // Jobs 2, 3, 4 and 5 ended in [11,000, 15,000).
        #expect(byOwner.jobs == 4)
        #expect(byOwner.rows.map(\.key) == ["alice", "bob"])
        #expect(byOwner.rows.map(\.charge.cost) == [3 + 5, 2 + 4])
        #expect(byOwner.rows.first?.charge.gpuSeconds == ["A100": 120])
        guard case .usage(let byPool) = try store.answer(.usage(UsageQuery(sinceMs: 0, untilMs: 100_000, by: .pool), owner: "bob")) else { return }
        #expect(byPool.rows.map(\.key) == ["east-1", "west-1"] && byPool.rows.map(\.jobs) == [1, 2], "bob's jobs 2, 4 and 6 only")
    }

    @Test func theInMemoryStoreKeepsTheSamePromisesWithinAProcess() throws {
        let store = InMemoryStore()
        #expect(try store.recover(nowMs: 0, idempotencyWindowS: 60).counters.epoch == 1)
        try store.commit(jobs: [record(1, .running), record(2, .failed)], counters: DurableCounters(nextJobNumber: 3, epoch: 1))
        try store.commit(jobs: [record(3, .accepted)], counters: nil)
        let again = try store.recover(nowMs: 0, idempotencyWindowS: 60)
        #expect(again.counters.epoch == 2 && again.counters.nextJobNumber == 4)
        #expect(again.jobs.map(\.job.id) == ["job-1", "job-3"])
    }
}
