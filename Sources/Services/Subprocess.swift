import Foundation

/// What a finished command printed and how it ended.
struct CommandResult: Sendable {
    /// The exit code, or minus the signal that ended it.
    var status: Int32
    var stdout: Data
    var stderr: String

    /// stderr's last line, else stdout's, for an error message.
    var complaint: String {
        let text = stderr.isEmpty ? String(decoding: stdout, as: UTF8.self) : stderr
        return text.split(whereSeparator: \.isNewline).last.map { String($0.prefix(300)) } ?? "no output"
    }
}

/// Runs a command found on PATH, its output to scratch files (no pipe to fill up), killed when
/// it takes longer than `timeoutS`. Spawned and reaped here, without Foundation's Process,
/// whose exit watch can miss a short-lived child.
func runCommand(_ arguments: [String], timeoutS: Double) throws -> CommandResult {
    precondition(!arguments.isEmpty)
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("junction-command-\(UUID().uuidString)").path
    defer {
        unlink(scratch + ".out")
        unlink(scratch + ".err")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, scratch + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, scratch + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
    guard spawned == 0 else { throw SubprocessError(description: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(timeoutS)
    var timedOut = false
    while true {
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid || (reaped < 0 && errno != EINTR) { break }
        if !timedOut, Date() > deadline {
            timedOut = true
            kill(pid, SIGKILL)
        }
        usleep(timedOut ? 1_000 : 5_000)
    }
    if timedOut { throw SubprocessError(description: "\(arguments[0]) did not finish within \(Int(timeoutS)) s") }
    let stdout = FileManager.default.contents(atPath: scratch + ".out") ?? Data()
    let stderr = (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? ""
    let signal = status & 0x7F
    return CommandResult(status: signal == 0 ? (status >> 8) & 0xFF : -signal, stdout: stdout, stderr: stderr.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// A command could not be run or did not finish.
struct SubprocessError: Error, CustomStringConvertible {
    var description: String
}
