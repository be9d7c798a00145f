/// Who follows which topics on the events endpoint: each peer's prefixes within per-peer limits,
/// refreshed by the peer and forgotten once it falls silent, so what a peer costs returns when it
/// leaves.
public struct EventSubscribers: Sendable {
    /// What one peer and all of them together may hold.
    public struct Limits: Sendable, Equatable {
        /// Prefixes one peer may follow at once.
        public var prefixesPerPeer: Int
        /// Bytes in one prefix: longer than any topic, so that nothing a topic could match is refused.
        public var prefixBytes: Int
        /// Peers followed at once.
        public var peers: Int
        /// Seconds without a message after which a peer is forgotten; a peer hears of its
        /// refused messages at most once in this time.
        public var livenessS: Double

        public init(prefixesPerPeer: Int = 64, prefixBytes: Int = 256, peers: Int = 1_024, livenessS: Double = 10) {
            self.prefixesPerPeer = prefixesPerPeer
            self.prefixBytes = prefixBytes
            self.peers = peers
            self.livenessS = livenessS
        }
    }

    /// A topic someone follows now and no one did, or the reverse: what the core hears as a
    /// subscription coming or going.
    public enum Change: Sendable, Equatable {
        case first(String)
        case last(String)
    }

    /// What a peer's message did.
    public enum Outcome: Sendable, Equatable {
        /// Applied (a refresh of what it follows included), with the topics that changed.
        case applied([Change])
        /// Not applied, and why. `answer` is false when the peer was told of a refusal less than
        /// the liveness window ago: one that never reads its answers cannot make them pile up.
        case refused(String, answer: Bool)
    }

    private struct Peer {
        var prefixes: Set<[UInt8]> = []
        var lastHeard: Double
        var lastAnswered = -Double.infinity
    }

    public let limits: Limits
    private var peers: [[UInt8]: Peer] = [:]
    /// The peers following each prefix.
    private var followers: [[UInt8]: Set<[UInt8]>] = [:]
    /// How many distinct prefixes there are of each length, so that a topic is matched by one
    /// lookup per length in use rather than by every peer's prefixes.
    private var lengths: [Int: Int] = [:]
    /// When a peer the table had no room for was last answered: such peers are not kept, so
    /// they share one answer a second.
    private var lastAnsweredWithoutRoom = -Double.infinity

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Peers followed now.
    public var count: Int { peers.count }
    /// Prefixes followed now, counted once however many peers follow them.
    public var prefixCount: Int { followers.count }
    /// The topics (prefixes) someone follows.
    public var topics: [String] { followers.keys.map { String(decoding: $0, as: UTF8.self) } }

    /// A message from `peer`: `1` and a prefix follows it, `0` and a prefix stops following it,
    /// an empty message only says the peer is still there. Every message keeps the peer alive.
    public mutating func receive(_ frame: [UInt8], from peer: [UInt8], now: Double) -> Outcome {
        guard peers[peer] != nil || peers.count < limits.peers else {
            let answer = now - lastAnsweredWithoutRoom >= 1
            if answer { lastAnsweredWithoutRoom = now }
            return .refused("the events endpoint follows \(limits.peers) subscribers already; try again later", answer: answer)
        }
        guard let kind = frame.first else {
            if peers[peer] != nil { peers[peer]?.lastHeard = now }
            return .applied([])
        }
        let prefix = Array(frame.dropFirst())
        var state = peers[peer] ?? Peer(lastHeard: now)
        state.lastHeard = now
        defer { peers[peer] = state }
        func refuse(_ reason: String) -> Outcome {
            let answer = now - state.lastAnswered >= limits.livenessS
            if answer { state.lastAnswered = now }
            return .refused(reason, answer: answer)
        }
        switch kind {
        case 1:
            guard prefix.count <= limits.prefixBytes else {
                return refuse("a subscription prefix is at most \(limits.prefixBytes) bytes, not \(prefix.count)")
            }
            guard !state.prefixes.contains(prefix) else { return .applied([]) }
            guard state.prefixes.count < limits.prefixesPerPeer else {
                return refuse("a subscriber follows at most \(limits.prefixesPerPeer) prefixes at once; unsubscribe from one first")
            }
            state.prefixes.insert(prefix)
            return .applied(follow(prefix, by: peer).map { [$0] } ?? [])
        case 0:
            guard state.prefixes.remove(prefix) != nil else { return .applied([]) }
            return .applied(unfollow(prefix, by: peer).map { [$0] } ?? [])
        default:
            return refuse("a message to the events endpoint starts with 1 (subscribe) or 0 (unsubscribe), or is empty (still here)")
        }
    }

    /// Forgets the peers not heard from within the liveness window; returns the topics no one
    /// follows any more.
    public mutating func expire(now: Double) -> [Change] {
        var changes: [Change] = []
        for (peer, state) in peers where now - state.lastHeard > limits.livenessS {
            peers[peer] = nil
            for prefix in state.prefixes {
                if let change = unfollow(prefix, by: peer) { changes.append(change) }
            }
        }
        return changes
    }

    /// The peers whose prefixes match `topic`, each once.
    public func recipients(of topic: [UInt8]) -> [[UInt8]] {
        var matched: [Set<[UInt8]>] = []
        for length in lengths.keys where length <= topic.count {
            if let peers = followers[Array(topic[..<length])] { matched.append(peers) }
        }
        guard let first = matched.first else { return [] }
        return Array(matched.dropFirst().reduce(first) { $0.union($1) })
    }

    private mutating func follow(_ prefix: [UInt8], by peer: [UInt8]) -> Change? {
        if followers[prefix]?.insert(peer) != nil { return nil }
        followers[prefix] = [peer]
        lengths[prefix.count, default: 0] += 1
        return .first(String(decoding: prefix, as: UTF8.self))
    }

    private mutating func unfollow(_ prefix: [UInt8], by peer: [UInt8]) -> Change? {
        guard var following = followers[prefix] else { return nil }
        following.remove(peer)
        guard following.isEmpty else {
            followers[prefix] = following
            return nil
        }
        followers[prefix] = nil
        lengths[prefix.count, default: 1] -= 1
        if lengths[prefix.count] == 0 { lengths[prefix.count] = nil }
        return .last(String(decoding: prefix, as: UTF8.self))
    }
}

extension EventSubscribers.Change {
    /// What the core hears of this change.
    public var input: ControllerEvent {
        switch self {
        case .first(let topic): .subscription(topic: topic, subscribed: true)
        case .last(let topic): .subscription(topic: topic, subscribed: false)
        }
    }
}
