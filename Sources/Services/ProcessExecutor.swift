import CSpawn
import PoolAgentCore
import Foundation
import Synchronization
import Wire

/// Runs jobs as local processes: the command with its arguments and environment, in a working
/// directory of its own, stdout and stderr to files there. A thread per job waits for the exit
/// and reads the process's CPU time from the kernel.
final class ProcessExecutor: JobExecutor {
    private let directory: URL
    private let running = Mutex<[String: pid_t]>([:])
    private let onExit: @Sendable (JobExit) -> Void
    private let spawner = SpawnThread()
    /// Jobs a previous agent on this directory left running, stopped when this one started.
    let leftovers: [String]

    /// Jobs run under `directory`/`job-id`/; `onExit` is called from the waiting thread. Jobs an
    /// earlier agent left running under `directory` are killed first.
    init(directory: URL, onExit: @escaping @Sendable (JobExit) -> Void) throws {
        self.directory = directory
        self.onExit = onExit
        try FileManager.default.createDirectory(at: directory.appendingPathComponent(".running"), withIntermediateDirectories: true)
        leftovers = Self.stopLeftovers(in: directory.appendingPathComponent(".running"))
    }

    private func recordFile(_ jobID: String) -> URL {
        directory.appendingPathComponent(".running").appendingPathComponent(jobID.replacingOccurrences(of: "/", with: "_"))
    }

    /// Kills the process groups recorded under `folder` that still exist, and forgets them.
    static func stopLeftovers(in folder: URL) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let running = files.isEmpty ? [] : processes()
        var stopped: [String] = []
        for name in files.sorted() {
            let file = folder.appendingPathComponent(name)
            defer { try? FileManager.default.removeItem(at: file) }
            let fields = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard fields.count == 2, let group = pid_t(fields[0]), group > 1, let started = UInt64(fields[1]) else { continue }
            // Members of that group that started no earlier than its leader did are the job's.
            guard running.contains(where: { $0.group == group && $0.started >= started }) else { continue }
            kill(-group, SIGKILL)
            stopped.append(name)
        }
        return stopped
    }

    func workingDirectory(of jobID: String) -> URL {
        jobFolder(directory, jobID)
    }

    /// Starts a job; throws when it cannot be started (no such command, no working directory).
    ///
    /// The job runs in a process group of its own (a cancel reaches its children too) and gets
    /// SIGKILL if the agent dies, so a killed agent leaves no job running that the controller
    /// then places again. Its process group is written down until it ends, so an agent that
    /// starts again on this directory stops whatever its previous incarnation left behind.
    func start(jobID: String, spec: Junction_V1_JobSpec, gpus: GPUAssignment, poolHasGPUs: Bool, dispatch: DispatchNumbers) throws -> JobStart {
        let folder = workingDirectory(of: jobID)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw ExecutorError(message: "cannot make its folder \(folder.path): \(error.localizedDescription)", poolFault: true)
        }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in spec.environment { environment[key] = value }
        environment["JUNCTION_JOB_ID"] = jobID
        if poolHasGPUs || !gpus.visible.isEmpty {
            // The devices the job was given, and no others: CUDA and the NVIDIA container
            // runtime see only these (an empty list hides every GPU from a job that asked none).
            let devices = gpus.visible.map(String.init).joined(separator: ",")
            environment["CUDA_VISIBLE_DEVICES"] = devices
            environment["NVIDIA_VISIBLE_DEVICES"] = devices.isEmpty ? "void" : devices
            environment["JUNCTION_GPU_INDICES"] = devices
            if !gpus.models.isEmpty { environment["JUNCTION_GPU_MODEL"] = gpus.models.joined(separator: ",") }
        }
        if spec.hasGpuShare {
            // Which shared GPU and how much of it, for the job or its wrapper (MPS, MIG) to divide it.
            environment["JUNCTION_GPU_MODEL"] = spec.gpuShare.model
            environment["JUNCTION_GPU_SHARED_INDEX"] = "\(spec.gpuShare.gpu)"
            environment["JUNCTION_GPU_SHARE"] = "\(spec.gpuShare.share)"
        }
        guard let program = resolve(spec.command, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") else {
            throw ExecutorError(message: "cannot start \(spec.command): no such executable")
        }
        let argv = [spec.command] + spec.arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        let stdoutPath = folder.appendingPathComponent("stdout").path
        let stderrPath = folder.appendingPathComponent("stderr").path
        let directoryPath = folder.path
        let recordPath = recordFile(jobID).path
        // The parent-death signal follows the thread that forks: fork from one that lives as
        // long as the agent.
        let (status, pid) = spawner.run {
            var pid: pid_t = 0
            let status = withCStrings(argv) { argvPointers in
                withCStrings(envp) { envPointers in
                    junction_spawn_job(program, argvPointers, envPointers, directoryPath, stdoutPath, stderrPath, recordPath, &pid)
                }
            }
            return (status, pid)
        }
        guard status == 0 else {
            throw ExecutorError(message: "cannot start \(spec.command): \(String(cString: strerror(status)))", poolFault: isPoolFault(status))
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
            // The leader is gone; any of its children still in the group go with it.
            kill(-child, SIGKILL)
            try? FileManager.default.removeItem(at: recordFile(jobID))
            let wall = Date().timeIntervalSince(started)
            var report = Junction_V1_Usage()
            report.wallSeconds = wall
            report.coreSeconds = seconds(usage.ru_utime) + seconds(usage.ru_stime)
            report.gpuSeconds = wall * gpus
            let exited = status & 0x7F == 0
            let code = exited ? (status >> 8) & 0xFF : -(status & 0x7F)
            onExit(JobExit(jobID: jobID, exitCode: code, usage: report))
        }
        thread.name = "job-\(jobID)"
        thread.start()
        return .running
    }

    /// SIGTERM to the job's process group now, SIGKILL after `graceS` if it is still there.
    func stop(jobID: String, graceS: Double) {
        guard let pid = running.withLock({ $0[jobID] }) else { return }
        kill(-pid, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + graceS) { [self] in
            if running.withLock({ $0[jobID] }) == pid { kill(-pid, SIGKILL) }
        }
    }

    /// Stops every job still running: none may run on without an agent that reports it.
    func shutdown(graceS: Double) -> Bool {
        for jobID in running.withLock({ Array($0.keys) }) { stop(jobID: jobID, graceS: graceS) }
        return true
    }
}

