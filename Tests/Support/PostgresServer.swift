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

    @discardableResult
    private static func run(_ arguments: [String]) throws -> String {
        do {
            return try runScript(script, arguments)
        } catch {
            throw PostgresServerError(description: "\(error)")
        }
    }
}

/// The test database could not be started or stopped.
public struct PostgresServerError: Error, CustomStringConvertible {
    public let description: String
}
