import Foundation

/// A throwaway PostgreSQL server for one test (Tests/Postgres/postgres.sh, which `.ci/run` also
/// provides for): on loopback, in a directory of its own, stopped and removed by `stop`. When the
/// server programs are missing, `start` throws, naming what to install: a test that needs the
/// database fails, it never passes without one.
public final class PostgresServer: @unchecked Sendable {
    // @unchecked: `stopped` is only touched by the test that owns the server.
    /// The database's URL, `postgres://junction@127.0.0.1:PORT/junction`.
    public let url: String
    public let directory: String
    private var stopped = false

    private init(url: String, directory: String) {
        self.url = url
        self.directory = directory
    }

    /// The script beside this file's folder.
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Postgres/postgres.sh").path

    /// Initialises and starts a server; takes a few seconds.
    public static func start() throws -> PostgresServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("junction-pg-\(UUID().uuidString)").path
        let output = try run(["start", directory])
        guard let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
            throw PostgresServerError(description: "Tests/Postgres/postgres.sh printed no URL: \(output)")
        }
        return PostgresServer(url: url, directory: directory)
    }

    /// Stops the server at once (as a crash would) and starts it again on the same port.
    public func restart() throws {
        _ = try Self.run(["restart", directory])
    }

    /// Stops the server and removes its directory; safe to call more than once.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? Self.run(["stop", directory])
    }

    deinit { stop() }

    /// Runs the script and returns what it printed. Spawned and reaped here rather than with
    /// Foundation's Process, whose exit watch missed this short-lived child inside the test process.
    @discardableResult
    private static func run(_ arguments: [String]) throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("junction-pg-run-\(UUID().uuidString)").path
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
        let argv = (["/bin/bash", script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ)
        guard spawned == 0 else { throw PostgresServerError(description: "cannot run \(script): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let printed = (try? String(contentsOfFile: scratch + ".out", encoding: .utf8)) ?? ""
        let complaints = (try? String(contentsOfFile: scratch + ".err", encoding: .utf8)) ?? ""
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
        guard exitCode == 0 else {
            throw PostgresServerError(description: "Tests/Postgres/postgres.sh \(arguments.first ?? "") failed (\(exitCode)): \(complaints)")
        }
        return printed.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The test database could not be started or stopped.
public struct PostgresServerError: Error, CustomStringConvertible {
    public let description: String
}
