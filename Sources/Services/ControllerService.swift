import CSpawn
import ControllerCore
import ControllerWire
import CoreMetrics
import Dispatch
import Foundation
import Logging
import Observability
import ServiceLifecycle
import Store
import Synchronization
import Topology
import TopologyWire
import Wire
import ZeroMQ

/// What reaches the controller's loop thread from elsewhere, through the loop's inject queue.
enum ControllerInput: Sendable {
    case event(ControllerEvent)
    /// Read the topology file again (SIGHUP or an admin request).
    case reload
    /// Look at the core on its own thread (counters for tests and benchmarks).
    case inspect(@Sendable (ControllerCore) -> Void)
    /// A read-only request from the admin endpoint, answered through `reply` on the loop's thread.
    case observe(ClientRequest, reply: @Sendable (ClientReply) -> Void)
}

/// The sockets of the controller's loop, by index. The ZAP handler comes first, so that it is
/// bound before any endpoint can take a CURVE connection.
enum ControllerSocket {
    static let zap = 0
    static let pools = 1
    static let clients = 2
    static let events = 3
}

/// The ZAP domain each endpoint's socket asks under.
enum ZAPDomain: String {
    case pools = "junction.pools"
    case clients = "junction.clients"
    case events = "junction.events"
}

/// The controller's CURVE identity and allow-list: every endpoint runs CURVE, and a peer whose
/// public key is not listed is refused during the handshake.
public struct ControllerSecurity: Sendable {
    /// The controller's own key pair; peers name its public key as their server key.
    public var keyPair: CurveKeyPair
    /// Allowed public keys (Z85) to the names the access policy knows them by.
    public var names: [String: String]
    public var policy: AccessPolicy

    public init(keyPair: CurveKeyPair, names: [String: String], policy: AccessPolicy) {
        self.keyPair = keyPair
        self.names = names
        self.policy = policy
    }
}

/// How a controller shares its store with other controllers: one leads, under a lease with a
/// fencing token; the others stand by, answer NOT_LEADER naming the leader, and take over when
/// its lease runs out.
public struct LeadershipSettings: Sendable {
    public var election: any LeaderElection
    /// This controller's name in the lease, in logs and in NOT_LEADER answers.
    public var name: String
    /// The endpoints agents and clients should use to reach this controller; nil takes the
    /// endpoints as bound.
    public var advertised: ControllerEndpoints?
    /// How long the lease lasts unrenewed: a standby takes over at most this long after the
    /// leader's last renewal. The leader renews every third of it.
    public var leaseMs: Int64
    /// How often a standby asks for the lead.
    public var campaignEveryMs: Int64

    public init(election: any LeaderElection, name: String, advertised: ControllerEndpoints? = nil, leaseMs: Int64 = 6_000, campaignEveryMs: Int64 = 1_000) {
        self.election = election
        self.name = name
        self.advertised = advertised
        self.leaseMs = leaseMs
        self.campaignEveryMs = campaignEveryMs
    }
}

/// Whether this controller serves, and on what terms.
enum ControllerRole {
    /// The only controller on its store: it serves for its whole life.
    case alone
    /// It holds the lease, last renewed at `renewedAt` (when the renewal was asked, so the
    /// store's expiry is never earlier than `renewedAt` plus the lease).
    case leading(epoch: UInt64, renewedAt: ContinuousClock.Instant)
    /// Another controller leads, or none does yet; the last campaign was at `campaignedAt`.
    case standby(campaignedAt: ContinuousClock.Instant?, leader: ControllerAdvert?)
}

/// The controller core and its store, owned by the socket loop's thread: the loop wakes it with
/// a batch of messages, injected inputs or a due tick; it applies all of them, commits every state
/// change of the batch in one store transaction, and only then hands back what to send.
final class ControllerOwner: @unchecked Sendable {
    // @unchecked: `core`, `topology`, `topologyPath`, `stopped`, `role` and the
    // renewal state are touched only on the loop's thread (and by `init`, before the loop
    // exists); the rest are constants or Sendable.
    private var core: ControllerCore
    /// A fresh core on a topology: a standby's, and a deposed leader's from then on.
    private let makeCore: @Sendable (Topology) -> ControllerCore
    /// The topology last loaded, which a fresh core starts from.
    private var topology: Topology
    private let leadership: LeadershipSettings?
    private var role: ControllerRole
    /// When a failed renewal may be tried again, so a store that is down is not asked on every wake.
    private var renewalRetryAt: ContinuousClock.Instant?
    /// Whether the store could not be reached on the last campaign, so the failure is logged once.
    private var campaignFailing = false
    /// The events endpoint's subscribers and what each follows: a core that takes over later is
    /// told of the topics followed before it.
    private var subscribers: EventSubscribers
    private var subscribersExpiredAt = -Double.infinity
    private var memoryReturnedAt = -Double.infinity
    private var memoryToReturn = false
    private var subscriptionsRefused = 0
    private var lastSubscriptionRefusalLog = -Double.infinity
    /// How this controller advertises itself in the lease, once its endpoints are bound.
    let advert = Mutex<ControllerAdvert?>(nil)
    private let store: any ControllerStore
    let logger: Logger
    private var topologyPath: String
    private var stopped = false
    private let security: ControllerSecurity?
    /// The largest topology file a reload reads.
    let maximumTopologyBytes: Int
    /// Handshakes refused, and when each key's refusal was last logged.
    private var refused = 0
    private var lastRefusalLog: [String: Double] = [:]
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    /// Set once the loop exists, so file reads done elsewhere can hand their results back.
    let loop = Mutex<SocketLoop?>(nil)
    /// Told of a store failure, after which the controller stops: what it has promised may
    /// not be durable.
    let fatal: AsyncStream<any Error>.Continuation
    /// The admin endpoint's requests not yet answered, by correlation id; their address has no frames.
    private var observers: [UInt64: @Sendable (ClientReply) -> Void] = [:]
    private var nextObserver: UInt64 = 1
    let metrics: ServiceMetrics
    /// The events, as JSON, for the admin endpoint's live views.
    let events = EventFanout()
    /// Whether the store failed and the controller stopped serving.
    let failed = Atomic<Bool>(false)

