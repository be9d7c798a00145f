import ArgumentParser
import ClientCommands
import Foundation
import Topology
import Yams

/// A daemon's configuration file: YAML whose keys are the daemon's long option names, so that
/// `--heartbeat-ms 500` on the command line is `heartbeat-ms: 500` in the file. Flags take
/// `true` or `false`, repeatable options a list. An option given on the command line wins over
/// the file. Relative paths are read from the file's folder.
///
/// ```yaml
/// # /etc/junction/controller.yaml
/// topology: topology.yaml
/// pools: tcp://0.0.0.0:7411
/// access: access.yaml
/// reloadable: [standby.yaml]
/// log-level: info
/// ```
enum ConfigFile {
    /// The daemons that take a configuration file, by subcommand name.
    static let daemons: [(name: String, command: any ParsableCommand.Type)] = [("controller", ControllerCommand.self), ("pool", PoolCommand.self)]

    /// Options whose values are paths, resolved from the configuration file's folder.
    static let pathOptions: Set<String> = ["topology", "state", "access", "reloadable", "work-dir", "key"]

    /// How an option is written on the command line.
    struct Shape: Decodable {
        var kind: String
        var shouldDisplay: Bool
        var isRepeating: Bool
        var names: [Name]?

        struct Name: Decodable {
            var kind: String
            var name: String
        }

        var longName: String? { names?.first { $0.kind == "long" }?.name }
        var isFlag: Bool { kind == "flag" }
    }

    /// The options a file may set for `command`: the visible long options, `config` and help aside.
    static func shapes(of command: any ParsableCommand.Type) -> [String: Shape] {
        struct Dump: Decodable {
            struct Command: Decodable { var arguments: [Shape]? }
            var command: Command
        }
        // ArgumentParser's own description of the command (what --experimental-dump-help prints),
        // so the file knows exactly the options the command line does.
        guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(command._dumpHelp().utf8)) else { return [:] }
        var shapes: [String: Shape] = [:]
        for shape in dump.command.arguments ?? [] where shape.shouldDisplay && shape.kind != "positional" {
            guard let name = shape.longName, !["help", "version", "config"].contains(name) else { continue }
            shapes[name] = shape
        }
        return shapes
    }

    /// What a configuration file stands for: command-line arguments, and where in the file each
    /// option was set, to point at when a value is refused.
    struct Expansion {
        var arguments: [String] = []
        var places: [String: SourceLocation] = [:]

        /// `message` with the place of every option it names that the file set.
        func locating(_ message: String) -> String {
            let named = places.filter { message.contains("--\($0.key)") }.sorted { $0.key < $1.key }
            return named.isEmpty ? message : message + " (set at " + named.map { "\($0.value)" }.joined(separator: ", ") + ")"
        }
    }

    /// The command-line arguments the file at `path` stands for, leaving out the options that
    /// `given` (the command line) already sets. Every problem in the file is reported at once.
    static func arguments(file path: String, for command: any ParsableCommand.Type, given: [String] = []) throws(TopologyErrors) -> [String] {
        try expansion(file: path, for: command, given: given).arguments
    }

    static func expansion(file path: String, for command: any ParsableCommand.Type, given: [String] = []) throws(TopologyErrors) -> Expansion {
        var reader = YAMLReader(file: path)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            reader.error(.syntax, at: nil, !exists ? "no such configuration file" : isDirectory.boolValue ? "a directory, not a configuration file" : "cannot read the configuration file (not UTF-8, or not readable)")
            throw TopologyErrors(problems: reader.problems)
        }
        let shapes = shapes(of: command)
        let setOnCommandLine = Set(given.compactMap(optionName))
        let folder = (path as NSString).deletingLastPathComponent
        var expansion = Expansion()
        guard let root = reader.compose(text, empty: "the configuration file is empty"),
              let fields = reader.fields(of: root, "the configuration of junction \(command._commandName)", known: shapes.keys.sorted()) else {
            throw TopologyErrors(problems: reader.problems)
        }
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            guard let node = fields[name], !setOnCommandLine.contains(name) else { continue }
            expansion.places[name] = SourceLocation(file: path, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
            func value(_ node: Yams.Node) -> String? {
                guard case .scalar(let scalar) = node else {
                    reader.error(.wrongType, at: node, "\(name) must be a single value, found \(YAMLReader.describe(node))")
                    return nil
                }
                let text = scalar.string
                let isPath = pathOptions.contains(name) || (name == "server-key" && text.hasSuffix(".pub"))
                return isPath && !text.hasPrefix("/") && !text.isEmpty ? (folder as NSString).appendingPathComponent(text) : text
            }
            if shape.isFlag {
                guard case .scalar(let scalar) = node, let on = Bool(scalar.string.lowercased()) else {
                    reader.error(.wrongType, at: node, "\(name) is a switch: write true or false")
                    continue
                }
                if on { expansion.arguments.append("--\(name)") }
            } else if case .sequence(let items) = node {
                guard shape.isRepeating else {
                    reader.error(.wrongType, at: node, "\(name) takes one value, not a list")
                    continue
                }
                // One word per value, so that a value starting with "-" is not taken for an option.
                for item in items {
                    if let text = value(item) { expansion.arguments.append("--\(name)=\(text)") }
                }
            } else if let text = value(node) {
                expansion.arguments.append("--\(name)=\(text)")
            }
        }
        if reader.hasErrors {
            let inFileOrder = reader.problems.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
            throw TopologyErrors(problems: inFileOrder)
        }
        return expansion
    }

    /// The long option a command-line word sets (`--pools` or `--pools=X`), or nil.
    static func optionName(_ word: String) -> String? {
        guard word.hasPrefix("--"), word.count > 2 else { return nil }
        return String(word.dropFirst(2).prefix { $0 != "=" })
    }

    /// The value of `--config FILE` (or `--config=FILE`) among a command's arguments.
    static func configPath(in arguments: [String]) -> String? {
        for (index, word) in arguments.enumerated() {
            if word == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if word.hasPrefix("--config=") { return String(word.dropFirst("--config=".count)) }
        }
        return nil
    }

    /// A daemon's command line with its configuration file's settings added; any other command
    /// line unchanged.
    static func expand(_ arguments: [String]) throws(TopologyErrors) -> [String] {
        guard let first = arguments.first, let daemon = daemons.first(where: { $0.name == first }),
              let path = configPath(in: arguments) else { return arguments }
        return arguments + (try Self.arguments(file: path, for: daemon.command, given: Array(arguments.dropFirst())))
    }
}

