import Dispatch
import Synchronization
internal import CZeroMQ

/// How a `SocketLoop` creates one of its sockets.
public struct SocketSpec: Sendable {
    public var type: SocketType
    public var options: [SocketOption]
    /// Endpoints to bind; a `tcp://host:*` wildcard is resolved and reported by the loop.
    public var bind: [String]
    public var connect: [String]
    /// Set on every socket so shutdown flushes queued messages for at most this long.
    public var lingerMilliseconds: Int32

    public init(
        _ type: SocketType,
        options: [SocketOption] = [],
        bind: [String] = [],
        connect: [String] = [],
        lingerMilliseconds: Int32 = 1_000
    ) {
        self.type = type
        self.options = options
        self.bind = bind
        self.connect = connect
        self.lingerMilliseconds = lingerMilliseconds
    }
}

/// A message a `SocketLoop` received, tagged with the index of the socket it came from.
public struct Delivery: Sendable, Hashable {
    public let socket: Int
    public let message: Message
}

/// Why a loop's owner is woken on the loop's thread: messages arrived, work was injected, or its
/// tick is due (any combination).
public struct LoopWake: Sendable {
    public var batch: [Delivery]
    /// Values handed in with `SocketLoop.inject`, in order.
    public var injected: [any Sendable]
    public var tickDue: Bool
}

/// Counters a `SocketLoop` keeps about its traffic.
public struct SocketLoopStatistics: Sendable, Hashable {
    public var sent = 0
    public var received = 0
    /// Messages libzmq refused for good, such as a ROUTER reply to a peer that has gone.
    public var sendFailures = 0
    /// Peers connected to each socket that listens on a network endpoint, by socket index.
    public var connections: [Int: Int] = [:]
}

/// Owns a group of sockets on one dedicated thread, blocked in `zmq_poll` on them and an eventfd.
///
/// Async code never touches the sockets: it queues outgoing messages with `send`, which wakes the
/// poll, and reads incoming messages from `incoming` in batches. `shutdown()` flushes what was
/// queued (bounded by each socket's linger), closes the sockets and returns; the caller then
/// terminates the context.
public final class SocketLoop: Sendable {
    /// The endpoints each socket bound, in spec order, with wildcard ports resolved.
    public let boundEndpoints: [[String]]
    /// Received messages, a batch per poll wake-up.
    public let incoming: IncomingBatches

    private let shared: LoopShared
    private let finished = DispatchSemaphore(value: 0)
    private let joined = Mutex(false)

    /// Handles a batch on the loop's own thread and returns the messages to send in answer.
    public typealias Handler = @Sendable (_ batch: [Delivery]) -> [(socket: Int, message: Message)]
    /// Handles whatever woke the loop, on the loop's own thread, and returns the messages to send.
    public typealias Owner = @Sendable (_ wake: LoopWake) -> [(socket: Int, message: Message)]

    /// Creates the sockets on a new thread named `name` and starts polling. Throws the first
    /// error from creating, configuring, binding or connecting a socket; then nothing is left open.
    ///
    /// With a `handler`, received batches go to it on the loop's thread, and what it returns is
    /// sent before the loop polls again: no thread hop and no wake-up on the way, for a fast,
    /// non-blocking handler (`incoming` then stays empty). Without one, batches go to `incoming`.
    public convenience init(context: Context, sockets specs: [SocketSpec], name: String = "zmq-loop", handler: Handler? = nil) throws {
        var owner: Owner?
        if let handler { owner = { @Sendable (wake: LoopWake) in handler(wake.batch) } }
        try self.init(context: context, sockets: specs, name: name, owner: owner, tick: nil)
    }

