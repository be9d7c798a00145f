import Foundation
import Testing
import ZeroMQ

/// Fails the test instead of hanging when an async step takes longer than `seconds`.
func within<T: Sendable>(
    _ seconds: Double,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() ?? nil else {
            throw TimeoutError(what: what, seconds: seconds)
        }
        return value
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let what: String
    let seconds: Double
    var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

/// Reads deliveries from a loop until `count` have arrived.
func collect(_ count: Int, from loop: SocketLoop, seconds: Double = 10) async throws -> [Delivery] {
    try await within(seconds, "\(count) messages") {
        var all: [Delivery] = []
        while all.count < count, let batch = await loop.incoming.next() { all += batch }
        return all
    }
}

@Suite("SocketLoop")
struct SocketLoopTests {
    @Test func routerAndDealerLoopsExchangeInOrder() async throws {
        let context = try Context()
        defer { context.terminate() }
        let server = try SocketLoop(context: context, sockets: [SocketSpec(.router, bind: ["tcp://127.0.0.1:*"])])
        defer { server.shutdown() }
        let endpoint = try #require(server.boundEndpoints.first?.first)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":*"))
        let client = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, connect: [endpoint])])
        defer { client.shutdown() }

        let count = 5_000
        client.send((0..<count).map { (socket: 0, message: Message(bytes("\($0)"))) })
        let requests = try await collect(count, from: server)
        #expect(requests.map { $0.message.frames[1] } == (0..<count).map { bytes("\($0)") })
        #expect(requests.allSatisfy { $0.socket == 0 && $0.message.frames.count == 2 })

        let identity = requests[0].message.frames[0]
        for index in 0..<100 { server.send(Message(identity, bytes("reply \(index)"))) }
        let replies = try await collect(100, from: client)
        #expect(replies.map { $0.message.frames } == (0..<100).map { [bytes("reply \($0)")] })
        #expect(server.statistics.received == count)
        #expect(server.statistics.sent == 100)
    }

    @Test func oneLoopOwnsSeveralSockets() async throws {
        let context = try Context()
        defer { context.terminate() }
        let pullEndpoint = "inproc://several-pull"
        let publishEndpoint = "inproc://several-pub"
        let server = try SocketLoop(context: context, sockets: [
            SocketSpec(.pull, bind: [pullEndpoint]),
            SocketSpec(.publisher, bind: [publishEndpoint]),
        ])
        defer { server.shutdown() }
        let client = try SocketLoop(context: context, sockets: [
            SocketSpec(.push, connect: [pullEndpoint]),
            SocketSpec(.subscriber, options: [.subscribe([])], connect: [publishEndpoint]),
        ])
        defer { client.shutdown() }
        client.send(Message(bytes("into pull")), on: 0)
        let pulled = try await collect(1, from: server)
        #expect(pulled.map(\.socket) == [0])
        #expect(pulled.map(\.message) == [Message(bytes("into pull"))])

        // Publish until the subscription has reached the publisher, within a bound.
        let event = try await within(30, "a published event") {
            while true {
                server.send(Message(bytes("event")), on: 1)
                // A miss is expected until the subscription arrives: try again, never fail here.
                let waited = try? await within(0.2, "one event") { await client.incoming.next() }
                if let first = waited?.first { return first }
            }
        }
        #expect(event.socket == 1)
        #expect(event.message == Message(bytes("event")))
    }

    @Test func setupFailureThrowsAndLeavesNothingOpen() throws {
        let context = try Context()
        let taken = try SocketLoop(context: context, sockets: [SocketSpec(.router, bind: ["tcp://127.0.0.1:*"])])
        let endpoint = taken.boundEndpoints[0][0]
        let error = try #require(throws: ZeroMQError.self) {
            _ = try SocketLoop(context: context, sockets: [
                SocketSpec(.dealer, connect: [endpoint]),
                SocketSpec(.router, bind: [endpoint]),
            ])
        }
        #expect(error.code == EADDRINUSE)
        #expect(error.operation == "bind \(endpoint)")
        taken.shutdown()
        // Termination returns only when every socket is closed, so this proves none leaked.
        let started = Date()
        context.terminate()
        // A leaked socket would block termination for good; the bound only has to catch that.
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func shutdownOfABlockedLoopIsPromptAndEndsIncoming() async throws {
        let context = try Context()
        let loop = try SocketLoop(context: context, sockets: [SocketSpec(.router, bind: ["tcp://127.0.0.1:*"])])
        let reader = Task { await loop.incoming.next() }
        try await Task.sleep(for: .milliseconds(100))
        let started = Date()
        loop.shutdown()
        context.terminate()
        #expect(Date().timeIntervalSince(started) < 10, "a blocked loop would never return")
        let ended = try await within(10, "the reader to see the end") { await reader.value }
        #expect(ended == nil)
        loop.shutdown()
    }

    @Test func shutdownFlushesQueuedMessages() async throws {
        let context = try Context()
        defer { context.terminate() }
        let receiver = try SocketLoop(context: context, sockets: [SocketSpec(.pull, bind: ["tcp://127.0.0.1:*"])])
        defer { receiver.shutdown() }
        let sender = try SocketLoop(context: context, sockets: [SocketSpec(.push, connect: [receiver.boundEndpoints[0][0]])])
        sender.send((0..<1_000).map { (socket: 0, message: Message(bytes("\($0)"))) })
        sender.shutdown()
        let received = try await collect(1_000, from: receiver)
        #expect(received.count == 1_000)
    }

    @Test func cancellingAWaitLeavesTheSequenceOpen() async throws {
        let context = try Context()
        defer { context.terminate() }
        let receiver = try SocketLoop(context: context, sockets: [SocketSpec(.pull, bind: ["inproc://cancel-wait"])])
        defer { receiver.shutdown() }
        let sender = try SocketLoop(context: context, sockets: [SocketSpec(.push, connect: ["inproc://cancel-wait"])])
        defer { sender.shutdown() }
        let waiting = Task { await receiver.incoming.next() }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        #expect(await waiting.value == nil)
        sender.send(Message(bytes("after the cancelled wait")))
        let received = try await collect(1, from: receiver)
        #expect(received.first?.message == Message(bytes("after the cancelled wait")))
    }

    @Test func aFloodPausesReadingUntilTheReaderCatchesUp() async throws {
        let context = try Context()
        defer { context.terminate() }
        let receiver = try SocketLoop(context: context, sockets: [SocketSpec(.pull, options: [.receiveHighWaterMark(0)], bind: ["inproc://flood"])])
        defer { receiver.shutdown() }
        let sender = try SocketLoop(context: context, sockets: [SocketSpec(.push, options: [.sendHighWaterMark(0)], connect: ["inproc://flood"])])
        defer { sender.shutdown() }
        let count = 80_000
        sender.send((0..<count).map { (socket: 0, message: Message(bytes("\($0)"))) })
        // Nobody reads: the loop must stop taking messages off the socket well short of all.
        try await Task.sleep(for: .milliseconds(500))
        let readWhileIgnored = receiver.statistics.received
        #expect(readWhileIgnored < count)
        #expect(readWhileIgnored > 0)
        let all = try await collect(count, from: receiver, seconds: 30)
        #expect(all.count == count)
        #expect(all.last?.message == Message(bytes("\(count - 1)")))
    }

    @Test func aHandlerAnswersOnTheLoopThread() async throws {
        let context = try Context()
        defer { context.terminate() }
        let server = try SocketLoop(context: context, sockets: [SocketSpec(.router, bind: ["tcp://127.0.0.1:*"])], handler: { batch in
            batch.map { delivery in
                (socket: delivery.socket, message: Message(delivery.message.frames[0], bytes("echo ") + delivery.message.frames[1]))
            }
        })
        defer { server.shutdown() }
        let client = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, connect: [server.boundEndpoints[0][0]])])
        defer { client.shutdown() }
        client.send((0..<50).map { (socket: 0, message: Message(bytes("\($0)"))) })
        let replies = try await collect(50, from: client)
        #expect(replies.map { $0.message.frames[0] } == (0..<50).map { bytes("echo \($0)") })
        #expect(server.statistics.received == 50)
        #expect(server.statistics.sent == 50)
    }

    @Test func sendsToVanishedPeersAreCounted() async throws {
        let context = try Context()
        defer { context.terminate() }
        let loop = try SocketLoop(context: context, sockets: [SocketSpec(.router, options: [.routerMandatory(true)], bind: ["inproc://vanished"])])
        defer { loop.shutdown() }
        loop.send(Message(bytes("gone"), bytes("hello")))
        try await within(2, "the failure to be counted") {
            while loop.statistics.sendFailures == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(loop.statistics.sent == 0)
    }
}
