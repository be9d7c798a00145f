import ArgumentParser
import ClientCommands
import Glibc

/// The commands a user types most, one request of a running controller each, run here: this
/// executable links neither Foundation nor the server libraries, so it starts in milliseconds.
/// Every other command (the daemons, the demo, the simulator, topology tools, help for all of
/// them) is handed to junction-full, the whole command set, installed beside it.
struct QuickJunction: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "junction",
        abstract: "Junction places jobs on compute pools and the network paths to them, together.",
        subcommands: ControllerClientCommands.all
    )
}

/// Replaces this process with junction-full, given the same arguments.
func handOver(_ arguments: [String]) -> Never {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let own = length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    let folder = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    let full = (folder.isEmpty ? "." : folder) + "/junction-full"
    let argv = ([CommandLine.arguments[0]] + arguments).map { strdup($0) } + [nil]
    execv(full, argv)
    let reason = String(cString: strerror(errno))
    printError("Error: cannot run \(full): \(reason). `junction \(arguments.first ?? "--help")` is one of the commands junction-full runs; install it beside junction (Deploy/README.md), or build both with `swift build`.")
    exit(errno == ENOENT ? 127 : 126)
}

let arguments = Array(CommandLine.arguments.dropFirst())
if let first = arguments.first, ControllerClientCommands.all.contains(where: { $0._commandName == first }) {
    await QuickJunction.runAsRoot(arguments)
}
handOver(arguments)