    /// A loop whose `owner` is the only code that touches some state: it runs on the loop's thread
    /// when messages arrive, when values are injected (`inject`), and every `tick` (the poll's
    /// timeout). What it returns is sent before the loop polls again.
    ///
    /// A socket bound to an endpoint that runs out of resources to accept with (file descriptors)
    /// stops listening for a while instead of spinning; `notices` hears of it, on the loop's thread.
    public init(context: Context, sockets specs: [SocketSpec], name: String = "zmq-loop", owner: Owner?, tick: Duration?, notices: (@Sendable (LoopNotice) -> Void)? = nil) throws {
        let wakeup = try Wakeup()
        let shared = LoopShared(wakeup: wakeup, socketCount: specs.count)
        self.shared = shared
        self.incoming = IncomingBatches(shared: shared)

        let setup = SetupResult()
        let finished = self.finished
        // A handler may run deep code on this thread; give it a main-thread-sized stack.
        try startThread(name: name, stackSize: 8 << 20) {
            SocketLoop.run(context: context, specs: specs, shared: shared, setup: setup, owner: owner, tick: tick, notices: notices)
            shared.finish()
            finished.signal()
        }
        setup.ready.wait()
        switch setup.outcome.withLock({ $0 }) {
        case .success(let endpoints):
            boundEndpoints = endpoints
        case .failure(let error):
            finished.wait()
            throw error
        case nil:
            preconditionFailure("socket loop signalled setup without an outcome")
        }
    }

    /// Queues a message for the socket at `socket` (an index into the specs) and wakes the loop.
    public func send(_ message: Message, on socket: Int = 0) {
        precondition(socket >= 0 && socket < shared.socketCount, "no socket \(socket) in this loop")
        shared.enqueue([(socket, message)])
    }

    /// Hands a value to the loop's owner on the loop's thread, in order, with one wake-up per burst.
    public func inject(_ value: any Sendable) {
        shared.inject(value)
    }

    /// Queues several messages with a single wake-up.
    public func send(_ messages: [(socket: Int, message: Message)]) {
        guard !messages.isEmpty else { return }
        shared.enqueue(messages.map { ($0.socket, $0.message) })
    }

    public var statistics: SocketLoopStatistics {
        shared.state.withLock { $0.statistics }
    }

    /// Stops the loop: flushes queued messages, closes the sockets, ends `incoming`, and waits for
    /// the thread. Returns promptly even when the loop was blocked. Calling it again does nothing.
    public func shutdown() {
        shared.state.withLock { $0.stopping = true }
        shared.wakeup.signal()
        let waited = joined.withLock { done in
            defer { done = true }
            return done
        }
        if !waited { finished.wait() }
    }

    deinit { shutdown() }

    // MARK: The loop thread

    private static let batchLimit = 512

