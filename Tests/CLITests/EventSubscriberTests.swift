import Foundation
import JunctionClient
import Synchronization
import Testing
import Wire
import ZeroMQ

/// What a test's reader saw on one subscription: refusals and events, by topic.
final class SubscriptionLog: Sendable {
    let seen = Mutex<(refusals: [String], topics: [String])>(([], []))

    func read(_ subscription: EventSubscription) -> Task<Void, Never> {
        Task {
            for await batch in subscription.incoming {
                for delivery in batch {
                    if let refusal = subscriptionRefusal(delivery) {
                        seen.withLock { $0.refusals.append(refusal) }
                    } else if let topic = delivery.message.frames.first {
                        seen.withLock { $0.topics.append(String(decoding: topic, as: UTF8.self)) }
                    }
                }
            }
        }
    }
}

/// The value of an unlabelled metric in a Prometheus exposition.
func metricValue(_ name: String, in exposition: String) -> Double? {
    exposition.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
}

@Suite("Subscribers of the events endpoint")
struct EventSubscriberTests {
    @Test func aSubscriberPastItsLimitIsToldWhyOthersKeepTheirEventsAndOneThatLeavesIsForgotten() async throws {
        let controller = try await RunningController.start(topology: repositoryTopology("abilene.yaml"), extra: ["--admin", "127.0.0.1:0"])
        let admin = try await adminURL(of: controller.process)
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let context = try Context()
        defer { context.terminate() }

        // One connection asking for 65 prefixes, one more than a subscriber may hold.
        let greedy = try EventSubscription(context: context, endpoints: [controller.events], prefixes: (1...65).map { "job/job-\($0)" }, name: "greedy")
        let greedyLog = SubscriptionLog()
        let greedyReader = greedyLog.read(greedy)
        defer { greedyReader.cancel() }
        let watcher = try EventSubscription(context: context, endpoints: [controller.events], prefixes: ["pool/"], name: "watcher")
        defer { watcher.close() }
        let watcherLog = SubscriptionLog()
        let watcherReader = watcherLog.read(watcher)
        defer { watcherReader.cancel() }

        try await waitUntil("the refusal of the 65th prefix", within: 30) {
            let refusals = greedyLog.seen.withLock { $0.refusals }
            return (refusals.contains { $0.contains("at most 64 prefixes") }, "refusals: \(refusals)")
        }
        try await waitUntil("both subscribers counted", within: 30) {
            let metrics = try await httpGet("\(admin)/metrics").body
            return (metricValue("junction_event_subscribers", in: metrics) == 2, metrics.split(separator: "\n").filter { $0.contains("event_sub") }.joined(separator: "\n"))
        }

        // The other subscriber's events still come: a pool registering is announced to it.
        let agent = try JunctionProcess(["pool", "--id", "chicago-a100", "--pools", controller.pools, "--cpu", "16", "--memory-gib", "32", "--work-dir", work])
        try await controller.waitForPools(["chicago-a100"])
        try await waitUntil("the watcher hearing of the pool", within: 30) {
            let topics = watcherLog.seen.withLock { $0.topics }
            return (topics.contains { $0.hasPrefix("pool/chicago-a100") }, "topics: \(topics)")
        }
        #expect(watcherLog.seen.withLock { $0.refusals }.isEmpty)

        // The greedy one goes away without a word: within the liveness window (10 s) the
        // controller forgets it and what it followed.
        greedy.close()
        try await waitUntil("the silent subscriber forgotten", within: 60) {
            let metrics = try await httpGet("\(admin)/metrics").body
            return (metricValue("junction_event_subscribers", in: metrics) == 1, metrics.split(separator: "\n").filter { $0.contains("event_sub") }.joined(separator: "\n"))
        }
        withExtendedLifetime(agent) {}
    }

    @Test func theMemoryAFloodOfSubscriptionsTookComesBackOnceItsSubscribersLeave() async throws {
        let controller = try await RunningController.start(topology: repositoryTopology("abilene.yaml"), extra: ["--admin", "127.0.0.1:0"])
        let admin = try await adminURL(of: controller.process)
        let context = try Context()
        defer { context.terminate() }
        let before = controller.process.residentMiB

        // 200 connections, each asking for 1,000 prefixes of 256 bytes and reading no answer.
        let peers = 200, prefixes = 1000
        var sockets: [Socket] = []
        defer { sockets.forEach { $0.close() } }
        for _ in 0..<peers {
            let socket = try Socket(context, type: .dealer)
            try socket.set(.linger(milliseconds: 0))
            try socket.set(.sendHighWaterMark(0))
            try socket.connect(controller.events)
            sockets.append(socket)
        }
        for (number, socket) in sockets.enumerated() {
            for index in 0..<prefixes {
                _ = try socket.send(Message([[1] + Array(String(repeating: "job/\(number)-\(index)-", count: 40).utf8.prefix(256))]))
            }
        }
        var peak = before
        try await waitUntil("every prefix past the 64th refused", within: 120) {
            peak = max(peak, controller.process.residentMiB)
            let metrics = try await httpGet("\(admin)/metrics").body
            let refused = metricValue("junction_event_subscriptions_refused_total", in: metrics) ?? 0
            return (refused == Double(peers * (prefixes - 64)), "refused: \(refused)")
        }
        #expect(peak - before > 40, "the flood took \(peak - before) MiB, too little for this test to tell memory kept from memory returned")

        sockets.forEach { $0.close() }
        sockets = []
        try await waitUntil("the flood's subscribers forgotten", within: 60) {
            let metrics = try await httpGet("\(admin)/metrics").body
            return (metricValue("junction_event_subscribers", in: metrics) == 0, metrics.split(separator: "\n").filter { $0.contains("event_sub") }.joined(separator: "\n"))
        }
        try await waitUntil("at least half the memory the flood took returned", within: 60) {
            let now = controller.process.residentMiB
            return (now > 0 && now - before <= (peak - before) / 2, "before \(before) MiB, at the peak \(peak) MiB, now \(now) MiB")
        }
    }
}
