import Glibc

/// Replaces this process with the executable `name` installed in this executable's folder,
/// given `arguments` after this process's own argv[0]. `command` is what the user typed that the
/// sibling runs, for the error when it is missing.
public func runSibling(_ name: String, _ arguments: [String], command: String) -> Never {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let own = length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    let folder = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    let path = (folder.isEmpty ? "." : folder) + "/" + name
    let argv = ([CommandLine.arguments[0]] + arguments).map { strdup($0) } + [nil]
    execv(path, argv)
    let reason = String(cString: strerror(errno))
    printError("Error: cannot run \(path): \(reason). `\(command)` is run by \(name); install it beside junction (Deploy/README.md), or build them all with `swift build`.")
    exit(errno == ENOENT ? 127 : 126)
}