    private static func run(
        context: Context,
        specs: [SocketSpec],
        shared: LoopShared,
        setup: SetupResult,
        owner: Owner?,
        tick: Duration?,
        notices: (@Sendable (LoopNotice) -> Void)?
    ) {
        var sockets: [Socket] = []
        var guards: [AcceptGuard] = []
        defer {
            for guarded in guards { guarded.monitor.close() }
            for socket in sockets { socket.close() }
        }
        let clock = ContinuousClock()
        do {
            var endpoints: [[String]] = []
            for spec in specs {
                let socket = try Socket(context, type: spec.type)
                sockets.append(socket)
                try socket.set(.linger(milliseconds: spec.lingerMilliseconds))
                for option in spec.options { try socket.set(option) }
                var bound: [String] = []
                for endpoint in spec.bind {
                    try socket.bind(endpoint)
                    bound.append(try socket.lastEndpoint())
                }
                for endpoint in spec.connect { try socket.connect(endpoint) }
                endpoints.append(bound)
                let listening = bound.filter { !$0.hasPrefix("inproc://") }
                if !listening.isEmpty {
                    guards.append(try AcceptGuard(context: context, socket: socket, index: sockets.count - 1, endpoints: listening, now: clock.now))
                }
            }
            setup.finish(.success(endpoints))
        } catch {
            setup.finish(.failure(error))
            return
        }

        var poller = Poller()
        poller.add(fileDescriptor: shared.wakeup.fileDescriptor)
        for socket in sockets { poller.add(socket) }
        for guarded in guards { poller.add(guarded.monitor) }
        let firstMonitor = sockets.count + 1
        var pending = [[Message]](repeating: [], count: sockets.count)
        var pendingStart = [Int](repeating: 0, count: sockets.count)

        var answers: [(socket: Int, message: Message)] = []
        var nextTick = tick.map { clock.now.advanced(by: $0) }
        do {
            while true {
                // Injected values are taken under the same lock that clears the wake-up flag, so
                // none can arrive unseen between the two.
                let (outgoing, injected, stopping, paused) = shared.takeOutgoing()
                if let owner {
                    let tickDue = nextTick.map { clock.now >= $0 } ?? false
                    if tickDue, let tick { nextTick = clock.now.advanced(by: tick) }
                    if !injected.isEmpty || tickDue {
                        answers += owner(LoopWake(batch: [], injected: injected, tickDue: tickDue))
                    }
                }
                for (index, message) in answers { pending[index].append(message) }
                answers.removeAll(keepingCapacity: true)
                for (index, message) in outgoing { pending[index].append(message) }
                var sent = 0, failed = 0
                for index in sockets.indices where pendingStart[index] < pending[index].count {
                    while pendingStart[index] < pending[index].count {
                        do {
                            guard try sockets[index].send(pending[index][pendingStart[index]], wait: false) else { break }
                            sent += 1
                        } catch let error where !error.isContextTerminated {
                            failed += 1
                        }
                        pendingStart[index] += 1
                    }
                    if pendingStart[index] == pending[index].count {
                        pending[index].removeAll(keepingCapacity: true)
                        pendingStart[index] = 0
                    }
                }
                if sent > 0 || failed > 0 {
                    shared.state.withLock {
                        $0.statistics.sent += sent
                        $0.statistics.sendFailures += failed
                    }
                }
                if stopping { return }

                for index in sockets.indices {
                    var events: PollEvents = paused ? [] : .readable
                    if pendingStart[index] < pending[index].count { events.insert(.writable) }
                    poller.setEvents(events, at: index + 1)
                }
                // The nearest of the tick and any paused endpoint's rebind, without building a list
                // on every pass of a hot loop.
                var deadline = nextTick
                for guarded in guards {
                    if let paused = guarded.pausedUntil, deadline.map({ paused < $0 }) ?? true { deadline = paused }
                }
                var timeout = -1
                if let deadline {
                    let left = clock.now.duration(to: deadline).components
                    timeout = Int(clamping: max(0, left.seconds * 1_000 + left.attoseconds / 1_000_000_000_000_000 + 1))
                }
                _ = try poller.poll(timeoutMilliseconds: timeout)
                if poller.ready(at: 0).contains(.readable) { shared.wakeup.drain() }
                for (offset, guarded) in guards.enumerated() {
                    var said: [LoopNotice] = []
                    if poller.ready(at: firstMonitor + offset).contains(.readable) {
                        said += try guarded.drain(socket: sockets[guarded.socketIndex], now: clock.now)
                        shared.state.withLock { $0.statistics.connections[guarded.socketIndex] = guarded.connections }
                    }
                    said += guarded.resumeIfDue(socket: sockets[guarded.socketIndex], now: clock.now)
                    if let notices { for notice in said { notices(notice) } }
                }

                var batch: [Delivery] = []
                for index in sockets.indices where poller.ready(at: index + 1).contains(.readable) {
                    while batch.count < batchLimit, let message = try sockets[index].receive(wait: false) {
                        batch.append(Delivery(socket: index, message: message))
                    }
                }
                if !batch.isEmpty {
                    if let owner {
                        shared.state.withLock { $0.statistics.received += batch.count }
                        answers += owner(LoopWake(batch: batch, injected: [], tickDue: false))
                    } else {
                        shared.deliver(batch)
                    }
                }
            }
        } catch {
            // ETERM (the context went away under us) or a poll failure: either way the loop ends
            // and `incoming` finishes, which is how its consumer learns of it.
            return
        }
    }
}

/// The received-message batches of a `SocketLoop`, in order.
///
/// Reading a batch frees room: the loop stops reading its sockets while too many received
/// messages wait unread, so a flood waits in libzmq's bounded queues instead of in memory here.
/// Cancelling a task that waits for a batch ends only that wait (it gets nil); the sequence stays
/// open for the next reader, so a reader can wait with a timeout.
public struct IncomingBatches: AsyncSequence, Sendable {
    public typealias Element = [Delivery]
    let shared: LoopShared

    public func makeAsyncIterator() -> Iterator {
        Iterator(shared: shared)
    }

    /// Waits for the next batch; nil once the loop has stopped and every batch was read.
    public func next() async -> [Delivery]? {
        await shared.nextBatch()
    }

    /// Iterates batches until the loop stops.
    public struct Iterator: AsyncIteratorProtocol {
        let shared: LoopShared

        public mutating func next() async -> [Delivery]? {
            await shared.nextBatch()
        }
    }
}

