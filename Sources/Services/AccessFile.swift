import ControllerCore
import Foundation
import Topology
import Yams
import ZeroMQ

extension ControllerSecurity {
    /// Reads a controller's access file (YAML): its own key pair, and the pool and client keys it
    /// lets in. Every problem is reported at once, each with file:line:column.
    ///
    /// ```yaml
    /// key: controller.key          # the controller's key pair (junction keygen)
    /// pools:
    ///   - name: east-agent
    ///     key: east-agent.pub      # a public key, as a file or as 40 characters of Z85
    ///     pools: [east-1, east-2]  # the pool ids this key may register as
    /// clients:
    ///   - name: alice
    ///     key: alice.pub
    ///     role: submit             # observer, submit or operator
    /// ```
    ///
    /// Relative paths are read from the access file's folder.
    public init(accessFile path: String) throws(TopologyErrors) {
        var reader = YAMLReader(file: path)
        let folder = (path as NSString).deletingLastPathComponent
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            reader.error(.syntax, at: nil, "cannot read the access file")
            throw TopologyErrors(problems: reader.problems)
        }
        var keyPair: CurveKeyPair?
        var names: [String: String] = [:]
        var policy = AccessPolicy()
        if let root = reader.compose(text, empty: "the access file is empty; it needs \"key\" and at least one of \"pools\" and \"clients\""),
           let fields = reader.fields(of: root, "the access file", known: ["key", "pools", "clients"]) {
            if let node = reader.require(fields, "key", "the access file"), let file = reader.string(node, "key") {
                let full = file.hasPrefix("/") ? file : (folder as NSString).appendingPathComponent(file)
                do {
                    keyPair = try CurveKeyPair(contentsOfFile: full)
                } catch {
                    reader.error(.wrongType, at: node, error.description)
                }
            }
            func entries(_ section: String, extra: [String], _ body: (inout YAMLReader, String, String, Fields) -> Void) {
                guard let list = fields[section] else { return }
                guard case .sequence(let items) = list else {
                    reader.error(.wrongType, at: list, "\(section) must be a list of keys")
                    return
                }
                for item in items {
                    guard let entry = reader.fields(of: item, "an entry of \(section)", known: ["name", "key"] + extra),
                          let nameNode = reader.require(entry, "name", "an entry of \(section)"), let name = reader.string(nameNode, "name"),
                          let keyNode = reader.require(entry, "key", "\(section) entry \(name)"), let keyText = reader.string(keyNode, "key") else { continue }
                    // The rest of the entry is checked even when its key is not usable: every
                    // problem is reported at once.
                    body(&reader, name, section, entry)
                    let key: String
                    do {
                        key = try CurveKeyPair.publicKey(from: keyText, relativeTo: folder)
                    } catch {
                        reader.error(.wrongType, at: keyNode, error.description)
                        continue
                    }
                    if let other = names[key] {
                        reader.error(.duplicateID, at: keyNode, "this key is already listed as \(other); one key, one name")
                    } else if names.values.contains(name) {
                        reader.error(.duplicateID, at: nameNode, "the name \(name) is used twice")
                    } else {
                        names[key] = name
                    }
                }
            }
            entries("pools", extra: ["pools"]) { reader, name, _, entry in
                guard let node = reader.require(entry, "pools", "pool key \(name)") else { return }
                guard case .sequence(let ids) = node, !ids.isEmpty else {
                    reader.error(.wrongType, at: node, "pools of \(name) must be a non-empty list of pool ids")
                    return
                }
                policy.pools[name] = Set(ids.compactMap { reader.string($0, "a pool id") })
            }
            entries("clients", extra: ["role", "tenant"]) { reader, name, _, entry in
                if let node = entry["tenant"], let tenant = reader.string(node, "tenant") {
                    // Tenants follow the rules of pool ids: they appear in metrics, logs and CSV.
                    if isValidID(tenant) {
                        policy.tenants[name] = tenant
                    } else {
                        reader.error(.invalidValue, at: node, "a tenant is 1 to 128 letters, digits or . _ : -, not \"\(tenant.prefix(64))\"")
                    }
                }
                guard let node = reader.require(entry, "role", "client key \(name)"), let text = reader.string(node, "role") else { return }
                guard let role = AccessPolicy.Role(rawValue: text) else {
                    reader.error(.invalidValue, at: node, "role must be observer, submit or operator, not \(text)")
                    return
                }
                policy.clients[name] = role
            }
            if fields["pools"] == nil, fields["clients"] == nil {
                reader.error(.missingKey, at: root, "the access file lets no key in: give \"pools\", \"clients\" or both")
            }
        }
        guard !reader.hasErrors, let keyPair else { throw TopologyErrors(problems: reader.problems) }
        self.init(keyPair: keyPair, names: names, policy: policy)
    }
}
