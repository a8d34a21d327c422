import DynamicByoa
import Foundation
import Security

/// `SessionStorage` over the Keychain: one generic-password item per key, readable after the
/// first unlock and never leaving this device (`kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`:
/// not in backups, not migrated to another phone), so a background refresh can read it while
/// the phone is locked.
///
/// Items are named per environment: the service is `xyz.dynamic.byoa.<environmentId>` and the
/// account is the key the client asks for (`dynamic_<environmentId>_session`, and the software
/// signer's key names if one is used). A locked device, protected data that is not available
/// yet, or an app prewarmed before the first unlock (`errSecInteractionNotAllowed`) is
/// `StorageError.Unavailable`: the client keeps the stored session and reads it again on the next
/// `restore()`. Every other failure is `Failed`. Errors carry the Keychain status, never a value.
public final class KeychainSessionStorage: SessionStorage {
    /// `kSecAttrService` of every item this store writes.
    public let service: String
    /// `kSecAttrAccessGroup`, to share the session with app extensions (a keychain group the
    /// app's entitlements list, with the team prefix). `nil`: the app's default group.
    public let accessGroup: String?

    /// A store for `environmentId`'s items. Pass `accessGroup` to share them with an extension.
    public init(environmentId: String, accessGroup: String? = nil) {
        self.service = "xyz.dynamic.byoa.\(environmentId)"
        self.accessGroup = accessGroup
    }

    public func get(key: String) throws -> String? {
        var query = baseQuery(account: key)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let data = result as? Data, let value = String(data: data, encoding: .utf8) else {
                throw StorageError.Failed(detail: "keychain item \(key) is not UTF-8 text")
            }
            return value
        case errSecItemNotFound:
            return nil
        default:
            throw Self.error(status, doing: "read", key: key)
        }
    }

    /// Adds the item, or replaces its value if it exists: the item is never absent in between
    /// (no delete-then-add), so a crash mid-write leaves the old value or the new one.
    public func set(key: String, value: String) throws {
        let data = Data(value.utf8)
        var add = baseQuery(account: key)
        add[kSecValueData as String] = data
        add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        var status = SecItemAdd(add as CFDictionary, nil)
        if status == errSecDuplicateItem {
            let update: [String: Any] = [
                kSecValueData as String: data,
                kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            ]
            status = SecItemUpdate(baseQuery(account: key) as CFDictionary, update as CFDictionary)
            if status == errSecItemNotFound {
                // Deleted between the two calls: add it again.
                status = SecItemAdd(add as CFDictionary, nil)
            }
        }
        guard status == errSecSuccess else {
            throw Self.error(status, doing: "write", key: key)
        }
    }

    public func delete(key: String) throws {
        let status = SecItemDelete(baseQuery(account: key) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw Self.error(status, doing: "delete", key: key)
        }
    }

    private func baseQuery(account: String) -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            // The iOS keychain on macOS too (needs a signed app with a keychain entitlement);
            // ignored on iOS, where it is the only keychain.
            kSecUseDataProtectionKeychain as String: true,
        ]
        if let accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        return query
    }

    /// The typed error of a Keychain status: the status code and its system message, never a
    /// value.
    static func error(_ status: OSStatus, doing operation: String, key: String) -> StorageError {
        let detail = "keychain \(operation) of \(key): \(KeychainStatus.describe(status))"
        if status == errSecInteractionNotAllowed {
            return StorageError.Unavailable(detail: detail)
        }
        return StorageError.Failed(detail: detail)
    }
}

/// Keychain statuses as text for errors and logs.
enum KeychainStatus {
    static func describe(_ status: OSStatus) -> String {
        let message = SecCopyErrorMessageString(status, nil) as String? ?? "unknown status"
        return "status \(status) (\(message))"
    }
}