/// State shared between a loop's thread and the code that talks to it.
final class LoopShared: Sendable {
    struct State {
        var outgoing: [(Int, Message)] = []
        var injected: [any Sendable] = []
        var wakePending = false
        var stopping = false
        var unread = 0
        var paused = false
        var statistics = SocketLoopStatistics()
        var batches: [[Delivery]] = []
        var batchesHead = 0
        var finished = false
        var waiters: [(id: UInt64, continuation: CheckedContinuation<[Delivery]?, Never>)] = []
        var nextWaiterID: UInt64 = 0

        mutating func popBatch() -> [Delivery]? {
            guard batchesHead < batches.count else { return nil }
            let batch = batches[batchesHead]
            batches[batchesHead] = []
            batchesHead += 1
            unread -= batch.count
            if batchesHead == batches.count {
                batches.removeAll(keepingCapacity: true)
                batchesHead = 0
            }
            return batch
        }
    }

    static let pauseAbove = 50_000
    static let resumeBelow = 10_000

    let wakeup: Wakeup
    let socketCount: Int
    let state = Mutex(State())

    init(wakeup: Wakeup, socketCount: Int) {
        self.wakeup = wakeup
        self.socketCount = socketCount
    }

    func enqueue(_ messages: [(Int, Message)]) {
        wake { $0.outgoing.append(contentsOf: messages) }
    }

    func inject(_ value: any Sendable) {
        wake { $0.injected.append(value) }
    }

    /// Changes the state and wakes the loop: one eventfd write per wake-up, however many changes
    /// were made meanwhile.
    private func wake(after change: (inout State) -> Void) {
        let wake = state.withLock { state in
            change(&state)
            defer { state.wakePending = true }
            return !state.wakePending
        }
        if wake { wakeup.signal() }
    }

    func takeOutgoing() -> (outgoing: [(Int, Message)], injected: [any Sendable], stopping: Bool, paused: Bool) {
        state.withLock { state in
            let outgoing = state.outgoing
            state.outgoing.removeAll(keepingCapacity: true)
            let injected = state.injected
            if !injected.isEmpty { state.injected.removeAll(keepingCapacity: true) }
            state.wakePending = false
            return (outgoing, injected, state.stopping, state.paused)
        }
    }

    /// Called by the loop thread with a batch it read.
    func deliver(_ batch: [Delivery]) {
        let waiter = state.withLock { state -> CheckedContinuation<[Delivery]?, Never>? in
            state.statistics.received += batch.count
            if !state.waiters.isEmpty {
                return state.waiters.removeFirst().continuation
            }
            state.unread += batch.count
            if state.unread > Self.pauseAbove { state.paused = true }
            state.batches.append(batch)
            return nil
        }
        waiter?.resume(returning: batch)
    }

    /// Called by the loop thread as it ends: readers get what is left, then nil.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
    }

    func nextBatch() async -> [Delivery]? {
        if let batch = takeBatch() { return batch }
        let id = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> (batch: [Delivery]?, now: Bool) in
                    if let batch = state.popBatch() { return (batch, true) }
                    if state.finished || Task.isCancelled { return (nil, true) }
                    state.waiters.append((id, continuation))
                    return (nil, false)
                }
                if ready.now {
                    if ready.batch != nil { resumeReadingIfDrained() }
                    continuation.resume(returning: ready.batch)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<[Delivery]?, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: nil)
        }
    }

    private func takeBatch() -> [Delivery]? {
        let batch = state.withLock { $0.popBatch() }
        if batch != nil { resumeReadingIfDrained() }
        return batch
    }

    /// Wakes a loop that stopped reading once its readers have caught up.
    private func resumeReadingIfDrained() {
        let resume = state.withLock { state in
            guard state.paused, state.unread < Self.resumeBelow else { return false }
            state.paused = false
            return true
        }
        if resume { wakeup.signal() }
    }
}

/// Hands the outcome of socket setup from the loop thread back to the initializer.
final class SetupResult: Sendable {
    let ready = DispatchSemaphore(value: 0)
    let outcome = Mutex<Result<[[String]], any Error>?>(nil)

    func finish(_ result: Result<[[String]], any Error>) {
        outcome.withLock { $0 = result }
        ready.signal()
    }
}
