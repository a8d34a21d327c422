import DynamicByoa
@testable import DynamicByoaPlatform
import XCTest

/// The Keychain store against the real Keychain: on the iOS simulator as is; on macOS only in a
/// signed test host with a keychain entitlement (the data-protection keychain refuses an
/// unsigned `swift test` with errSecMissingEntitlement, and the test is skipped then).
final class KeychainSessionStorageTests: XCTestCase {
    private let environmentId = UUID().uuidString.lowercased()

    private func storage() throws -> KeychainSessionStorage {
        let storage = KeychainSessionStorage(environmentId: environmentId)
        do {
            try storage.delete(key: "probe")
        } catch StorageError.Failed(let detail) where detail.contains("-34018") {
            throw XCTSkip("the data-protection keychain needs a signed host here: \(detail)")
        }
        return storage
    }

    func testRoundTripOverwriteAndDelete() throws {
        let storage = try storage()
        let key = "dynamic_\(environmentId)_session"
        XCTAssertNil(try storage.get(key: key))
        try storage.set(key: key, value: #"{"version":1,"token":"first"}"#)
        XCTAssertEqual(try storage.get(key: key), #"{"version":1,"token":"first"}"#)
        try storage.set(key: key, value: "second ✓")  // add-or-update: the second set replaces
        XCTAssertEqual(try storage.get(key: key), "second ✓")
        try storage.delete(key: key)
        XCTAssertNil(try storage.get(key: key))
        try storage.delete(key: key)  // deleting a missing key succeeds
    }

    func testKeysAndEnvironmentsAreSeparate() throws {
        let storage = try storage()
        let other = KeychainSessionStorage(environmentId: UUID().uuidString.lowercased())
        try storage.set(key: "a", value: "1")
        try storage.set(key: "b", value: "2")
        XCTAssertEqual(try storage.get(key: "a"), "1")
        XCTAssertEqual(try storage.get(key: "b"), "2")
        XCTAssertNil(try other.get(key: "a"))
        try storage.delete(key: "a")
        try storage.delete(key: "b")
    }

    func testStatusesMapToTheStorageErrors() {
        let locked = KeychainSessionStorage.error(errSecInteractionNotAllowed, doing: "read", key: "k")
        guard case StorageError.Unavailable(let detail) = locked else {
            return XCTFail("errSecInteractionNotAllowed must be Unavailable, got \(locked)")
        }
        XCTAssertTrue(detail.contains("-25308"), detail)
        let other = KeychainSessionStorage.error(errSecDecode, doing: "read", key: "k")
        guard case StorageError.Failed = other else {
            return XCTFail("other statuses must be Failed, got \(other)")
        }
    }
}
