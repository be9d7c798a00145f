import Wire
import ZeroMQ

/// A subscription to controllers' events endpoints: a DEALER socket for each endpoint, which
/// tells the controller there the topics to follow, and tells it again every `refresh`. That
/// keeps the subscription alive (a controller forgets a subscriber silent for 10 s) and renews it
/// at a controller that restarted. Deliveries are [topic, Envelope(Event)], or ["",
/// Envelope(ErrorReply)] when a controller refused a subscription.
public final class EventSubscription: Sendable {
    private let loop: SocketLoop
    private let renewal: Task<Void, Never>
    /// Batches of what the controllers sent.
    public var incoming: IncomingBatches { loop.incoming }

    /// Subscribes to `prefixes` (an empty prefix follows everything) at every endpoint.
    public init(context: Context, endpoints: [String], prefixes: [String], options: [SocketOption] = [], name: String = "events", refresh: Duration = .seconds(2)) throws {
        loop = try SocketLoop(
            context: context,
            sockets: endpoints.map { SocketSpec(.dealer, options: options, connect: [$0], lingerMilliseconds: 0) },
            name: name
        )
        let subscriptions = endpoints.indices.flatMap { socket in
            prefixes.map { (socket: socket, message: Message([[1] + Array($0.utf8)])) }
        }
        loop.send(subscriptions)
        renewal = Task { [loop] in
            while (try? await Task.sleep(for: refresh)) != nil { loop.send(subscriptions) }
        }
    }

    /// Stops renewing and closes the sockets; the controllers forget the subscription once it
    /// falls silent.
    public func close() {
        renewal.cancel()
        loop.shutdown()
    }
}

/// Whether a delivery from an events endpoint is a controller refusing a subscription, and why.
public func subscriptionRefusal(_ delivery: Delivery) -> String? {
    let frames = delivery.message.frames
    guard frames.count == 2, frames[0].isEmpty, let message = try? WireMessage(bytes: frames[1]), case .error(let error) = message.body else { return nil }
    return error.message
}
