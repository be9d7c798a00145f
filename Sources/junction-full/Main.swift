import ArgumentParser
import ClientCommands
import Foundation

extension Junction {
    /// Hands `bench` to junction-bench; reads a daemon's configuration file into its options (nothing starts when it has errors),
    /// then parses and runs the command line.
    static func main() async {
        let given = Array(CommandLine.arguments.dropFirst())
        if given.first == "bench" {
            runSibling("junction-bench", Array(given.dropFirst()), command: "junction bench")
        }
        let arguments: [String]
        do {
            arguments = try ConfigFile.expand(given)
        } catch {
            for problem in error.problems { printError(problem.description) }
            printError("Error: the configuration file has \(error.errors.count) \(error.errors.count == 1 ? "error" : "errors"); nothing was started")
            Foundation.exit(64)
        }
        await runAsRoot(arguments)
    }
}
