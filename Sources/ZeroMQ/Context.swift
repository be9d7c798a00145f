internal import CZeroMQ
import Synchronization

/// A libzmq context. Terminate it explicitly on the shutdown path, after its sockets are closed.
public final class Context: @unchecked Sendable {
    // @unchecked: libzmq contexts are thread-safe; the handle is only read after init, and
    // termination is guarded by the mutex.
    let handle: UnsafeMutableRawPointer
    private let terminated = Mutex(false)

    /// Creates a context with the given number of I/O threads.
    public init(ioThreads: Int32 = 1) throws(ZeroMQError) {
        guard let handle = zmq_ctx_new() else {
            throw ZeroMQError(operation: "zmq_ctx_new", code: zmq_errno())
        }
        self.handle = handle
        try zmqCheck("set ZMQ_IO_THREADS", { zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads) })
        // Blocky mode would make a forgotten socket hang termination forever; sockets set their
        // own linger on purpose instead.
        try zmqCheck("set ZMQ_BLOCKY", { zmq_ctx_set(handle, ZMQ_BLOCKY, 0) })
    }

    /// Terminates the context. Blocks until every socket is closed and its linger has run out;
    /// calling it again does nothing.
    public func terminate() {
        let first = terminated.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    deinit { terminate() }
}

/// Facts about the libzmq this process is linked against.
public enum ZeroMQLibrary {
    /// The libzmq version as "major.minor.patch".
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Whether libzmq was built with a capability such as "curve" or "ipc".
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