    init(topology: Topology, makeCore: @escaping @Sendable (Topology) -> ControllerCore, store: any ControllerStore, leadership: LeadershipSettings?, logger: Logger, topologyPath: String, security: ControllerSecurity?, maximumTopologyBytes: Int, subscriberLimits: EventSubscribers.Limits, metrics: ServiceMetrics, fatal: AsyncStream<any Error>.Continuation) throws {
        self.metrics = metrics
        self.security = security
        self.maximumTopologyBytes = maximumTopologyBytes
        self.topology = topology
        self.makeCore = makeCore
        core = makeCore(topology)
        self.store = store
        self.leadership = leadership
        self.logger = logger
        self.topologyPath = topologyPath
        self.fatal = fatal
        started = clock.now
        subscribers = EventSubscribers(limits: subscriberLimits)
        // With a shared store, the first tick asks for the lead; until then this one stands by.
        guard leadership == nil else {
            role = .standby(campaignedAt: nil, leader: nil)
            metrics.leading.record(0)
            return
        }
        role = .alone
        metrics.leading.record(1)
        let time = now()
        let recovered: RecoveredState
        do {
            recovered = try store.recover(nowMs: time.unixMs, idempotencyWindowS: core.configuration.idempotencyWindowS)
        } catch {
            throw StoreError("cannot read the job store: \(error)")
        }
        let actions = self.core.restore(recovered, now: time)
        // Recovery's own changes and the new epoch are durable before the sockets open.
        _ = carryOut(actions)
        if stopped { throw StoreError("cannot write the job store") }
    }

    func now() -> ControllerTime {
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ControllerTime(seconds: seconds, unixMs: Int64(Date().timeIntervalSince1970 * 1_000))
    }

    /// Handles what woke the loop; returns what to send, once it is durable.
    func wake(_ wake: LoopWake) -> [(socket: Int, message: Message)] {
        guard !stopped else {
            // Reading is still safe; nothing is changed or sent, and no caller is left waiting.
            for input in wake.injected {
                switch input as? ControllerInput {
                case .inspect(let body): body(core)
                case .observe(_, let reply): reply(.error(ControllerError(.internal, "the controller stopped: its job store failed")))
                default: break
                }
            }
            return []
        }
        var leadershipOutput: [(socket: Int, message: Message)] = []
        if leadership != nil {
            leadershipOutput = keepLeadership(tickDue: wake.tickDue)
            if case .standby = role { return leadershipOutput + standBy(wake) }
        }
        let time = now()
        var actions: [ControllerAction] = []
        actions.reserveCapacity(wake.batch.count * 8)
        var handshakes: [(socket: Int, message: Message)] = []
        for delivery in wake.batch {
            if delivery.socket == ControllerSocket.zap {
                if let answer = authenticate(delivery.message, now: time.seconds) { handshakes.append((ControllerSocket.zap, answer)) }
            } else if delivery.socket == ControllerSocket.events {
                let (changes, refusal) = subscriberMessage(delivery, now: time.seconds)
                for change in changes { core.handle(change.input, now: time, into: &actions) }
                if let refusal { handshakes.append(refusal) }
            } else {
                let event = event(for: delivery)
                if metrics.enabled, case .fromClient(_, _, let request, _) = event, request.isPlacement {
                    let start = clock.now
                    core.handle(event, now: time, into: &actions)
                    metrics.placementDuration.recordNanoseconds(Int64((clock.now - start) / .nanoseconds(1)))
                } else {
                    core.handle(event, now: time, into: &actions)
                }
            }
        }
        for input in wake.injected {
            switch input as? ControllerInput {
            case .event(let event):
                if case .topologyLoaded(let loaded, _, _, _) = event { topology = loaded }
                core.handle(event, now: time, into: &actions)
            case .reload: load(path: "", replyTo: nil, correlationID: 0)
            case .inspect(let body): body(core)
            case .observe(let request, let reply):
                let id = nextObserver
                nextObserver += 1
                observers[id] = reply
                core.handle(.observe(ClientAddress(frames: []), correlationID: id, request), now: time, into: &actions)
            case nil: logger.error("the controller's loop was handed an unknown input: \(type(of: input))")
            }
        }
        if wake.tickDue {
            for change in expireSubscribers(now: time.seconds) { core.handle(change.input, now: time, into: &actions) }
            core.handle(.tick, now: time, into: &actions)
        }
        // A handshake's answer, or a refused subscription, promises nothing durable: it need not
        // wait for the commit.
        return leadershipOutput + handshakes + carryOut(actions)
    }

