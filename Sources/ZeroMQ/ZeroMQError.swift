internal import CZeroMQ
import Glibc

/// A failed libzmq call: the operation that failed and the errno it reported.
public struct ZeroMQError: Error, Hashable, CustomStringConvertible {
    /// What was being done, such as `bind tcp://127.0.0.1:5555`.
    public let operation: String
    /// The errno value libzmq reported.
    public let code: Int32

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// libzmq's text for the errno.
    public var message: String { String(cString: zmq_strerror(code)) }

    /// True when the context was terminated: a socket loop treats this as the end, not a failure.
    public var isContextTerminated: Bool { code == ETERM }

    /// True when a ROUTER socket with `routerMandatory` was asked to send to an unknown peer.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }

    public var description: String { "\(operation): \(message) (errno \(code))" }
}

/// Runs one libzmq call the way every call in this module is run: EINTR is retried, EAGAIN
/// becomes `nil` (the caller decides what "would block" means), anything else is thrown with the
/// operation named. ETERM is thrown too, so a loop can end on `isContextTerminated`.
@inline(__always)
func zmqCall(
    _ operation: @autoclosure () -> String,
    _ body: () -> Int32
) throws(ZeroMQError) -> Int32? {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = zmq_errno()
        if code == EINTR { continue }
        if code == EAGAIN { return nil }
        throw ZeroMQError(operation: operation(), code: code)
    }
}

/// Like `zmqCall`, for calls where "would block" cannot happen or is itself an error.
@inline(__always)
func zmqCheck(
    _ operation: @autoclosure () -> String,
    _ body: () -> Int32
) throws(ZeroMQError) {
    if try zmqCall(operation(), body) == nil {
        throw ZeroMQError(operation: operation(), code: EAGAIN)
    }
}
