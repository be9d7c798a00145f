internal import CZeroMQ
import Glibc

/// An eventfd that wakes a thread blocked in `zmq_poll`.
final class Wakeup: Sendable {
    let fileDescriptor: Int32

    init() throws(ZeroMQError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw ZeroMQError(operation: "eventfd", code: errno) }
        fileDescriptor = fd
    }

    func signal() {
        var one: UInt64 = 1
        _ = write(fileDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    func drain() {
        var count: UInt64 = 0
        _ = read(fileDescriptor, &count, MemoryLayout<UInt64>.size)
    }

    deinit { close(fileDescriptor) }
}
