import ControllerCore
import Foundation
import Store
import TestSupport
import Testing

private func advert(_ name: String) -> ControllerAdvert {
    ControllerAdvert(name: name, pools: "tcp://\(name):7410", clients: "tcp://\(name):7411", events: "tcp://\(name):7412")
}

/// Asks for the lead until it is won, or fails after `seconds`.
private func campaignUntilWon(_ store: PostgresStore, as name: String, leaseMs: Int64 = 60_000, within seconds: Double = 30) throws -> UInt64 {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if case .won(let epoch) = try store.campaign(as: advert(name), leaseMs: leaseMs) { return epoch }
        Thread.sleep(forTimeInterval: 0.1)
    }
    throw StoreError("\(name) did not take the lead within \(seconds) s")
}

@Suite("PostgreSQL job store and leader lease", .serialized)
struct PostgresStoreTests {
    @Test func whatOneLeaderCommittedIsWhatTheNextRecovers() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let location = try PostgresLocation(url: server.url)
        let first = try PostgresStore(location: location)
        #expect(throws: StoreError.self, "no lease, no jobs") { try first.recover(nowMs: 0, idempotencyWindowS: 60) }
        #expect(try first.campaign(as: advert("a"), leaseMs: 60_000) == .won(epoch: 1))
        let start = try first.recover(nowMs: 1_000, idempotencyWindowS: 60)
        #expect(start.counters.epoch == 1 && start.counters.nextJobNumber == 1 && start.jobs.isEmpty)
        try commitSampleBatches(to: first)

        // A second controller on the same database: it stands by, naming the leader, until the lead is given up.
        let second = try PostgresStore(location: location)
        #expect(try second.campaign(as: advert("b"), leaseMs: 60_000) == .lost(leader: ControllerAdvert(name: "a", pools: "tcp://a:7410", clients: "tcp://a:7411", events: "tcp://a:7412", epoch: 1)))
        first.resign()
        #expect(try second.campaign(as: advert("b"), leaseMs: 60_000) == .won(epoch: 2))
        try expectSampleBatchesRecovered(by: second, epoch: 2)
        #expect(try second.jobCount() == 4)
        #expect(try second.leader()?.name == "b")
        first.close()
        second.close()
    }

    @Test func aDeposedLeaderCannotWriteAndLearnsItWhenItRenews() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let location = try PostgresLocation(url: server.url)
        let old = try PostgresStore(location: location)
        let new = try PostgresStore(location: location)
        defer {
            old.close()
            new.close()
        }
        #expect(try old.campaign(as: advert("old"), leaseMs: 1_000) == .won(epoch: 1))
        _ = try old.recover(nowMs: 0, idempotencyWindowS: 60)
        try old.commit(jobs: [record(1, .running)], counters: DurableCounters(nextJobNumber: 2, epoch: 1))
        // The old leader stops renewing (paused, partitioned); its lease runs out by the database's clock.
        #expect(try campaignUntilWon(new, as: "new") == 2)
        let deposed = #expect(throws: StoreError.self) {
            try old.commit(jobs: [record(1, .succeeded), record(2, .running)], counters: DurableCounters(nextJobNumber: 3, epoch: 1))
        }
        #expect(deposed?.deposed == true, "\(String(describing: deposed))")
        let renewal = #expect(throws: StoreError.self) { try old.renew(leaseMs: 1_000) }
        #expect(renewal?.deposed == true)
        #expect(throws: StoreError.self, "a deposed store does not read as a leader either") { try old.recover(nowMs: 0, idempotencyWindowS: 60) }
        let recovered = try new.recover(nowMs: 0, idempotencyWindowS: 60)
        #expect(recovered.jobs.map(\.job.id) == ["job-1"] && recovered.jobs.first?.job.state == .running, "nothing of the deposed leader's late batch is kept")
        #expect(recovered.counters.nextJobNumber == 2)
        try new.renew(leaseMs: 60_000)
        #expect(try old.campaign(as: advert("old"), leaseMs: 1_000) == .lost(leader: ControllerAdvert(name: "new", pools: "tcp://new:7410", clients: "tcp://new:7411", events: "tcp://new:7412", epoch: 2)))
    }

    @Test func aLeaderRidesOutADatabaseRestart() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let store = try PostgresStore(location: try PostgresLocation(url: server.url))
        defer { store.close() }
        #expect(try store.campaign(as: advert("a"), leaseMs: 60_000) == .won(epoch: 1))
        _ = try store.recover(nowMs: 0, idempotencyWindowS: 60)
        try store.commit(jobs: [record(1, .running)], counters: DurableCounters(nextJobNumber: 2, epoch: 1))
        try server.restart()
        // The broken connection fails one call at most; the next opens a new one.
        let deadline = Date().addingTimeInterval(30)
        var committed = false
        while !committed, Date() < deadline {
            do {
                try store.commit(jobs: [record(1, .succeeded), record(2, .running)], counters: DurableCounters(nextJobNumber: 3, epoch: 1))
                committed = true
            } catch let error as StoreError {
                #expect(!error.deposed, "a restart deposes nobody: \(error)")
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        #expect(committed)
        try store.renew(leaseMs: 60_000)
        #expect(try store.jobCount() == 2)
    }

    @Test func anUnreachableOrMisspelledDatabaseIsNamedInTheError() throws {
        for (url, words) in [
            ("mysql://u@h/db", "not a PostgreSQL URL"), ("postgres://u@h", "names no database"), ("postgres://h/db", "names no user"),
            ("postgres://u@h/db?sslmode=maybe", "sslmode must be"), ("postgres://u@h/db?pool=3", "unknown parameter pool"),
            ("postgres://u:secret@h:99999/db", "port"),
        ] {
            let error = #expect(throws: StoreError.self) { try PostgresLocation(url: url) }
            #expect(error?.message.contains(words) == true, "\(url): \(String(describing: error))")
            #expect(error?.message.contains("secret") == false, "a password is never printed")
        }
        // A port nobody listens on: refused at once, within the timeout either way.
        let location = try PostgresLocation(url: "postgres://junction@127.0.0.1:9/junction?sslmode=disable")
        let started = Date()
        let error = #expect(throws: StoreError.self) { try PostgresStore(location: location, timeout: .seconds(3)) }
        #expect(error?.message.contains("127.0.0.1:9") == true, "\(String(describing: error))")
        #expect(Date().timeIntervalSince(started) < 30)
    }
}