    /// Commits the actions' state changes in one transaction, then turns the rest into messages.
    private func carryOut(_ actions: [ControllerAction]) -> [(socket: Int, message: Message)] {
        var changed: [String: Int] = [:]
        var records: [StoredJob] = []
        for case .persist(let record) in actions {
            // The last state of a job in the batch is the one that counts.
            if let index = changed[record.job.id] {
                records[index] = record
            } else {
                changed[record.job.id] = records.count
                records.append(record)
            }
        }
        let counters = core.takeCounterChanges()
        do {
            // A tick that changed nothing durable costs no transaction.
            if !records.isEmpty || counters != nil {
                let start = clock.now
                try commitDurably(records, counters)
                metrics.storeCommit.recordNanoseconds(Int64((clock.now - start) / .nanoseconds(1)))
            }
        } catch where leadership != nil {
            // Nothing of this batch was kept: its callers hear where to go, pools re-register there.
            stepDown("\(error)")
            return actions.compactMap { action in
                switch action {
                case .reply(let address, let correlationID, _) where !address.frames.isEmpty: notLeader(to: address.frames, correlationID: correlationID, on: ControllerSocket.clients)
                case .query(_, let address, let correlationID) where !address.frames.isEmpty: notLeader(to: address.frames, correlationID: correlationID, on: ControllerSocket.clients)
                default: nil
                }
            }
        } catch {
            stopped = true
            failed.store(true, ordering: .relaxed)
            logger.critical("the job store failed; stopping before anything it did not keep is promised", metadata: ["error": "\(error)"])
            fatal.yield(error)
            for (_, reply) in observers { reply(.error(ControllerError(.internal, "the controller stopped: its job store failed"))) }
            observers = [:]
            return []
        }
        var out: [(socket: Int, message: Message)] = []
        func deliver(_ message: WireMessage, to frames: [[UInt8]], on socket: Int) {
            do throws(WireError) {
                out.append((socket, Message(frames + [try message.serialized()])))
            } catch .tooLarge(let size, let limit) where socket == ControllerSocket.clients {
                // Never silence: a reply past the limit becomes an error that says so.
                logger.warning("a \(message.kind) of \(size) bytes is over the message limit; answered with an error")
                var error = Junction_V1_ErrorReply()
                error.code = .tooLarge
                error.message = "the \(message.kind) would be \(size) bytes, above the \(limit)-byte limit; ask for a smaller page (limit)"
                if let bytes = try? WireMessage(.error(error), correlationID: message.correlationID).serialized() {
                    out.append((socket, Message(frames + [bytes])))
                }
            } catch {
                logger.error("could not encode a \(message.kind): \(error)")
            }
        }
        for action in actions {
            switch action {
            case .toPool(let peer, let correlationID, let command):
                deliver(ControllerWire.message(command, correlationID: correlationID), to: [peer], on: ControllerSocket.pools)
            case .reply(let address, let correlationID, let reply) where address.frames.isEmpty:
                observers.removeValue(forKey: correlationID)?(reply)
            case .reply(let address, let correlationID, let reply):
                deliver(ControllerWire.message(reply, correlationID: correlationID), to: address.frames, on: ControllerSocket.clients)
            case .publish(let notice):
                events.publish(notice)
                let topic = Array(notice.topic.utf8)
                let recipients = subscribers.recipients(of: topic)
                guard !recipients.isEmpty else { continue }
                do {
                    let event = try WireMessage(.event(notice.wire)).serialized()
                    for recipient in recipients { out.append((ControllerSocket.events, Message([recipient, topic, event]))) }
                } catch {
                    logger.error("could not encode an event: \(error)", metadata: ["topic": "\(notice.topic)"])
                }
            case .persist:
                break
            case .query(let query, let address, let correlationID) where address.frames.isEmpty:
                observers.removeValue(forKey: correlationID)?(answer(query))
            case .query(let query, let address, let correlationID):
                deliver(ControllerWire.message(answer(query), correlationID: correlationID), to: address.frames, on: ControllerSocket.clients)
            case .loadTopology(let path, let replyTo, let correlationID):
                load(path: path, replyTo: replyTo, correlationID: correlationID)
            case .log(let entry):
                let metadata = entry.metadata.mapValues { Logger.MetadataValue.string($0) }
                let level: Logger.Level = switch entry.level {
                case .debug: .debug
                case .info: .info
                case .notice: .notice
                case .warning: .warning
                case .error: .error
                }
                logger.log(level: level, "\(entry.message)", metadata: metadata)
            }
        }
        return out
    }

    // MARK: Leadership

