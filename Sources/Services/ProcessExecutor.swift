import CSpawn
import Foundation
import Synchronization
import Wire

/// Runs jobs as local processes: the command with its arguments and environment, in a working
/// directory of its own, stdout and stderr to files there. A thread per job waits for the exit
/// and reads the process's CPU time from the kernel.
public final class ProcessExecutor: Sendable {
    /// How a job ended.
    public struct Exit: Sendable {
        public var jobID: String
        /// The exit code, or minus the signal number that killed it.
        public var exitCode: Int32
        public var usage: Junction_V1_Usage
    }

    private let directory: URL
    private let running = Mutex<[String: pid_t]>([:])
    private let onExit: @Sendable (Exit) -> Void

    /// Jobs run under `directory`/`job-id`/; `onExit` is called from the waiting thread.
    public init(directory: URL, onExit: @escaping @Sendable (Exit) -> Void) throws {
        self.directory = directory
        self.onExit = onExit
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// The folder a job runs in.
    public func workingDirectory(of jobID: String) -> URL {
        directory.appendingPathComponent(jobID.replacingOccurrences(of: "/", with: "_"))
    }

    /// Starts a job; throws when it cannot be started (no such command, no working directory).
    public func start(jobID: String, spec: Junction_V1_JobSpec) throws {
        let folder = workingDirectory(of: jobID)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, folder.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, folder.appendingPathComponent("stderr").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        junction_spawn_file_actions_addchdir(&actions, folder.path)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own, so a cancel reaches the job's children too; and default signal
        // handling, since the agent itself ignores SIGTERM (its service group handles it) and an
        // ignored signal stays ignored across exec.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var everything = sigset_t()
        sigfillset(&everything)
        posix_spawnattr_setsigdefault(&attributes, &everything)
        var nothing = sigset_t()
        sigemptyset(&nothing)
        posix_spawnattr_setsigmask(&attributes, &nothing)

        var environment = ProcessInfo.processInfo.environment
        for (key, value) in spec.environment { environment[key] = value }
        environment["JUNCTION_JOB_ID"] = jobID
        if spec.hasGpuShare {
            // Which shared GPU and how much of it, for the job or its wrapper to pick the device.
            environment["JUNCTION_GPU_MODEL"] = spec.gpuShare.model
            environment["JUNCTION_GPU_SHARED_INDEX"] = "\(spec.gpuShare.gpu)"
            environment["JUNCTION_GPU_SHARE"] = "\(spec.gpuShare.share)"
        }
        let argv = [spec.command] + spec.arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(envp) { envPointers in
                posix_spawnp(&pid, spec.command, &actions, &attributes, argvPointers, envPointers)
            }
        }
        guard status == 0 else {
            throw ExecutorError(message: "cannot start \(spec.command): \(String(cString: strerror(status)))")
        }
        let child = pid
        running.withLock { $0[jobID] = child }
        let started = Date()
        let gpus = spec.resources.gpus.values.reduce(0) { $0 + Double($1) }
        let thread = Thread { [self] in
            var status: Int32 = 0
            var usage = rusage()
            while wait4(child, &status, 0, &usage) < 0 && errno == EINTR {}
            running.withLock { _ = $0.removeValue(forKey: jobID) }
            let wall = Date().timeIntervalSince(started)
            var report = Junction_V1_Usage()
            report.wallSeconds = wall
            report.coreSeconds = seconds(usage.ru_utime) + seconds(usage.ru_stime)
            report.gpuSeconds = wall * gpus
            let exited = status & 0x7F == 0
            let code = exited ? (status >> 8) & 0xFF : -(status & 0x7F)
            onExit(Exit(jobID: jobID, exitCode: code, usage: report))
        }
        thread.name = "job-\(jobID)"
        thread.start()
    }

    /// SIGTERM to the job's process group now, SIGKILL after `graceS` if it is still there.
    public func stop(jobID: String, graceS: Double) {
        guard let pid = running.withLock({ $0[jobID] }) else { return }
        kill(-pid, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + graceS) { [self] in
            if running.withLock({ $0[jobID] }) == pid { kill(-pid, SIGKILL) }
        }
    }

    /// Kills every job still running (used on shutdown when asked to).
    public func stopAll(graceS: Double) {
        for jobID in running.withLock({ Array($0.keys) }) { stop(jobID: jobID, graceS: graceS) }
    }

    public var runningJobs: [String] { running.withLock { $0.keys.sorted() } }
}

/// A job that could not be started.
public struct ExecutorError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

private func seconds(_ time: timeval) -> Double {
    Double(time.tv_sec) + Double(time.tv_usec) / 1e6
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
