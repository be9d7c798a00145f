import ArgumentParser
import Glibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JunctionClient
import Wire
import Wording
import ZeroMQ

/// `junction watch`: follows the controller's events (the zguide Clone pattern).
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow job and pool events, or one ingress's routing table, as they happen.",
        discussion: "Subscribes to the events endpoint, takes a snapshot from the clients endpoint, and prints the events after it in sequence. A gap in the sequence (events a slow subscriber lost) is reported. With --routes INGRESS it holds that ingress's routing table, taken whole and then kept current by the controller's route deltas, and prints each change."
    )

    @Option(name: .customLong("events"), help: ArgumentHelp("The controller's events endpoint; several, comma-separated, for controllers sharing a store (default: $JUNCTION_EVENTS, else each clients endpoint's port + 1, as 7411 and 7412 are).", valueName: "endpoint[,endpoint]"))
    var givenEvents: String?

    private var events: [String] { controller.eventsEndpoints(givenEvents) }

    @OptionGroup var controller: ControllerOptions

    @Option(help: "Topic prefix to follow: job/, pool/, or job/job-7.")
    var topic = ""

    @Option(help: ArgumentHelp("Follow the routing table from this ingress node instead of job and pool events.", valueName: "ingress"))
    var routes: String?

    @Option(help: "Stop after this many events.")
    var count: Int?

    @Flag(help: "Print one JSON object per event.")
    var json = false

    func validate() throws {
        try checkEndpointList(events, option: "--events", role: "the controller's events endpoint")
    }

    struct EventJSON: Encodable {
        var sequence: UInt64
        var topic: String
        var kind: String
        var job: String?
        var pool: String?
        var state: String?
        var reason: String
    }

    func run() async throws {
        let context = try Context()
        defer { context.terminate() }
        let topic = routes.map { "route/\($0)" } ?? self.topic
        let subscriber = try EventSubscription(context: context, endpoints: events, prefixes: [topic], options: try controller.keys.curve()?.socketOptions ?? [], name: "watch")
        defer { subscriber.close() }
        if let routes {
            try await follow(ingress: routes, subscriber: subscriber)
            return
        }
        // Subscribe first, then snapshot: nothing between the two is missed.
        try await Task.sleep(for: .milliseconds(100))
        func takeSnapshot() async throws -> (sequence: UInt64, epoch: UInt64) {
            // Jobs come in pages, over one connection (closed at once: a watch goes on for hours);
            // the first page fixes the sequence the snapshot stands for.
            let (snapshot, jobs) = try await controller.ask(closing: true) { client throws(ClientError) in
                let snapshot = try await client.snapshot()
                var jobs = snapshot.jobs.count
                var request = Junction_V1_SnapshotRequest()
                request.cursor = snapshot.nextCursor
                while !request.cursor.isEmpty {
                    let page = try await client.snapshot(request)
                    jobs += page.jobs.count
                    request.cursor = page.nextCursor
                }
                return (snapshot, jobs)
            }
            if !json {
                print("snapshot at event \(snapshot.sequence) (controller epoch \(snapshot.epoch)): \(jobs) active jobs, \(snapshot.pools.count) pools; following \(topic.isEmpty ? "everything" : topic)")
                fflush(nil)
            }
            return (snapshot.sequence, snapshot.epoch)
        }
        var (last, epoch) = try await takeSnapshot()
        var seen = 0
        while count.map({ seen < $0 }) ?? true {
            guard let batch = await subscriber.incoming.next() else { break }
            for delivery in batch {
                if let refusal = subscriptionRefusal(delivery) { throw CommandFailure("the controller refused the subscription: \(refusal)") }
                let frames = delivery.message.frames
                guard frames.count == 2, let message = try? WireMessage(bytes: frames[1]), case .event(let event) = message.body else { continue }
                if event.epoch > epoch {
                    // A controller restarted or another took the lead: its sequence starts afresh.
                    if !json { print("(a new controller epoch \(event.epoch): taking a fresh snapshot)") }
                    (last, epoch) = try await takeSnapshot()
                    if epoch < event.epoch { (last, epoch) = (0, event.epoch) }
                }
                guard event.epoch == epoch || event.epoch == 0, event.sequence > last else { continue }
                if topic.isEmpty, event.sequence > last + 1, !json {
                    print("(missed events \(last + 1)–\(event.sequence - 1); run watch again for a fresh snapshot)")
                }
                last = event.sequence
                seen += 1
                let topicText = String(decoding: frames[0], as: UTF8.self)
                switch event.kind {
                case .job(let job):
                    if json {
                        print(try jsonText(EventJSON(sequence: event.sequence, topic: topicText, kind: "job", job: job.jobID, pool: job.pool, state: job.state.name, reason: job.reason), oneLine: true))
                    } else {
                        print("#\(event.sequence) \(job.jobID) \(job.state.name)\(job.pool.isEmpty ? "" : " on \(job.pool)"): \(printableText(job.reason))")
                    }
                case .pool(let pool):
                    if json {
                        print(try jsonText(EventJSON(sequence: event.sequence, topic: topicText, kind: "pool", pool: pool.pool.poolID, state: pool.pool.state.name, reason: pool.reason), oneLine: true))
                    } else {
                        print("#\(event.sequence) pool \(pool.pool.poolID) \(pool.pool.state.name): \(printableText(pool.reason))")
                    }
                case .route(let delta):
                    if !json { print("#\(event.sequence) routes from \(delta.ingress): version \(delta.toVersion), \(delta.upserted.count) rows changed, \(delta.removed.count) removed") }
                case nil:
                    break
                }
                fflush(nil)
                if let count, seen >= count { break }
            }
        }
    }

    struct RouteJSON: Encodable {
        struct Row: Encodable {
            var pool: String
            var path: [String]
            var latencyMs: Double?
        }

        var sequence: UInt64
        var ingress: String
        var version: UInt64
        var upserted: [Row]
        var removed: [String]
    }

    /// Holds one ingress's routing table: the whole table first, then each delta applied in turn.
    private func follow(ingress: String, subscriber: EventSubscription) async throws {
        // Subscribed before the table is taken: no delta between the two is missed.
        try await Task.sleep(for: .milliseconds(100))
        func take() async throws -> RouteFollower {
            try await controller.ask(closing: true) { client throws(ClientError) in try await RouteFollower.take(ingress: ingress, from: client) }
        }
        var table = try await take()
        if !json {
            print("routes from \(ingress) at version \(table.version): \(table.rows.count) pools")
            for row in table.rows.values.sorted(by: { $0.pool < $1.pool }) { print("  " + describe(row)) }
        }
        fflush(nil)
        var seen = 0
        while count.map({ seen < $0 }) ?? true {
            guard let batch = await subscriber.incoming.next() else { break }
            for delivery in batch {
                if let refusal = subscriptionRefusal(delivery) { throw CommandFailure("the controller refused the subscription: \(refusal)") }
                let frames = delivery.message.frames
                guard frames.count == 2, let message = try? WireMessage(bytes: frames[1]), case .event(let event) = message.body,
                      case .route(let delta) = event.kind else { continue }
                switch table.apply(delta) {
                case .alreadyHeld:
                    continue
                case .needsTable:
                    if !json { print(delta.resync ? "(the change was too large for one event; taking the table again)" : "(missed a route delta; taking the table again)") }
                    table = try await take()
                    if !json { print("routes from \(ingress) at version \(table.version): \(table.rows.count) pools") }
                case .applied:
                    seen += 1
                    if json {
                        let rows = delta.upserted.map { RouteJSON.Row(pool: $0.pool, path: $0.path.nodes, latencyMs: $0.hasPath ? $0.path.latencyMs : nil) }
                        print(try jsonText(RouteJSON(sequence: event.sequence, ingress: ingress, version: delta.toVersion, upserted: rows, removed: delta.removed), oneLine: true))
                    } else {
                        print("#\(event.sequence) version \(delta.fromVersion) → \(delta.toVersion)")
                        for row in delta.upserted { print("  " + describe(row)) }
                        for pool in delta.removed { print("  \(pool): removed") }
                    }
                }
                fflush(nil)
                if let count, seen >= count { break }
            }
        }
    }

    private func describe(_ row: Junction_V1_RouteRow) -> String {
        guard row.hasPath else { return "\(row.pool) at \(row.node): unreachable" }
        let state = row.hasPoolInfo ? ", \(row.poolInfo.state.name)" : ""
        return "\(row.pool) at \(row.node): \(row.path.nodes.joined(separator: " → ")) (\(decimal(row.path.latencyMs)) ms\(state))"
    }
}
