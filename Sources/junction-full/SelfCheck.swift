import ArgumentParser
import ClientCommands
import Foundation
import Wire
import ZeroMQ

/// `junction selfcheck`: proves this machine can run Junction's messaging.
struct SelfCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selfcheck",
        abstract: "Start a ROUTER and a DEALER on loopback, exchange protocol messages, and print them."
    )

    @Option(help: "Endpoint the ROUTER binds (a wildcard port picks a free one).")
    var endpoint = "tcp://127.0.0.1:*"

    @Option(parsing: .unconditional, help: "Seconds to wait for each reply before giving up.")
    var timeout: Double = 5

    func validate() throws {
        try checkTimeout(timeout)
    }

    func run() async throws {
        print("libzmq \(ZeroMQLibrary.version), CURVE \(ZeroMQLibrary.has("curve") ? "available" : "missing"), protocol v\(WireProtocol.version)")
        let context = try Context()
        defer { context.terminate() }
        let router = try SocketLoop(context: context, sockets: [SocketSpec(.router, bind: [endpoint])], name: "selfcheck-router")
        defer { router.shutdown() }
        let bound = router.boundEndpoints[0][0]
        print("ROUTER bound to \(bound)")
        let dealer = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, connect: [bound])], name: "selfcheck-dealer")
        defer { dealer.shutdown() }
        print("DEALER connected")

        var advertisement = Junction_V1_Advertisement()
        advertisement.poolID = "selfcheck"
        advertisement.sequence = 1
        advertisement.timestampMs = Int64(Date().timeIntervalSince1970 * 1000)
        advertisement.free.cpuCores = Double(ProcessInfo.processInfo.activeProcessorCount)
        advertisement.free.memoryBytes = ProcessInfo.processInfo.physicalMemory
        advertisement.total = advertisement.free
        let request = WireMessage(.advertisement(advertisement), correlationID: 7)
        dealer.send(Message([try request.serialized()]))

        let arrived = try await firstMessage(from: router.incoming, timeout: timeout, waitingFor: "the advertisement")
        guard arrived.frames.count == 2 else {
            throw CommandFailure("ROUTER got \(arrived.frames.count) frames, expected [identity][payload]")
        }
        let decoded = try WireMessage(bytes: arrived.frames[1])
        print("ROUTER received \(decoded.kind) (correlation \(decoded.correlationID), \(arrived.frames[1].count) bytes) from peer \(hex(arrived.frames[0])):")
        print(indent(decoded.text))

        var welcome = Junction_V1_Welcome()
        welcome.poolID = advertisement.poolID
        welcome.heartbeatIntervalMs = 1000
        welcome.livenessMs = 5000
        router.send(Message([arrived.frames[0], try WireMessage(.welcome(welcome), correlationID: decoded.correlationID).serialized()]))

        let reply = try await firstMessage(from: dealer.incoming, timeout: timeout, waitingFor: "the reply")
        let answer = try WireMessage(bytes: reply.frames[0])
        print("DEALER received \(answer.kind) (correlation \(answer.correlationID)):")
        print(indent(answer.text))
        print("self-check passed")
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    private func indent(_ text: String) -> String {
        text.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
    }
}

/// Waits for the first message of a socket loop, or fails after `timeout` seconds.
func firstMessage(from incoming: IncomingBatches, timeout: Double, waitingFor what: String) async throws -> Message {
    try await withThrowingTaskGroup(of: Message?.self) { group in
        group.addTask { await incoming.next()?.first?.message }
        group.addTask {
            try await Task.sleep(for: .seconds(timeout))
            return nil
        }
        defer { group.cancelAll() }
        guard let message = try await group.next() ?? nil else {
            throw CommandFailure("no answer within \(timeout) s while waiting for \(what)")
        }
        return message
    }
}
