internal import CZeroMQ

/// Which readiness a poller waits for, or found.
public struct PollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// Waits on several sockets and file descriptors at once, owned by one thread.
public struct Poller {
    private var items: [zmq_pollitem_t] = []
    private var sockets: [Socket?] = []

    public init() {}

    /// Adds a socket and returns its index.
    @discardableResult
    public mutating func add(_ socket: Socket, events: PollEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: -1, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Adds a plain file descriptor (such as an eventfd) and returns its index.
    @discardableResult
    public mutating func add(fileDescriptor: Int32, events: PollEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Changes what the item at `index` waits for; an empty set ignores it.
    public mutating func setEvents(_ events: PollEvents, at index: Int) {
        items[index].events = events.rawValue
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and returns how many items are ready.
    public mutating func poll(timeoutMilliseconds: Int) throws(ZeroMQError) -> Int {
        let count = Int32(items.count)
        let ready = try items.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ZeroMQError) in
                try zmqCall("zmq_poll", { zmq_poll(buffer.baseAddress, count, timeoutMilliseconds) })
            }
        }.get()
        return Int(ready ?? 0)
    }

    /// What the last `poll` found for the item at `index`.
    public func ready(at index: Int) -> PollEvents {
        PollEvents(rawValue: items[index].revents)
    }
}
