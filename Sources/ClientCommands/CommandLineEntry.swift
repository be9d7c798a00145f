import ArgumentParser
import Wording

extension AsyncParsableCommand {
    /// Parses `arguments` with this command as the root and runs the command they name, like
    /// ArgumentParser's own entry point with two differences: a mistyped subcommand is named with
    /// the nearest real one (and an unknown option before a missing one), and a check that fails
    /// while a subcommand runs is shown with that subcommand's usage rather than the root's.
    public static func runAsRoot(_ arguments: [String]) async -> Never {
        if let typo = unknownSubcommand(in: arguments) {
            printError(typo)
            ProcessLifetime.end(64)
        }
        let command: ParsableCommand
        do {
            command = try await asyncParseAsRoot(arguments)
        } catch {
            // ArgumentParser reports a missing option before an unknown one; the unknown one is
            // usually the cause (a typo of the missing one), so it is named first.
            if let (option, nearest, subcommand) = unknownOption(in: arguments) {
                let path = commandPath(to: subcommand).joined(separator: " ")
                let hint = nearest.map { ". Did you mean '\($0)'?" } ?? ""
                printError("Error: Unknown option '\(option)'\(hint)\nUsage: \(usageString(for: subcommand))\n  See '\(path) --help' for more information.")
                ProcessLifetime.end(64)
            }
            end(withError: error)
        }
        do {
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                var synchronous = command
                try synchronous.run()
            }
        } catch let error as ValidationError {
            let subcommand = Swift.type(of: command)
            let path = commandPath(to: subcommand).joined(separator: " ")
            printError("Error: \(error.message)\nUsage: \(usageString(for: subcommand))\n  See '\(path) --help' for more information.")
            ProcessLifetime.end(64)
        } catch {
            end(withError: error)
        }
        ProcessLifetime.end(0)
    }

    /// ArgumentParser's `exit(withError:)`, ending the way `ProcessLifetime` says.
    private static func end(withError error: Error) -> Never {
        let message = fullMessage(for: error)
        let status = exitCode(for: error).rawValue
        if !message.isEmpty {
            if status == 0 { print(message) } else { printError(message) }
        }
        ProcessLifetime.end(status)
    }

    /// A message for the first word that should name a subcommand and names none, or nil.
    private static func unknownSubcommand(in arguments: [String]) -> String? {
        var command: ParsableCommand.Type = Self.self
        var path = [Self._commandName]
        for word in arguments {
            let configuration = command.configuration
            // Options and positional arguments are the parser's to judge.
            guard !word.hasPrefix("-"), !configuration.subcommands.isEmpty, word != "help" else { return nil }
            var next: ParsableCommand.Type?
            for sub in configuration.subcommands where sub._commandName == word || sub.configuration.aliases.contains(word) {
                next = sub
            }
            if let next {
                command = next
                path.append(word)
                continue
            }
            var names: [String] = []
            var nearest: (name: String, distance: Int)?
            for sub in configuration.subcommands where sub.configuration.shouldDisplay {
                let name = sub._commandName
                names.append(name)
                let distance = editDistance(word, name)
                if distance <= (name.count > 4 ? 2 : 1), distance < nearest?.distance ?? .max { nearest = (name, distance) }
            }
            // Under a default subcommand the word may be its argument: only a near miss is named.
            if configuration.defaultSubcommand != nil, nearest == nil { return nil }
            let prefix = path.joined(separator: " ")
            let hint = nearest.map { ". Did you mean '\(prefix) \($0.name)'?" } ?? ""
            return "Error: '\(word)' is not a \(prefix) command\(hint)\nCommands: \(names.joined(separator: ", "))\n  See '\(prefix) --help' for more information."
        }
        return nil
    }

    /// The first option (before any `--`) that the subcommand the words name does not take, and
    /// the nearest one it does take.
    private static func unknownOption(in arguments: [String]) -> (String, nearest: String?, ParsableCommand.Type)? {
        var command: ParsableCommand.Type = Self.self
        var rest = arguments[...]
        while true {
            if let word = rest.first, let next = command.configuration.subcommands.first(where: { $0._commandName == word }) {
                command = next
                rest = rest.dropFirst()
            } else if let fallback = command.configuration.defaultSubcommand {
                command = fallback
            } else {
                break
            }
        }
        let help = helpMessage(for: command, includeHidden: true)
        var known: Set<String> = ["-h", "--help", "--version", "--help-hidden", "--experimental-dump-help"]
        var scanner = help[...]
        while let start = scanner.firstIndex(of: "-") {
            let tail = scanner[start...]
            let name = tail.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "[" || $0 == "]" }
            scanner = tail.dropFirst(max(1, name.count))
            // `--[no-]flag` stands for both spellings.
            let plain = String(name).replacing("[no-]", with: "")
            known.insert(plain)
            if name.contains("[no-]") { known.insert(plain.replacing("--", with: "--no-")) }
        }
        for word in rest {
            if word == "--" { break }
            guard word.hasPrefix("-"), word.count > 1, Double(word) == nil else { continue }
            let option = String(word.prefix { $0 != "=" })
            guard !known.contains(option) else { continue }
            let nearest = known.filter { $0.hasPrefix("--") }.map { ($0, editDistance(option, $0)) }
                .filter { $0.1 <= 2 }.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
            return (option, nearest, command)
        }
        return nil
    }

    /// The words that lead from the root to `target`, the root's name first.
    private static func commandPath(to target: ParsableCommand.Type) -> [String] {
        func search(_ command: ParsableCommand.Type, _ path: [String]) -> [String]? {
            if command == target { return path }
            for sub in command.configuration.subcommands {
                if let found = search(sub, path + [sub._commandName]) { return found }
            }
            return nil
        }
        return search(Self.self, [Self._commandName]) ?? [Self._commandName]
    }
}
