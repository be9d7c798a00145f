import Foundation

/// A throwaway single-node Slurm cluster for one test (Tests/Slurm/slurm.sh, which `.ci/run`
/// also checks): munge, slurmctld and slurmd in a directory of their own, stopped and removed by
/// `stop`. When Slurm is missing or cannot start, `start` throws saying why: a test that needs
/// Slurm fails, it never passes without one.
public final class SlurmCluster: @unchecked Sendable {
    // @unchecked: `stopped` is only touched by the test that owns the cluster.
    /// The cluster's slurm.conf: `SLURM_CONF` for the agent and Slurm's commands.
    public let configuration: String
    public let directory: String
    private var stopped = false

    private init(configuration: String, directory: String) {
        self.configuration = configuration
        self.directory = directory
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Slurm/slurm.sh").path

    /// The environment Slurm's commands need to reach this cluster.
    public var environment: [String: String] { ["SLURM_CONF": configuration] }

    /// Starts the daemons and waits for the node to take jobs; takes a few seconds.
    public static func start() throws -> SlurmCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("junction-slurm-\(UUID().uuidString.prefix(8))").path
        let configuration = try runScript(script, ["start", directory]).split(separator: "\n").last.map(String.init) ?? ""
        guard configuration.hasSuffix("slurm.conf") else {
            throw ScriptError(description: "Tests/Slurm/slurm.sh printed no slurm.conf path: \(configuration)")
        }
        return SlurmCluster(configuration: configuration, directory: directory)
    }

    /// Runs one of Slurm's commands against this cluster and returns what it printed.
    public func command(_ arguments: [String]) throws -> String {
        try runProgram(["/usr/bin/env", "SLURM_CONF=\(configuration)"] + arguments)
    }

    /// Stops the daemons and removes the directory; safe to call more than once.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? runScript(Self.script, ["stop", directory])
    }

    deinit { stop() }
}
