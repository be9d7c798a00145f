import Dispatch
import Foundation
import Synchronization
import Testing
@testable import ZeroMQ

/// The transports every pattern is exercised over.
enum Transport: String, CaseIterable, CustomTestStringConvertible {
    case inproc, ipc, tcp

    var testDescription: String { rawValue }

    /// A fresh endpoint to bind: unique inproc and ipc names, an ephemeral tcp port.
    func endpoint() -> String {
        let unique = UUID().uuidString.prefix(8)
        switch self {
        case .inproc: return "inproc://test-\(unique)"
        case .ipc: return "ipc://\(NSTemporaryDirectory())junction-test-\(unique).sock"
        case .tcp: return "tcp://127.0.0.1:*"
        }
    }
}

/// Binds `server`, connects `client` to where it really bound, with receive timeouts so no test hangs.
func pair(_ context: Context, _ server: SocketType, _ client: SocketType, over transport: Transport) throws -> (Socket, Socket) {
    let bound = try Socket(context, type: server)
    let connected = try Socket(context, type: client)
    for socket in [bound, connected] {
        try socket.set(.linger(milliseconds: 0))
        try socket.set(.receiveTimeout(milliseconds: 2_000))
        try socket.set(.sendTimeout(milliseconds: 2_000))
    }
    try bound.bind(transport.endpoint())
    try connected.connect(try bound.lastEndpoint())
    return (bound, connected)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Socket patterns over inproc, ipc and tcp")
struct SocketPatternTests {
    @Test(arguments: Transport.allCases)
    func routerDealerCarriesIdentityBothWays(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let router = try Socket(context, type: .router)
        let dealer = try Socket(context, type: .dealer)
        defer { router.close(); dealer.close() }
        for socket in [router, dealer] {
            try socket.set(.linger(milliseconds: 0))
            try socket.set(.receiveTimeout(milliseconds: 2_000))
        }
        try dealer.set(.routingID(bytes("pool-7")))
        try router.bind(transport.endpoint())
        try dealer.connect(try router.lastEndpoint())

        try dealer.send(Message(bytes("hello"), bytes("world")))
        let request = try #require(try router.receive())
        #expect(request.frames == [bytes("pool-7"), bytes("hello"), bytes("world")])

        try router.send(Message(bytes("pool-7"), bytes("welcome")))
        let reply = try #require(try dealer.receive())
        #expect(reply.frames == [bytes("welcome")])
    }

    @Test(arguments: Transport.allCases)
    func requestReplyAlternates(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let (reply, request) = try pair(context, .reply, .request, over: transport)
        defer { reply.close(); request.close() }
        for round in 0..<3 {
            try request.send(Message(bytes("ping \(round)")))
            #expect(try reply.receive()?.frames == [bytes("ping \(round)")])
            try reply.send(Message(bytes("pong \(round)")))
            #expect(try request.receive()?.frames == [bytes("pong \(round)")])
        }
    }

    @Test(arguments: Transport.allCases)
    func pushPullDeliversInOrder(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let (pull, push) = try pair(context, .pull, .push, over: transport)
        defer { pull.close(); push.close() }
        for index in 0..<100 { try push.send(Message(bytes("\(index)"))) }
        for index in 0..<100 {
            #expect(try pull.receive()?.frames == [bytes("\(index)")])
        }
    }

    @Test(arguments: Transport.allCases)
    func pairIsBidirectional(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let (left, right) = try pair(context, .pair, .pair, over: transport)
        defer { left.close(); right.close() }
        try left.send(Message(bytes("to right")))
        #expect(try right.receive()?.frames == [bytes("to right")])
        try right.send(Message(bytes("to left")))
        #expect(try left.receive()?.frames == [bytes("to left")])
    }

    @Test(arguments: Transport.allCases)
    func publisherReachesOnlyMatchingSubscriptions(transport: Transport) throws {
        let context = try Context()
        defer { context.terminate() }
        let (publisher, subscriber) = try pair(context, .publisher, .subscriber, over: transport)
        defer { publisher.close(); subscriber.close() }
        try subscriber.set(.subscribe(bytes("job.")))
        try subscriber.set(.receiveTimeout(milliseconds: 50))
        // A subscription takes a moment to reach the publisher (the "slow joiner"): publish until
        // the first matching event arrives, within a bound.
        var first: Message?
        for attempt in 0..<100 where first == nil {
            try publisher.send(Message(bytes("pool.up"), bytes("\(attempt)")))
            try publisher.send(Message(bytes("job.started"), bytes("\(attempt)")))
            first = try subscriber.receive()
        }
        let received = try #require(first)
        #expect(received.frames[0] == bytes("job.started"))
        try publisher.send(Message(bytes("pool.down"), bytes("x")))
        try publisher.send(Message(bytes("job.finished"), bytes("y")))
        var topics: [[UInt8]] = []
        while let message = try subscriber.receive() { topics.append(message.frames[0]) }
        #expect(topics.contains(bytes("job.finished")))
        #expect(!topics.contains(where: { $0.starts(with: bytes("pool.")) }))
    }

    @Test func nonBlockingReceiveReturnsNilWhenEmpty() throws {
        let context = try Context()
        defer { context.terminate() }
        let (pull, push) = try pair(context, .pull, .push, over: .inproc)
        defer { pull.close(); push.close() }
        #expect(try pull.receive(wait: false) == nil)
        try push.send(Message(bytes("x")))
        let deadline = Date().addingTimeInterval(2)
        var got: Message?
        while got == nil, Date() < deadline { got = try pull.receive(wait: false) }
        #expect(got?.frames == [bytes("x")])
    }

    @Test func receiveTimeoutReturnsNil() throws {
        let context = try Context()
        defer { context.terminate() }
        let socket = try Socket(context, type: .pull)
        defer { socket.close() }
        try socket.set(.linger(milliseconds: 0))
        try socket.set(.receiveTimeout(milliseconds: 20))
        try socket.bind(Transport.inproc.endpoint())
        #expect(try socket.receive() == nil)
    }

    @Test func largeAndEmptyFramesSurvive() throws {
        let context = try Context()
        defer { context.terminate() }
        let (router, dealer) = try pair(context, .router, .dealer, over: .tcp)
        defer { router.close(); dealer.close() }
        let large = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try dealer.send(Message([], large, []))
        let received = try #require(try router.receive())
        #expect(received.frames.count == 4)
        #expect(received.frames[1] == [])
        #expect(received.frames[2] == large)
        #expect(received.frames[3] == [])
    }

    @Test func unbindAndDisconnect() throws {
        let context = try Context()
        defer { context.terminate() }
        let (pull, push) = try pair(context, .pull, .push, over: .tcp)
        defer { pull.close(); push.close() }
        let endpoint = try pull.lastEndpoint()
        try push.send(Message(bytes("before")))
        #expect(try pull.receive()?.frames == [bytes("before")])
        try push.disconnect(endpoint)
        try pull.unbind(endpoint)
        #expect(throws: ZeroMQError.self) { try pull.unbind(endpoint) }
    }
}

@Suite("Errors and options")
struct ErrorTests {
    @Test func badEndpointNamesTheOperation() throws {
        let context = try Context()
        defer { context.terminate() }
        let socket = try Socket(context, type: .router)
        defer { socket.close() }
        try socket.set(.linger(milliseconds: 0))
        let error = try #require(throws: ZeroMQError.self) { try socket.bind("nonsense://here") }
        #expect(error.operation == "bind nonsense://here")
        #expect(error.code == EPROTONOSUPPORT)
        #expect(error.description.contains("bind nonsense://here"))
    }

    @Test func addressInUseIsReported() throws {
        let context = try Context()
        defer { context.terminate() }
        let first = try Socket(context, type: .router)
        let second = try Socket(context, type: .router)
        defer { first.close(); second.close() }
        try first.set(.linger(milliseconds: 0))
        try second.set(.linger(milliseconds: 0))
        try first.bind("tcp://127.0.0.1:*")
        let error = try #require(throws: ZeroMQError.self) { try second.bind(try first.lastEndpoint()) }
        #expect(error.code == EADDRINUSE)
    }

    @Test func routerMandatoryReportsUnknownPeer() throws {
        let context = try Context()
        defer { context.terminate() }
        let router = try Socket(context, type: .router)
        defer { router.close() }
        try router.set(.linger(milliseconds: 0))
        try router.set(.routerMandatory(true))
        try router.bind(Transport.inproc.endpoint())
        let error = try #require(throws: ZeroMQError.self) {
            try router.send(Message(bytes("nobody"), bytes("hello")))
        }
        #expect(error.isHostUnreachable)
    }

    @Test func everyOptionIsAccepted() throws {
        let context = try Context()
        defer { context.terminate() }
        let keys = try CurveKeyPair.generate()
        let options: [(SocketType, SocketOption)] = [
            (.router, .linger(milliseconds: 0)),
            (.router, .sendHighWaterMark(10)),
            (.router, .receiveHighWaterMark(10)),
            (.router, .maxMessageSize(bytes: 1 << 20)),
            (.dealer, .routingID(bytes("me"))),
            (.router, .routerMandatory(true)),
            (.router, .heartbeat(intervalMilliseconds: 1_000, timeToLiveMilliseconds: 3_000, timeoutMilliseconds: 3_000)),
            (.dealer, .tcpKeepalive(true)),
            (.dealer, .tcpKeepaliveIdle(seconds: 30)),
            (.dealer, .tcpKeepaliveInterval(seconds: 5)),
            (.dealer, .tcpKeepaliveCount(3)),
            (.router, .curveServer(true)),
            (.router, .curveSecretKey(keys.secretKey)),
            (.dealer, .curvePublicKey(keys.publicKey)),
            (.dealer, .curveServerKey(keys.publicKey)),
            (.router, .zapDomain("junction")),
            (.subscriber, .subscribe(bytes("job."))),
            (.subscriber, .unsubscribe(bytes("job."))),
            (.dealer, .immediate(true)),
            (.dealer, .reconnectInterval(milliseconds: 100)),
            (.dealer, .reconnectIntervalMax(milliseconds: 5_000)),
            (.dealer, .sendTimeout(milliseconds: 10)),
            (.dealer, .receiveTimeout(milliseconds: 10)),
        ]
        for (type, option) in options {
            let socket = try Socket(context, type: type)
            defer { socket.close() }
            try socket.set(.linger(milliseconds: 0))
            try socket.set(option)
        }
        let socket = try Socket(context, type: .dealer)
        defer { socket.close() }
        #expect(throws: ZeroMQError.self) { try socket.set(.curvePublicKey("too short")) }
    }

    @Test func terminatingTheContextEndsABlockedReceive() async throws {
        let context = try Context()
        let outcome = OutcomeBox()
        let bound = DispatchSemaphore(value: 0)
        let receiver = Thread {
            guard let socket = try? Socket(context, type: .pull) else { return }
            defer { socket.close() }
            try? socket.set(.linger(milliseconds: 0))
            try? socket.bind(Transport.inproc.endpoint())
            bound.signal()
            do {
                _ = try socket.receive()
                outcome.set("returned")
            } catch let error as ZeroMQError {
                outcome.set(error.isContextTerminated ? "ETERM" : "other \(error)")
            } catch {
                outcome.set("other \(error)")
            }
        }
        receiver.start()
        bound.wait()
        try await Task.sleep(for: .milliseconds(50))
        let started = Date()
        context.terminate()
        #expect(Date().timeIntervalSince(started) < 10, "a blocked receive would hold termination for good")
        #expect(outcome.value == "ETERM")
    }
}

/// A value set by one thread and read by another.
final class OutcomeBox: Sendable {
    private let stored = Mutex<String?>(nil)
    func set(_ value: String) { stored.withLock { $0 = value } }
    var value: String? { stored.withLock { $0 } }
}
