import ArgumentParser
import Foundation

extension Junction {
    /// Parses and runs like ArgumentParser's own entry point, with two differences: a mistyped
    /// subcommand is named with the nearest real one, and a check that fails while a subcommand
    /// runs is shown with that subcommand's usage rather than the root's.
    static func main() async {
        let arguments: [String]
        do {
            arguments = try ConfigFile.expand(Array(CommandLine.arguments.dropFirst()))
        } catch {
            for problem in error.problems { printError(problem.description) }
            FileHandle.standardError.write(Data("Error: the configuration file has \(error.errors.count) \(error.errors.count == 1 ? "error" : "errors"); nothing was started\n".utf8))
            Foundation.exit(64)
        }
        if let typo = unknownSubcommand(in: arguments) {
            FileHandle.standardError.write(Data((typo + "\n").utf8))
            Foundation.exit(64)
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
                let text = "Error: Unknown option '\(option)'\(hint)\nUsage: \(usageString(for: subcommand))\n  See '\(path) --help' for more information.\n"
                FileHandle.standardError.write(Data(text.utf8))
                Foundation.exit(64)
            }
            exit(withError: error)
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
            let text = "Error: \(error.message)\nUsage: \(usageString(for: subcommand))\n  See '\(path) --help' for more information.\n"
            FileHandle.standardError.write(Data(text.utf8))
            Foundation.exit(64)
        } catch {
            exit(withError: error)
        }
    }

    /// A message for the first word that should name a subcommand and names none, or nil.
    static func unknownSubcommand(in arguments: [String]) -> String? {
        var command: ParsableCommand.Type = Junction.self
        var path = [Junction._commandName]
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
    static func unknownOption(in arguments: [String]) -> (String, nearest: String?, ParsableCommand.Type)? {
        var command: ParsableCommand.Type = Junction.self
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
            let plain = name.replacingOccurrences(of: "[no-]", with: "")
            known.insert(plain)
            if name.contains("[no-]") { known.insert(plain.replacingOccurrences(of: "--", with: "--no-")) }
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
    static func commandPath(to target: ParsableCommand.Type) -> [String] {
        func search(_ command: ParsableCommand.Type, _ path: [String]) -> [String]? {
            if command == target { return path }
            for sub in command.configuration.subcommands {
                if let found = search(sub, path + [sub._commandName]) { return found }
            }
            return nil
        }
        return search(Junction.self, [Junction._commandName]) ?? [Junction._commandName]
    }
}

/// Edits between two words, a swap of neighbours counting as one (so "statsu" is one from "status").
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
            }
        }
    }
    return table[a.count][b.count]
}
