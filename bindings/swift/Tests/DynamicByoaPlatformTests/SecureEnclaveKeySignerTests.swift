import CryptoKit
import DynamicByoa
@testable import DynamicByoaPlatform
import XCTest

/// The signer against the real Keychain (software keys on the simulator, the Secure Enclave on a
/// device). Skipped where the data-protection keychain refuses an unsigned test host (macOS
/// `swift test`).
final class SecureEnclaveKeySignerTests: XCTestCase {
    private let signer = SecureEnclaveKeySigner()
    private let name = "dynamic_swift-tests_device_key_\(UUID().uuidString.lowercased())"

    override func tearDown() {
        try? signer.deleteKey(name: name)
    }

    private func key() throws -> String {
        do {
            return try signer.getOrCreateKey(name: name)
        } catch KeySignerError.Failed(let detail) where detail.contains("-34018") {
            throw XCTSkip("the data-protection keychain needs a signed host here: \(detail)")
        }
    }

    func testAKeyIsCreatedOnceAsACompressedPoint() throws {
        let first = try key()
        XCTAssertEqual(first.count, 66)
        XCTAssertTrue(first.hasPrefix("02") || first.hasPrefix("03"), first)
        XCTAssertEqual(first, first.lowercased())
        XCTAssertEqual(try signer.getOrCreateKey(name: name), first)
        XCTAssertEqual(try SecureEnclaveKeySigner().getOrCreateKey(name: name), first)
        #if targetEnvironment(simulator)
            XCTAssertFalse(signer.isHardwareBacked, "the simulator has no Secure Enclave")
        #endif
    }

    func testConcurrentFirstCallsGetOneKey() throws {
        _ = try key()
        try signer.deleteKey(name: name)
        let keys = Keys()
        let name = self.name
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            keys.add(try? SecureEnclaveKeySigner().getOrCreateKey(name: name))
        }
        XCTAssertEqual(keys.all.count, 8)
        XCTAssertEqual(Set(keys.all).count, 1, "\(keys.all)")
    }

    func testSignaturesAreDerAndVerifyUnderThePublicKey() throws {
        let publicHex = try key()
        let message = Data("a server nonce".utf8)
        let der = try signer.sign(name: name, message: message)
        XCTAssertEqual(der.first, 0x30, "X9.62 DER")
        if #available(iOS 16.0, macOS 13.0, *) {
            let publicKey = try P256.Signing.PublicKey(compressedRepresentation: Self.bytes(hex: publicHex))
            let signature = try P256.Signing.ECDSASignature(derRepresentation: der)
            XCTAssertTrue(publicKey.isValidSignature(signature, for: message))
            XCTAssertFalse(publicKey.isValidSignature(signature, for: Data("other".utf8)))
        }
    }

    func testDeletedKeysAreGoneAndDeletingTwiceSucceeds() throws {
        let first = try key()
        try signer.deleteKey(name: name)
        try signer.deleteKey(name: name)
        XCTAssertThrowsError(try signer.sign(name: name, message: Data([1]))) { error in
            guard case KeySignerError.NotFound = error else {
                return XCTFail("expected NotFound, got \(error)")
            }
        }
        XCTAssertNotEqual(try signer.getOrCreateKey(name: name), first)
    }

    private static func bytes(hex: String) -> Data {
        var data = Data()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            data.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return data
    }
}

/// Collects results from concurrent callers.
private final class Keys: @unchecked Sendable {
    // @unchecked: `values` is only touched under `lock`.
    private let lock = NSLock()
    private var values: [String] = []

    func add(_ key: String?) {
        guard let key else { return }
        lock.lock()
        values.append(key)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}
