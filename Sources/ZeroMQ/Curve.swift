internal import CZeroMQ

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