    /// Renews the lease when due (stepping down when it cannot), or, standing by, asks for the
    /// lead when due; returns what taking the lead has to send.
    private func keepLeadership(tickDue: Bool) -> [(socket: Int, message: Message)] {
        guard let leadership else { return [] }
        let instant = clock.now
        let lease = Duration.milliseconds(leadership.leaseMs)
        switch role {
        case .alone:
            return []
        case .leading(let epoch, let renewedAt):
            // Past the lease nothing is served before a renewal succeeds, however recent the last try.
            let expired = instant - renewedAt >= lease
            guard expired || (instant - renewedAt >= lease / 3 && renewalRetryAt.map({ instant >= $0 }) ?? true) else { return [] }
            do {
                try leadership.election.renew(leaseMs: leadership.leaseMs)
                if renewalRetryAt != nil { logger.notice("the lease is renewed again", metadata: ["epoch": "\(epoch)"]) }
                renewalRetryAt = nil
                role = .leading(epoch: epoch, renewedAt: instant)
            } catch let error as StoreError where error.deposed {
                stepDown("\(error)")
            } catch {
                if expired {
                    stepDown("the lease ran out: the store could not be reached to renew it (\(error))")
                } else {
                    if renewalRetryAt == nil { logger.warning("cannot renew the lease; serving on until it runs out", metadata: ["error": "\(error)"]) }
                    renewalRetryAt = instant + .milliseconds(250)
                }
            }
            return []
        case .standby(let campaignedAt, let known):
            guard tickDue, campaignedAt.map({ instant - $0 >= .milliseconds(leadership.campaignEveryMs) }) ?? true,
                  let advert = advert.withLock({ $0 }) else { return [] }
            do {
                let outcome = try leadership.election.campaign(as: advert, leaseMs: leadership.leaseMs)
                if campaignFailing { logger.notice("the store answers again") }
                campaignFailing = false
                switch outcome {
                case .won(let epoch):
                    return lead(epoch: epoch, since: instant)
                case .lost(let leader):
                    if leader != known {
                        logger.notice("standing by", metadata: [
                            "leader": "\(leader?.name ?? "none")", "epoch": "\(leader?.epoch ?? 0)", "leader_clients": "\(leader?.clients ?? "")",
                        ])
                    }
                    role = .standby(campaignedAt: instant, leader: leader)
                }
            } catch {
                if !campaignFailing { logger.warning("cannot reach the store to ask for the lead; standing by", metadata: ["error": "\(error)"]) }
                campaignFailing = true
                role = .standby(campaignedAt: instant, leader: known)
            }
            return []
        }
    }

    /// Takes the lead: reads the store as of the takeover and serves from it.
    private func lead(epoch: UInt64, since instant: ContinuousClock.Instant) -> [(socket: Int, message: Message)] {
        role = .leading(epoch: epoch, renewedAt: instant)
        renewalRetryAt = nil
        let time = now()
        let recovered: RecoveredState
        do {
            recovered = try store.recover(nowMs: time.unixMs, idempotencyWindowS: core.configuration.idempotencyWindowS)
        } catch {
            logger.error("took the lead but cannot read the store; standing by again", metadata: ["error": "\(error)"])
            leadership?.election.resign()
            role = .standby(campaignedAt: instant, leader: nil)
            return []
        }
        metrics.leading.record(1)
        metrics.epoch.record(Int64(epoch))
        metrics.leadershipChanges.increment()
        logger.notice("leading", metadata: ["epoch": "\(epoch)", "active_jobs": "\(recovered.jobs.count)"])
        var actions = core.restore(recovered, now: time)
        for topic in subscribers.topics.sorted() { core.handle(.subscription(topic: topic, subscribed: true), now: time, into: &actions) }
        return carryOut(actions)
    }

    /// A subscriber's message on the events endpoint (ROUTER: its routing id, then the message):
    /// the topics it changed, and the answer to send back when it went past a limit.
    private func subscriberMessage(_ delivery: Delivery, now: Double) -> (changes: [EventSubscribers.Change], refusal: (socket: Int, message: Message)?) {
        let frames = delivery.message.frames
        guard frames.count == 2 else { return ([], nil) }
        defer { metrics.eventSubscribers.record(subscribers.count) }
        switch subscribers.receive(frames[1], from: frames[0], now: now) {
        case .applied(let changes):
            return (changes, nil)
        case .refused(let reason, let answer):
            metrics.subscriptionsRefused.increment()
            subscriptionsRefused += 1
            if now - lastSubscriptionRefusalLog >= 60 {
                lastSubscriptionRefusalLog = now
                logger.warning("refused an events subscription: \(reason)", metadata: ["refused_total": "\(subscriptionsRefused)"])
            }
            guard answer else { return ([], nil) }
            var error = Junction_V1_ErrorReply()
            error.code = .invalidRequest
            error.message = reason
            guard let bytes = try? WireMessage(.error(error)).serialized() else { return ([], nil) }
            return ([], (ControllerSocket.events, Message([frames[0], [], bytes])))
        }
    }

    /// Forgets the subscribers gone silent (at most once a second) and hands the memory their
    /// messages took back to the system; returns the topics no one follows any more.
    private func expireSubscribers(now: Double) -> [EventSubscribers.Change] {
        guard now - subscribersExpiredAt >= 1 else { return [] }
        subscribersExpiredAt = now
        let before = subscribers.count
        let changes = subscribers.expire(now: now)
        metrics.eventSubscribers.record(subscribers.count)
        // At most once a liveness window: each trim stalls the loop (4–14 ms after a flood), and
        // a controller whose clients follow their submits sees a subscriber leave every second.
        // Departures inside the window wait for its end, so the last wave of a flood is returned too.
        if subscribers.count < before { memoryToReturn = true }
        if memoryToReturn, now - memoryReturnedAt >= subscribers.limits.livenessS {
            memoryToReturn = false
            memoryReturnedAt = now
            let started = clock.now
            junction_return_free_memory()
            logger.debug("returned free memory", metadata: ["ms": "\((clock.now - started) / .milliseconds(1))"])
        }
        return changes
    }