/// A job that could not be started.
public struct ExecutorError: Error, CustomStringConvertible {
    public var message: String
    /// Whether the pool, not the job, was the reason (a full disk, no processes left), so that
    /// another pool may start it.
    public var poolFault = false
    public var description: String { message }
}

/// Whether a failure to start a job with this errno is the pool's: the job itself would start
/// elsewhere.
func isPoolFault(_ code: Int32) -> Bool {
    [ENOSPC, EDQUOT, EROFS, EIO, EAGAIN, ENOMEM, EMFILE, ENFILE].contains(code)
}

/// A thread that lives as long as the executor and runs what it is given, one at a time.
final class SpawnThread: Sendable {
    private let work = Mutex<[@Sendable () -> Void]>([])
    private let ready = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [self] in
            while true {
                ready.wait()
                let next = work.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                next?()
            }
        }
        thread.name = "job-spawner"
        thread.start()
    }

    /// Runs `body` on the spawning thread and waits for its result.
    func run<Result: Sendable>(_ body: @escaping @Sendable () -> Result) -> Result {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result?>(nil)
        work.withLock { $0.append { result.withLock { $0 = body() }; done.signal() } }
        ready.signal()
        done.wait()
        return result.withLock { $0! }
    }
}

/// Every process's group and start time, from /proc.
func processes() -> [(group: pid_t, started: UInt64)] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name in
        guard pid_t(name) != nil else { return nil }
        return processStat("/proc/\(name)/stat")
    }
}

private func processStat(_ path: String) -> (group: pid_t, started: UInt64)? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
    // After the command name in parentheses: state is field 3, the process group field 5, the
    // start time field 22.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 19, let group = pid_t(fields[2]), let started = UInt64(fields[19]) else { return nil }
    return (group, started)
}

/// The executable `command` names: itself when it holds a slash, else the first match on `path`.
private func resolve(_ command: String, path: String) -> String? {
    if command.contains("/") { return access(command, X_OK) == 0 ? command : nil }
    for directory in path.split(separator: ":") where !directory.isEmpty {
        let candidate = "\(directory)/\(command)"
        var info = stat()
        if access(candidate, X_OK) == 0, stat(candidate, &info) == 0, info.st_mode & S_IFMT != S_IFDIR { return candidate }
    }
    return nil
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
