internal import CZeroMQ
import Glibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A CURVE key pair, both keys Z85-encoded (40 characters each).
public struct CurveKeyPair: Sendable, Hashable {
    public let publicKey: String
    public let secretKey: String

    /// Checks that both keys are 40-character Z85 text holding 32 bytes.
    public init(publicKey: String, secretKey: String) throws(ZeroMQError) {
        for key in [publicKey, secretKey] where Z85.decode(key)?.count != 32 {
            throw ZeroMQError(operation: "CURVE key \"\(key.prefix(8))…\" is not 40 characters of Z85", code: EINVAL)
        }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a new key pair; fails when libzmq was built without CURVE.
    public static func generate() throws(ZeroMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        try zmqCheck("zmq_curve_keypair", { zmq_curve_keypair(&publicKey, &secretKey) })
        return try CurveKeyPair(publicKey: string(publicKey), secretKey: string(secretKey))
    }

    /// Derives the public key that belongs to a Z85 secret key.
    public static func publicKey(forSecretKey secretKey: String) throws(ZeroMQError) -> String {
        var publicKey = [CChar](repeating: 0, count: 41)
        try zmqCheck("zmq_curve_public", { zmq_curve_public(&publicKey, secretKey) })
        return string(publicKey)
    }

    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension CurveKeyPair {
    /// Reads a key pair file as `junction keygen` writes it: `public-key:` and `secret-key:` lines.
    public init(contentsOfFile path: String) throws(KeyFileError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KeyFileError("cannot read the key file \(path): \(systemReason(error))")
        }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: ":", maxSplits: 1).map(trimmed)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let secret = fields["secret-key"] else {
            throw KeyFileError("\(path) holds no secret-key line: give the key pair file (NAME.key) that junction keygen wrote, not the .pub")
        }
        do {
            let derived = try CurveKeyPair.publicKey(forSecretKey: secret)
            if let stated = fields["public-key"], stated != derived {
                throw KeyFileError("\(path): its public-key does not belong to its secret-key")
            }
            try self.init(publicKey: derived, secretKey: secret)
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw KeyFileError("\(path): the secret-key is not 40 characters of Z85")
        }
    }

    /// Writes `NAME.key` (both keys, readable by its owner only) and `NAME.pub` (the public key).
    public func write(to name: String) throws(KeyFileError) {
        let secretFile = name + ".key", publicFile = name + ".pub"
        let secretText = "# A Junction CURVE key pair: keep this file secret.\npublic-key: \(publicKey)\nsecret-key: \(secretKey)\n"
        let descriptor = open(secretFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw KeyFileError("cannot create \(secretFile): \(String(cString: strerror(errno)))\(errno == EEXIST ? "; it exists, and a key is never overwritten" : "")")
        }
        let written = secretText.utf8CString.withUnsafeBufferPointer { Glibc.write(descriptor, $0.baseAddress, $0.count - 1) }
        close(descriptor)
        guard written == secretText.utf8.count else { throw KeyFileError("cannot write \(secretFile)") }
        do {
            try "public-key: \(publicKey)\n".write(toFile: publicFile, atomically: true, encoding: .utf8)
        } catch {
            throw KeyFileError("cannot write \(publicFile): \(systemReason(error))")
        }
    }

    /// A public key given as 40 characters of Z85, or as a file holding a `public-key:` line (a
    /// `.pub` or a `.key`); `relativeTo` is the folder a relative path is read from.
    public static func publicKey(from text: String, relativeTo folder: String? = nil) throws(KeyFileError) -> String {
        if text.count == 40, Z85.decode(text)?.count == 32 { return text }
        let path = text.hasPrefix("/") || folder == nil ? text : (folder!.hasSuffix("/") ? folder! : folder! + "/") + text
        guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KeyFileError("\(text) is neither a 40-character Z85 public key nor a readable key file")
        }
        for line in contents.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map(trimmed)
            if parts.count == 2, parts[0] == "public-key", Z85.decode(parts[1])?.count == 32 { return parts[1] }
        }
        throw KeyFileError("\(path) holds no public-key line")
    }
}

/// A key file that could not be read or written, and why.
public struct KeyFileError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What a CURVE client needs: the server's public key and its own key pair.
public struct CurveClientKeys: Sendable, Hashable {
    public var serverPublicKey: String
    public var keys: CurveKeyPair

    public init(serverPublicKey: String, keys: CurveKeyPair) {
        self.serverPublicKey = serverPublicKey
        self.keys = keys
    }

    /// The options that make a connecting socket a CURVE client with these keys.
    public var socketOptions: [SocketOption] {
        [.curveServerKey(serverPublicKey), .curvePublicKey(keys.publicKey), .curveSecretKey(keys.secretKey)]
    }
}

/// ZeroMQ's Z85 text encoding (RFC 32/Z85).
public enum Z85 {
    /// Encodes bytes whose count is a multiple of 4; nil otherwise.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { return nil }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes text whose length is a multiple of 5; nil when it is not valid Z85.
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 5 == 0,
              characters.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: characters.count / 5 * 4)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }
}

/// A line's field without the blanks around it.
private func trimmed(_ text: Substring) -> String {
    String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
}

/// What the system said about a file that could not be read or written: the errno text when there
/// is one ("No such file or directory"), else the error itself.
private func systemReason(_ error: any Error) -> String {
    if let code = (error as? CocoaError)?.underlying as? POSIXError { return String(cString: strerror(code.code.rawValue)) }
    return "\(error)"
}