    /// Stops serving: a fresh core waits for the next campaign, and every caller still waiting
    /// on this one is told to go to the leader.
    private func stepDown(_ reason: String) {
        guard case .leading(let epoch, _) = role else { return }
        logger.error("stepping down: nothing more is served or dispatched from this controller", metadata: ["reason": "\(reason)", "epoch": "\(epoch)"])
        // Whoever took over, so that the callers turned away from here are told where to go.
        role = .standby(campaignedAt: clock.now, leader: try? leadership?.election.leader())
        renewalRetryAt = nil
        core = makeCore(topology)
        metrics.leading.record(0)
        metrics.epoch.record(0)
        metrics.leadershipChanges.increment()
        for (_, reply) in observers { reply(.error(ControllerError(.notLeader, notLeaderText))) }
        observers = [:]
    }

    /// A standby's wake: handshakes are answered as the leader would, requests with NOT_LEADER;
    /// a reload changes the topology it will lead with.
    private func standBy(_ wake: LoopWake) -> [(socket: Int, message: Message)] {
        var out: [(socket: Int, message: Message)] = []
        let time = now()
        for delivery in wake.batch {
            switch delivery.socket {
            case ControllerSocket.zap:
                if let answer = authenticate(delivery.message, now: time.seconds) { out.append((ControllerSocket.zap, answer)) }
            case ControllerSocket.events:
                if let refusal = subscriberMessage(delivery, now: time.seconds).refusal { out.append(refusal) }
            case ControllerSocket.pools, ControllerSocket.clients:
                let frames = delivery.message.frames
                guard frames.count >= 2, let message = try? WireMessage(bytes: frames[frames.count - 1]) else { continue }
                if let reply = notLeader(to: Array(frames.dropLast()), correlationID: message.correlationID, on: delivery.socket) { out.append(reply) }
            default:
                continue
            }
        }
        for input in wake.injected {
            switch input as? ControllerInput {
            case .inspect(let body): body(core)
            case .observe(_, let reply): reply(.error(ControllerError(.notLeader, notLeaderText)))
            case .reload: load(path: "", replyTo: nil, correlationID: 0)
            case .event(.topologyLoaded(let loaded, _, _, _)):
                topology = loaded
                core = makeCore(loaded)
            case .event(.topologyRejected(let problems, let path, _, _)):
                logger.error("the topology file was not reloaded", metadata: ["path": "\(path)", "problems": "\(problems.joined(separator: "; "))"])
            case .event: break
            case nil: logger.error("the controller's loop was handed an unknown input: \(type(of: input))")
            }
        }
        if wake.tickDue { _ = expireSubscribers(now: time.seconds) }
        return out
    }

    /// Gives the lease up, once the loop has stopped: nothing is served from here any more.
    func resign() {
        leadership?.election.resign()
    }

    /// What a standby says instead of serving.
    private var notLeaderText: String {
        let name = leadership?.name ?? ""
        guard case .standby(_, let leader?) = role, leader.name != name else {
            return "controller \(name) stands by and no other controller leads now; retry in a few seconds"
        }
        return "controller \(name) stands by: \(leader.name) leads (epoch \(leader.epoch)) at clients \(leader.clients), pools \(leader.pools)"
    }

    /// A NOT_LEADER answer, naming the leader when one is known.
    private func notLeader(to address: [[UInt8]], correlationID: UInt64, on socket: Int) -> (socket: Int, message: Message)? {
        var error = Junction_V1_ErrorReply()
        error.code = .notLeader
        error.message = notLeaderText
        if case .standby(_, let leader?) = role, leader.name != leadership?.name {
            error.leader.name = leader.name
            error.leader.pools = leader.pools
            error.leader.clients = leader.clients
            error.leader.events = leader.events
            error.leader.epoch = leader.epoch
        }
        guard let bytes = try? WireMessage(.error(error), correlationID: correlationID).serialized() else { return nil }
        return (socket, Message(address + [bytes]))
    }

