import ArgumentParser

/// The commands that make requests of a running controller and need nothing else: the quick
/// `junction` executable runs these itself.
public enum ControllerClientCommands {
    /// Junction's version, as `junction --version` prints it.
    public static let version = "0.1.0"

    /// In the order `junction --help` lists them.
    public static var all: [any ParsableCommand.Type] {
        [Submit.self, Status.self, Queue.self, Cancel.self, Pools.self, Usage.self, LinkCommand.self, Watch.self]
    }
}
