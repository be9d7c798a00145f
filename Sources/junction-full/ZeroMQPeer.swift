import ArgumentParser
import ClientCommands
import Wire
import ZeroMQ

/// `junction zmq-peer`: a DEALER in its own process, for the cross-process tests.
struct ZeroMQPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zmq-peer",
        abstract: "Connect a DEALER, send heartbeats, and expect one welcome per heartbeat.",
        shouldDisplay: false
    )

    @Option(help: "ROUTER endpoint to connect to.")
    var connect: String

    @Option(help: "Heartbeats to send.")
    var messages = 10

    @Option(help: "Seconds to wait for each reply.")
    var timeout: Double = 5

    func validate() throws {
        try checkTimeout(timeout)
    }

    func run() async throws {
        let context = try Context()
        defer { context.terminate() }
        let dealer = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, connect: [connect])], name: "zmq-peer")
        defer { dealer.shutdown() }
        for index in 1...messages {
            var heartbeat = Junction_V1_Heartbeat()
            heartbeat.timestampMs = Int64(index)
            dealer.send(Message([try WireMessage(.heartbeat(heartbeat), correlationID: UInt64(index)).serialized()]))
            let reply = try WireMessage(bytes: try await firstMessage(from: dealer.incoming, timeout: timeout, waitingFor: "welcome \(index)").frames[0])
            guard case .welcome = reply.body, reply.correlationID == UInt64(index) else {
                throw CommandFailure("expected welcome \(index), got \(reply.kind) \(reply.correlationID)")
            }
        }
        print("exchanged \(messages) messages")
    }
}
