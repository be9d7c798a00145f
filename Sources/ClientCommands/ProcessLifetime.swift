import Glibc
import JunctionClient
import Synchronization

/// How a command process lets go of its connections and ends. By default a command closes each
/// connection when it is done with it, as a library user would. The quick `junction` executable
/// exits as soon as its one command returns, so it leaves the connections to the exit: the kernel
/// closes the sockets then, and the orderly ZeroMQ teardown (stopping the socket loop, joining
/// the context's threads) would cost about a fifth of a whole submit.
public enum ProcessLifetime {
    private static let connectionsEndWithProcess = Atomic<Bool>(false)
    /// The connection left open, held so that no deinit closes it before the exit.
    private static let leftOpen = Mutex<JunctionClient?>(nil)

    /// From now on, connections stay open until the process ends, and it ends without running
    /// exit handlers beside their threads.
    public static func leaveConnectionsToExit() {
        connectionsEndWithProcess.store(true, ordering: .relaxed)
    }

    /// Closes `client`, or keeps it open until the process exits. Only the first is kept: a
    /// command that connects again and again (pages, a watch taking a new snapshot) closes the
    /// rest, so their threads do not pile up.
    static func release(_ client: JunctionClient) {
        let kept = connectionsEndWithProcess.load(ordering: .relaxed) && leftOpen.withLock { open in
            guard open == nil else { return false }
            open = client
            return true
        }
        if !kept { client.close() }
    }

    /// Ends the process with `status` once standard output is written out.
    public static func end(_ status: Int32) -> Never {
        fflush(nil)
        // With ZeroMQ's threads still running, C++ static destructors and atexit handlers are
        // skipped: the kernel's cleanup is all the open sockets need.
        if connectionsEndWithProcess.load(ordering: .relaxed) { _exit(status) }
        exit(status)
    }
}
