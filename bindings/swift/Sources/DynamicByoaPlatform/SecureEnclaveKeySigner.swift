import CryptoKit
import DynamicByoa
import Foundation
import Security

/// `KeySigner` over the Secure Enclave: P-256 keys generated inside it (`kSecAttrTokenIDSecureEnclave`),
/// usable after the first unlock without user presence (the client signs during background
/// refreshes), never leaving this device. Signatures are `ecdsaSignatureMessageX962SHA256`
/// (X9.62 DER, the signer hashes the message), which the core accepts as it is.
///
/// Where there is no Secure Enclave (the iOS simulator, a Mac without one) and
/// `allowSoftwareFallback` is true (the default), keys are ordinary Keychain keys with the same
/// accessibility: the simulator has no enclave, so development and tests work unchanged, and
/// `isHardwareBacked` tells which one you got. With `allowSoftwareFallback: false` such a device
/// fails every call with `KeySignerError.Failed`.
///
/// Keys are Keychain items tagged `xyz.dynamic.byoa.key.<name>` (the core's names include the
/// environment id). `getOrCreateKey` is atomic per name within the process.
public final class SecureEnclaveKeySigner: KeySigner {
    /// True when keys are generated in the Secure Enclave; false for the software fallback.
    public let isHardwareBacked: Bool
    /// `kSecAttrAccessGroup` of the keys (to share them with an extension), or `nil`.
    public let accessGroup: String?
    private let allowSoftwareFallback: Bool

    /// Serialises get-or-create across every signer in the process: two first calls for one
    /// name must return the same key, not create two. (`nonisolated(unsafe)`: older SDKs do not
    /// mark NSLock Sendable; a lock is safe to share by design.)
    nonisolated(unsafe) private static let creation = NSLock()

    public init(accessGroup: String? = nil, allowSoftwareFallback: Bool = true) {
        self.accessGroup = accessGroup
        self.allowSoftwareFallback = allowSoftwareFallback
        self.isHardwareBacked = Self.secureEnclaveAvailable
    }

    /// Whether this device has a Secure Enclave this process can use.
    public static var secureEnclaveAvailable: Bool {
        #if targetEnvironment(simulator)
            return false
        #else
            return SecureEnclave.isAvailable
        #endif
    }

    public func getOrCreateKey(name: String) throws -> String {
        Self.creation.lock()
        defer { Self.creation.unlock() }
        if let key = try find(name: name) {
            return try Self.compressedPublicKeyHex(of: key)
        }
        return try Self.compressedPublicKeyHex(of: try create(name: name))
    }

    public func sign(name: String, message: Data) throws -> Data {
        guard let key = try find(name: name) else {
            throw KeySignerError.NotFound(detail: name)
        }
        var error: Unmanaged<CFError>?
        guard
            let signature = SecKeyCreateSignature(
                key, .ecdsaSignatureMessageX962SHA256, message as CFData, &error)
        else {
            throw Self.keyError(error?.takeRetainedValue(), doing: "sign with", name: name)
        }
        return signature as Data
    }

    public func deleteKey(name: String) throws {
        let status = SecItemDelete(baseQuery(name: name) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw Self.statusError(status, doing: "delete", name: name)
        }
    }

    // MARK: - Keychain

    private static func tag(_ name: String) -> Data {
        Data("xyz.dynamic.byoa.key.\(name)".utf8)
    }

    private func baseQuery(name: String) -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrKeyClass as String: kSecAttrKeyClassPrivate,
            kSecAttrApplicationTag as String: Self.tag(name),
            kSecUseDataProtectionKeychain as String: true,
        ]
        if let accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        return query
    }

    private func find(name: String) throws -> SecKey? {
        var query = baseQuery(name: name)
        query[kSecReturnRef as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let result, CFGetTypeID(result) == SecKeyGetTypeID() else {
                throw KeySignerError.Failed(detail: "keychain item for key \(name) is not a key")
            }
            return (result as! SecKey)
        case errSecItemNotFound:
            return nil
        default:
            throw Self.statusError(status, doing: "read", name: name)
        }
    }

    private func create(name: String) throws -> SecKey {
        if !isHardwareBacked && !allowSoftwareFallback {
            throw KeySignerError.Failed(
                detail: "no Secure Enclave on this device and the software fallback is off")
        }
        var error: Unmanaged<CFError>?
        // No user-presence flag: the key must sign during background refreshes.
        let flags: SecAccessControlCreateFlags = isHardwareBacked ? [.privateKeyUsage] : []
        guard
            let access = SecAccessControlCreateWithFlags(
                nil, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly, flags, &error)
        else {
            throw Self.keyError(error?.takeRetainedValue(), doing: "set up access for", name: name)
        }
        var privateAttributes: [String: Any] = [
            kSecAttrIsPermanent as String: true,
            kSecAttrApplicationTag as String: Self.tag(name),
            kSecAttrAccessControl as String: access,
        ]
        if let accessGroup {
            privateAttributes[kSecAttrAccessGroup as String] = accessGroup
        }
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecPrivateKeyAttrs as String: privateAttributes,
            kSecUseDataProtectionKeychain as String: true,
        ]
        if isHardwareBacked {
            attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        }
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw Self.keyError(error?.takeRetainedValue(), doing: "create", name: name)
        }
        return key
    }

    // MARK: - Encoding and errors

    /// The compressed SEC1 point in lowercase hex: `02`/`03` (parity of y) then x, 66 characters,
    /// from the uncompressed `04 || x || y` that the Keychain exports.
    static func compressedPublicKeyHex(of privateKey: SecKey) throws -> String {
        var error: Unmanaged<CFError>?
        guard let publicKey = SecKeyCopyPublicKey(privateKey),
            let exported = SecKeyCopyExternalRepresentation(publicKey, &error) as Data?
        else {
            throw KeySignerError.Failed(detail: "could not export the public key")
        }
        return try compressedHex(uncompressedPoint: exported)
    }

    /// `04 || x || y` (65 bytes) to the compressed point in hex.
    static func compressedHex(uncompressedPoint point: Data) throws -> String {
        let bytes = [UInt8](point)
        guard bytes.count == 65, bytes[0] == 0x04 else {
            throw KeySignerError.Failed(
                detail: "the public key is not an uncompressed P-256 point (\(bytes.count) bytes)")
        }
        let prefix: UInt8 = bytes[64] & 1 == 0 ? 0x02 : 0x03
        return ([prefix] + bytes[1...32]).map { String(format: "%02x", $0) }.joined()
    }

    private static func statusError(_ status: OSStatus, doing operation: String, name: String)
        -> KeySignerError
    {
        let detail = "keychain \(operation) of key \(name): \(KeychainStatus.describe(status))"
        if status == errSecInteractionNotAllowed {
            return KeySignerError.Unavailable(detail: detail)
        }
        return KeySignerError.Failed(detail: detail)
    }

    private static func keyError(_ error: CFError?, doing operation: String, name: String)
        -> KeySignerError
    {
        guard let error else {
            return KeySignerError.Failed(detail: "could not \(operation) key \(name)")
        }
        let bridged = error as Error as NSError
        let detail = "could not \(operation) key \(name): error \(bridged.code) (\(bridged.domain))"
        if bridged.code == Int(errSecInteractionNotAllowed) {
            return KeySignerError.Unavailable(detail: detail)
        }
        return KeySignerError.Failed(detail: detail)
    }
}