/// A daemon whose configuration can be checked beyond its options: the files it names.
protocol CheckedConfiguration {
    /// Problems with the files the options name, each as a line for people.
    func fileProblems() -> [String]
}

/// `junction config`: daemon configuration files.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a daemon's configuration file.",
        discussion: """
            A configuration file is YAML whose keys are the daemon's long options: `heartbeat-ms: 500` \
            for `--heartbeat-ms 500`, `true`/`false` for switches, a list for repeatable options. \
            Start a daemon with it as `junction controller --config FILE` or `junction pool --config FILE`; \
            options on the command line win over the file. Relative paths are read from the file's folder.
            """,
        subcommands: [CheckConfig.self]
    )
}

/// `junction config check FILE`.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a configuration file as its daemon would read it, and the files it names, without starting anything."
    )

    @Argument(help: "The configuration file (YAML).")
    var file: String

    @Option(help: ArgumentHelp("The daemon the file is for: controller or pool. Default: told by the file's keys.", valueName: "daemon"))
    var daemon: String?

    func run() throws {
        let daemon = try chosenDaemon()
        let expansion: ConfigFile.Expansion
        do {
            expansion = try ConfigFile.expansion(file: file, for: daemon.command)
        } catch {
            for problem in error.problems { printError(problem.description) }
            throw CommandFailure("\(file) is not a valid configuration of junction \(daemon.name) (\(error.errors.count) \(error.errors.count == 1 ? "error" : "errors"))")
        }
        let command: any ParsableCommand
        do {
            command = try daemon.command.parse(expansion.arguments)
        } catch {
            throw CommandFailure("\(file): " + expansion.locating(daemon.command.message(for: error)))
        }
        let problems = ((command as? any CheckedConfiguration)?.fileProblems() ?? []).map(expansion.locating)
        guard problems.isEmpty else {
            for problem in problems { printError(problem) }
            throw CommandFailure("junction \(daemon.name) would not start with \(file) (\(problems.count) \(problems.count == 1 ? "problem" : "problems"))")
        }
        let settings = expansion.places.count
        print("\(file): a valid configuration of junction \(daemon.name) (\(settings) \(settings == 1 ? "setting" : "settings"))")
        print("  as a command line: junction \(daemon.name) \(expansion.arguments.map(shellQuoted).joined(separator: " "))")
    }

    /// The daemon named, or the one whose options the file's keys are.
    func chosenDaemon() throws -> (name: String, command: any ParsableCommand.Type) {
        if let daemon {
            guard let chosen = ConfigFile.daemons.first(where: { $0.name == daemon }) else {
                throw ValidationError("--daemon must be controller or pool, not \(daemon)")
            }
            return chosen
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8), case .mapping(let mapping)? = try? Yams.compose(yaml: text) else {
            // The full read names the problem with its place.
            return ConfigFile.daemons[0]
        }
        let keys = mapping.keys.compactMap(\.string)
        // How many of the file's keys each daemon knows.
        let known = ConfigFile.daemons.map { daemon in
            let shapes = ConfigFile.shapes(of: daemon.command)
            return (daemon: daemon, count: keys.filter { shapes[$0] != nil }.count)
        }
        let fitting = known.filter { $0.count == keys.count }
        if fitting.count == 1 { return fitting[0].daemon }
        let names = ConfigFile.daemons.map(\.name)
        guard fitting.isEmpty else {
            throw ValidationError("every key of \(file) is an option of both \(names.joined(separator: " and ")): say which it configures with --daemon")
        }
        // Keys neither knows: the daemon that knows most of them reports the rest, each with its place.
        return known.max { $0.count < $1.count }!.daemon
    }
}
