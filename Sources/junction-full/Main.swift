import ArgumentParser
import ClientCommands
import Foundation

extension Junction {
    /// Reads a daemon's configuration file into its options (nothing starts when it has errors),
    /// then parses and runs the command line.
    static func main() async {
        let arguments: [String]
        do {
            arguments = try ConfigFile.expand(Array(CommandLine.arguments.dropFirst()))
        } catch {
            for problem in error.problems { printError(problem.description) }
            printError("Error: the configuration file has \(error.errors.count) \(error.errors.count == 1 ? "error" : "errors"); nothing was started")
            Foundation.exit(64)
        }
        await runAsRoot(arguments)
    }
}
