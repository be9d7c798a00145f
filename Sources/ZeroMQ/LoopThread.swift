internal import CZeroMQ
import Glibc

/// Starts a detached system thread that runs `body` with a stack of `stackSize` bytes, named
/// `name` where `top -H`, `ps -L` and /proc show it (cut to 15 bytes). Plain pthreads keep this
/// module free of Foundation, whose loading would slow every short-lived client.
func startThread(name: String, stackSize: Int, _ body: @escaping @Sendable () -> Void) throws(ZeroMQError) {
    final class Work {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, stackSize)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let work = Unmanaged.passRetained(Work(name: name, body: body))
    var thread = pthread_t()
    let result = pthread_create(&thread, &attributes, { raw in
        let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
        junction_name_thread(work.name)
        work.body()
        return nil
    }, work.toOpaque())
    guard result == 0 else {
        work.release()
        throw ZeroMQError(operation: "start the \(name) thread", code: result)
    }
}
