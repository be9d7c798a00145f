import ControllerCore
import Testing

private func subscribe(_ prefix: String) -> [UInt8] { [1] + Array(prefix.utf8) }
private func unsubscribe(_ prefix: String) -> [UInt8] { [0] + Array(prefix.utf8) }
private let alice: [UInt8] = [0, 0, 0, 1]
private let bob: [UInt8] = [0, 0, 0, 2]

@Suite("Subscribers of the events endpoint")
struct EventSubscribersTests {
    @Test func eachSubscriberIsHeldToItsOwnLimits() {
        var subscribers = EventSubscribers(limits: EventSubscribers.Limits(prefixesPerPeer: 3, prefixBytes: 16, peers: 2, livenessS: 10))
        for index in 0..<3 {
            #expect(subscribers.receive(subscribe("job/job-\(index)"), from: alice, now: 0) == .applied([.first("job/job-\(index)")]))
        }
        guard case .refused(let why, answer: true) = subscribers.receive(subscribe("job/job-3"), from: alice, now: 0) else {
            Issue.record("a fourth prefix is refused, and alice told why")
            return
        }
        #expect(why.contains("at most 3 prefixes"))
        #expect(subscribers.receive(subscribe("job/job-0"), from: alice, now: 1) == .applied([]), "a prefix held already is a refresh, not one more")
        // Another subscriber is not held to the first one's count.
        #expect(subscribers.receive(subscribe("job/job-3"), from: bob, now: 0) == .applied([.first("job/job-3")]))
        #expect(subscribers.receive(subscribe("job/job-0"), from: bob, now: 0) == .applied([]), "followed already, by alice")
        guard case .refused(_, answer: true) = subscribers.receive(subscribe(String(repeating: "x", count: 17)), from: bob, now: 0) else {
            Issue.record("a prefix longer than the limit is refused")
            return
        }
        guard case .refused(_, answer: false) = subscribers.receive([7, 1, 2], from: bob, now: 5) else {
            Issue.record("a message that is neither a subscription nor a keep-alive is refused, without a second answer so soon")
            return
        }
        guard case .refused(_, answer: true) = subscribers.receive([7], from: bob, now: 10) else {
            Issue.record("bob hears of a refusal again once the liveness window has passed")
            return
        }
        guard case .refused(let full, answer: true) = subscribers.receive(subscribe("pool/"), from: [9], now: 0) else {
            Issue.record("a third subscriber is refused when two is the limit")
            return
        }
        #expect(full.contains("2 subscribers"))
        guard case .refused(_, answer: false) = subscribers.receive(subscribe("pool/"), from: [10], now: 0.5) else {
            Issue.record("peers without room share one answer a second")
            return
        }
        #expect(subscribers.count == 2 && subscribers.prefixCount == 4)
    }

    @Test func topicsReachEveryMatchingSubscriberOnce() {
        var subscribers = EventSubscribers()
        _ = subscribers.receive(subscribe("job/"), from: alice, now: 0)
        _ = subscribers.receive(subscribe("job/job-7"), from: alice, now: 0)
        _ = subscribers.receive(subscribe(""), from: bob, now: 0)
        _ = subscribers.receive(subscribe("pool/"), from: bob, now: 0)
        #expect(Set(subscribers.recipients(of: Array("job/job-7".utf8))) == [alice, bob], "alice matches twice and hears it once")
        #expect(subscribers.recipients(of: Array("pool/east-1".utf8)) == [bob])
        #expect(subscribers.recipients(of: Array("job".utf8)) == [bob], "a prefix longer than the topic does not match")
    }

    @Test func whatASubscriberFollowedIsForgottenWhenItLeavesOrFallsSilent() {
        var subscribers = EventSubscribers(limits: EventSubscribers.Limits(livenessS: 10))
        _ = subscribers.receive(subscribe("route/Seattle"), from: alice, now: 0)
        _ = subscribers.receive(subscribe("route/Seattle"), from: bob, now: 0)
        _ = subscribers.receive(subscribe("job/"), from: bob, now: 0)
        #expect(subscribers.receive(unsubscribe("job/"), from: bob, now: 1) == .applied([.last("job/")]))
        #expect(subscribers.receive(unsubscribe("job/"), from: bob, now: 1) == .applied([]), "an unsubscription of nothing changes nothing")
        // Alice keeps herself alive with empty messages; bob says nothing more.
        #expect(subscribers.receive([], from: alice, now: 8) == .applied([]))
        #expect(subscribers.expire(now: 10.5).isEmpty, "bob's last word was at 1 s: still within the window")
        #expect(subscribers.expire(now: 11.5).isEmpty, "bob forgotten, but alice still follows route/Seattle")
        #expect(subscribers.count == 1)
        #expect(subscribers.expire(now: 18.5) == [.last("route/Seattle")], "alice silent since 8 s")
        #expect(subscribers.count == 0 && subscribers.prefixCount == 0 && subscribers.recipients(of: Array("route/Seattle".utf8)).isEmpty)
    }
}
