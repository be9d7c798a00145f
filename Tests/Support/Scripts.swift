import Foundation

/// Runs a test script with bash and returns what it printed (trimmed).
func runScript(_ script: String, _ arguments: [String]) throws -> String {
    try runProgram(["/bin/bash", script] + arguments)
}

/// Runs a program (a path) and returns what it printed (trimmed); throws with its stderr when
/// it fails. Spawned and reaped here rather than with Foundation's Process, whose exit watch
/// missed short-lived children inside the test process.
func runProgram(_ argumentList: [String]) throws -> String {
    let program = argumentList[0]
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("junction-script-\(UUID().uuidString)").path
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
    let argv = argumentList.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
    guard spawned == 0 else { throw ScriptError(description: "cannot run \(program): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    let printed = (try? String(contentsOfFile: scratch + ".out", encoding: .utf8)) ?? ""
    let complaints = (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? ""
    let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    guard exitCode == 0 else {
        let name = argumentList.dropFirst(program == "/bin/bash" ? 1 : 0).prefix(2).map { URL(fileURLWithPath: $0).pathComponents.suffix(3).joined(separator: "/") }
        throw ScriptError(description: "\(name.joined(separator: " ")) failed (\(exitCode)): \(complaints)")
    }
    return printed.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A test script failed or could not run.
struct ScriptError: Error, CustomStringConvertible {
    let description: String
}