    /// Commits a batch. Sharing the store, a failure to reach it is retried (a commit writes
    /// final states, so writing it twice is harmless) until the lease runs out; deposition is not.
    private func commitDurably(_ records: [StoredJob], _ counters: DurableCounters?) throws {
        guard let leadership, case .leading(_, let renewedAt) = role else {
            try store.commit(jobs: records, counters: counters)
            return
        }
        var attempt = 0
        while true {
            do {
                try store.commit(jobs: records, counters: counters)
                return
            } catch let error as StoreError where error.deposed {
                throw error
            } catch {
                guard clock.now - renewedAt < .milliseconds(leadership.leaseMs) else { throw error }
                if attempt == 0 { logger.warning("a commit failed; trying again until the lease runs out", metadata: ["error": "\(error)"]) }
                attempt += 1
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
    }

    /// A client's question answered from the store.
    private func answer(_ query: StoreQuery) -> ClientReply {
        let answer: StoreAnswer
        do {
            answer = try store.answer(query)
        } catch {
            logger.error("the job store could not answer a query", metadata: ["error": "\(error)"])
            return .error(ControllerError(.internal, "the job store could not answer: \(error)"))
        }
        switch (query, answer) {
        case (_, .missing(let id)):
            return .error(ControllerError(.notFound, "no job \(id)"))
        case (_, .foreign(let id)):
            return .error(.notYours(id, caller: query.owner ?? ""))
        case (_, .usage(let summary)):
            return .usage(summary)
        case (.cancelFinished, .jobs(let jobs, _)):
            return .cancelled(jobs.first)
        case (let query, .jobs(let jobs, let next)):
            // An unfinished job is shown as this controller holds it: not every change is
            // committed (a waiting job's latest reason is not), and a listing must agree with
            // `status job-N`, which memory answers. A finished job's last change was committed.
            let held = jobs.map { $0.state.isFinished ? $0 : core.job($0.id) ?? $0 }
            if case .page = query { return Self.pageThatFits(held, next: next) }
            return .jobs(held, nextCursor: next)
        }
    }

    /// A listing page cut, when its jobs would not fit in one message, to the jobs that do, with
    /// the cursor after the last of them: a page of large jobs (long commands, many variables)
    /// takes more pages instead of an error and a retry. A single job too large for a message
    /// is left for the reply's own size check to refuse.
    static func pageThatFits(_ jobs: [JobView], next: String) -> ClientReply {
        // Room for the envelope, the cursor and each job's field tag and length.
        var room = WireProtocol.maxMessageBytes - 4_096
        // Most pages are far from the limit: only one that may be near it is measured exactly.
        guard jobs.reduce(0, { $0 + $1.roughWireBytes }) > room / 2 else { return .jobs(jobs, nextCursor: next) }
        for (index, job) in jobs.enumerated() {
            room -= ((try? job.wire.serializedBytes() as [UInt8])?.count ?? 0) + 8
            guard room < 0, index > 0, let number = UInt64(jobs[index - 1].id.dropFirst(4)) else { continue }
            return .jobs(Array(jobs.prefix(index)), nextCursor: "\(number)")
        }
        return .jobs(jobs, nextCursor: next)
    }

    /// Reads and validates a topology file off the loop's thread, then hands the outcome back.
    private func load(path: String, replyTo: ClientAddress?, correlationID: UInt64) {
        let file = path.isEmpty ? topologyPath : path
        if !path.isEmpty { topologyPath = path }
        Task.detached { [self] in
            let event: ControllerEvent
            do throws(TopologyErrors) {
                let loaded = try Topology.load(contentsOf: file, maximumBytes: maximumTopologyBytes)
                event = .topologyLoaded(loaded.topology, path: file, replyTo: replyTo, correlationID: correlationID)
            } catch {
                event = .topologyRejected(problems: error.problems.map(\.description), path: file, replyTo: replyTo, correlationID: correlationID)
            }
            self.loop.withLock { $0 }?.inject(ControllerInput.event(event))
        }
    }

    private func event(for delivery: Delivery) -> ControllerEvent {
        ControllerWire.event(frames: delivery.message.frames, on: delivery.socket == ControllerSocket.pools ? .pools : .clients, caller: delivery.message.userID)
    }

    /// Answers a ZAP request (ZeroMQ RFC 27) from libzmq's handshake: a CURVE key on the
    /// allow-list is let in under its name, any other is refused, and the refusal logged (once a
    /// minute per key, so a peer retrying cannot flood the log).
    private func authenticate(_ request: Message, now: Double) -> Message? {
        // ROUTER framing: the requester's identity and the empty delimiter, then the request
        // (version, request id, domain, address, identity, mechanism, credentials).
        let frames = request.frames
        guard let delimiter = frames.firstIndex(where: \.isEmpty), frames.count >= delimiter + 7 else {
            logger.error("dropped a malformed ZAP request of \(frames.count) frames")
            return nil
        }
        let envelope = Array(frames[...delimiter])
        let body = Array(frames[(delimiter + 1)...])
        let requestID = body[1]
        let address = String(decoding: body[3], as: UTF8.self)
        let mechanism = String(decoding: body[5], as: UTF8.self)
        func reply(_ code: String, _ text: String, user: String = "") -> Message {
            Message(envelope + [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []])
        }
        guard let security else { return reply("200", "OK") }
        guard mechanism == "CURVE", body.count >= 7, let key = Z85.encode(body[6]) else {
            refused += 1
            metrics.refusedWithoutCurve.increment()
            return reply("400", "CURVE required")
        }
        let domain = ZAPDomain(rawValue: String(decoding: body[2], as: UTF8.self))
        guard let name = security.names[key] else {
            refuse(key, now: now, "refused a connection from \(address): its CURVE key \(key) is not on the allow-list")
            return reply("400", "key not allowed")
        }
        // Only client keys read the events (which name every job). On the other endpoints the
        // core refuses a key out of its place with an answer that says why, which a refused
        // handshake could not.
        guard domain != .events || security.policy.clients[name] != nil else {
            refuse(key, now: now, "refused a subscriber from \(address) on the events endpoint: \(name) is not a client key")
            return reply("400", "only client keys may subscribe to events")
        }
        return reply("200", "OK", user: name)
    }

    /// Counts a refused key and logs it, once a minute per key.
    private func refuse(_ key: String, now: Double, _ message: String) {
        refused += 1
        metrics.refusedKeys.increment()
        if now - (lastRefusalLog[key] ?? -.infinity) >= 60 {
            lastRefusalLog[key] = now
            logger.warning("\(message)", metadata: ["refused_total": "\(refused)"])
        }
    }
}

/// The controller daemon: one socket loop owning the pools, clients and events ROUTERs, and with
/// them the pure controller core and its store. Messages, ticks (the loop's poll
/// timeout), reloads and signals all reach the core on that one thread.
public final class ControllerService: Service, Sendable {
    private let owner: ControllerOwner
    private let loop: SocketLoop
    private let context: Context
    private let failures: AsyncStream<any Error>

    /// The endpoints bound, wildcard ports resolved: pools, clients, events.
    public let endpoints: ControllerEndpoints

    /// Recovers from the store (with `leadership`, once its first campaign takes the lead),
    /// then binds the endpoints at once, so that a bad address fails here, before `run`.
    public init(topology: Topology, topologyPath: String, endpoints: ControllerEndpoints, configuration: ControllerConfiguration = ControllerConfiguration(), store: any ControllerStore, leadership: LeadershipSettings? = nil, security: ControllerSecurity? = nil, maximumTopologyBytes: Int = Topology.defaultMaximumBytes, subscriberLimits: EventSubscribers.Limits = EventSubscribers.Limits(), metrics: PrometheusExport? = nil, logger: Logger, tickInterval: Duration = .milliseconds(100)) throws {
        let (failures, fatal) = AsyncStream.makeStream(of: (any Error).self)
        self.failures = failures
        var configuration = configuration
        configuration.logLevel = switch logger.logLevel {
        case .trace, .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error, .critical: .error
        }
        if let security { configuration.access = security.policy }
        let coreMetrics = ControllerMetrics(factory: metrics ?? NOOPMetricsHandler.instance)
        let coreConfiguration = configuration
        let owner = try ControllerOwner(
            topology: topology, makeCore: { ControllerCore(topology: $0, configuration: coreConfiguration, metrics: coreMetrics) },
            store: store, leadership: leadership, logger: logger, topologyPath: topologyPath, security: security,
            maximumTopologyBytes: maximumTopologyBytes, subscriberLimits: subscriberLimits, metrics: ServiceMetrics(factory: metrics), fatal: fatal
        )
        self.owner = owner
        context = try Context()
        let limit = Int64(WireProtocol.maxMessageBytes + 4_096)
        let socketLoop: SocketLoop
        do {
            // With keys, every endpoint runs CURVE and asks the ZAP handler (the first socket) who may in.
            // The ZAP domain tells the handler which endpoint asks, so each key is let in only where its kind belongs.
            func curve(_ endpoint: ZAPDomain) -> [SocketOption] {
                security.map { [.curveServer(true), .curveSecretKey($0.keyPair.secretKey), .zapDomain(endpoint.rawValue)] } ?? []
            }
            socketLoop = try SocketLoop(context: context, sockets: [
                SocketSpec(.router, bind: ["inproc://zeromq.zap.01"], lingerMilliseconds: 0),
                SocketSpec(.router, options: curve(.pools) + [.maxMessageSize(bytes: limit), .routerMandatory(true), .receiveHighWaterMark(100_000), .sendHighWaterMark(100_000)], bind: [endpoints.pools], lingerMilliseconds: 500),
                SocketSpec(.router, options: curve(.clients) + [.maxMessageSize(bytes: limit), .receiveHighWaterMark(10_000), .sendHighWaterMark(10_000)], bind: [endpoints.clients], lingerMilliseconds: 500),
                // Subscribers are told apart by their connection, so each is held to its own limits
                // (a PUB socket's subscriptions carry no one's name). At most 10,000 events wait
                // for each: 1,024 subscribers that never read hold a few GB at worst.
                SocketSpec(.router, options: curve(.events) + [.sendHighWaterMark(10_000), .maxMessageSize(bytes: 4_096)], bind: [endpoints.events], lingerMilliseconds: 0),
            ], name: "controller-sockets", owner: { [owner] wake in owner.wake(wake) }, tick: tickInterval, notices: { [logger] notice in
                switch notice {
                case .acceptsPaused: logger.error("\(notice)")
                case .rebindFailed: logger.warning("\(notice)")
                case .acceptsResumed: logger.notice("\(notice)")
                }
            })
        } catch {
            context.terminate()
            throw error
        }
        loop = socketLoop
        self.endpoints = ControllerEndpoints(
            pools: socketLoop.boundEndpoints[ControllerSocket.pools][0], clients: socketLoop.boundEndpoints[ControllerSocket.clients][0],
            events: socketLoop.boundEndpoints[ControllerSocket.events][0]
        )
        owner.loop.withLock { $0 = socketLoop }
        if let leadership {
            let advertised = leadership.advertised ?? ControllerEndpoints(
                pools: reachable(self.endpoints.pools), clients: reachable(self.endpoints.clients), events: reachable(self.endpoints.events)
            )
            owner.advert.withLock { $0 = ControllerAdvert(name: leadership.name, pools: advertised.pools, clients: advertised.clients, events: advertised.events) }
        }
    }

    /// Reads the topology file again (SIGHUP or an admin request): a bad file changes nothing.
    public func reload() {
        loop.inject(ControllerInput.reload)
    }

    /// Answers a read-only request on the loop's thread, as a client with the observer role; nil
    /// when the loop does not answer within `timeout` (it is stopping, or wedged).
    func observe(_ request: ClientRequest, timeout: Duration = .seconds(10)) async -> ClientReply? {
        await awaitLoop(timeout: timeout) { [loop] answer in loop.inject(ControllerInput.observe(request, reply: answer)) }
    }

    /// Reads something off the core on its loop's thread; nil when the loop does not answer within `timeout`.
    func inspect<Value: Sendable>(timeout: Duration, _ body: @escaping @Sendable (ControllerCore) -> Value) async -> Value? {
        await awaitLoop(timeout: timeout) { [loop] answer in loop.inject(ControllerInput.inspect { answer(body($0)) }) }
    }

    /// Whether the store failed, after which the controller serves nothing.
    var hasFailed: Bool { owner.failed.load(ordering: .relaxed) }

    /// Peers connected to each endpoint now: pool agents, clients, and event subscribers.
    var connections: [(endpoint: String, count: Int)] {
        let counts = loop.statistics.connections
        return [("pools", counts[ControllerSocket.pools] ?? 0), ("clients", counts[ControllerSocket.clients] ?? 0), ("events", counts[ControllerSocket.events] ?? 0)]
    }

    /// A stream of the controller's events as JSON, from now on.
    func events() -> AsyncStream<[UInt8]> { owner.events.subscribe() }

    /// Reads something off the core on its loop's thread.
    public func inspect<Value: Sendable>(_ body: @escaping @Sendable (ControllerCore) -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            loop.inject(ControllerInput.inspect { core in continuation.resume(returning: body(core)) })
        }
    }

    /// Serves until the service group shuts down (or the task is cancelled), then closes the
    /// sockets. Throws when the store fails: the controller stops rather than promise what it
    /// cannot keep.
    public func run() async throws {
        owner.logger.notice("controller listening", metadata: [
            "pools": "\(endpoints.pools)", "clients": "\(endpoints.clients)", "events": "\(endpoints.events)",
        ])
        let failure: (any Error)? = await cancelWhenGracefulShutdown {
            var iterator = self.failures.makeAsyncIterator()
            return await iterator.next()
        }
        shutdown()
        if let failure { throw failure }
    }

    /// Closes the sockets and the context, and gives up the lead so that a standby takes over
    /// at once; safe to call more than once.
    public func shutdown() {
        loop.shutdown()
        owner.loop.withLock { $0 = nil }
        owner.resign()
        context.terminate()
    }

    /// Reads something off the core on its loop's thread, blocking the caller until it has: for
    /// synchronous callers such as benchmarks, never from a task.
    public func inspectWaiting<Value: Sendable>(_ body: @escaping @Sendable (ControllerCore) -> Value) -> Value {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Value?>(nil)
        loop.inject(ControllerInput.inspect { core in
            result.withLock { $0 = body(core) }
            done.signal()
        })
        done.wait()
        return result.withLock { $0! }
    }
}

/// An endpoint as others can reach it: a wildcard host becomes this machine's name.
public func reachable(_ endpoint: String) -> String {
    for wildcard in ["tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:"] where endpoint.hasPrefix(wildcard) {
        return "tcp://\(hostName()):" + endpoint.dropFirst(wildcard.count)
    }
    return endpoint
}

/// This machine's name (gethostname: no name service asked).
public func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Waits for the loop to call back, or for `timeout`, whichever comes first; the loop's late
/// answer is then dropped.
func awaitLoop<Value: Sendable>(timeout: Duration, _ ask: (@escaping @Sendable (Value) -> Void) -> Void) async -> Value? {
    let pending = Pending<Value>()
    return await withCheckedContinuation { continuation in
        pending.state.withLock { $0.continuation = continuation }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            pending.resume(nil)
        }
        pending.state.withLock { $0.timer = timer }
        ask { pending.resume($0) }
    }
}

/// A continuation resumed once, by whoever comes first; an answer in time stops the timer.
private final class Pending<Value: Sendable>: Sendable {
    let state = Mutex<(continuation: CheckedContinuation<Value?, Never>?, timer: Task<Void, Never>?)>((nil, nil))

    func resume(_ value: Value?) {
        let (continuation, timer) = state.withLock { state in
            defer { state = (nil, nil) }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(returning: value)
    }
}

extension JobView {
    /// Roughly what a job takes on the wire: its text, and a generous allowance for the rest.
    var roughWireBytes: Int {
        var bytes = 1_024 + id.utf8.count + pool.utf8.count + message.utf8.count + output.utf8.count
        bytes += spec.command.utf8.count + spec.name.utf8.count + spec.owner.utf8.count + spec.tenant.utf8.count
        bytes += path.reduce(0) { $0 + $1.utf8.count + 4 }
        bytes += spec.arguments.reduce(0) { $0 + $1.utf8.count + 4 }
        bytes += spec.environment.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 8 }
        bytes += spec.resources.gpus.keys.reduce(0) { $0 + $1.utf8.count + 16 }
        bytes += history.reduce(0) { $0 + $1.reason.utf8.count + $1.pool.utf8.count + 32 }
        return bytes
    }
}
