import CryptoKit
import Foundation

/// A throw-away external auth provider: an ES256 key, its JWKS, and JWTs signed with it.
struct TestIssuer {
    let issuer: String
    let kid = "swift-test-key"
    private let key = P256.Signing.PrivateKey()

    init(issuer: String = "https://issuer.swift-tests.invalid/") {
        self.issuer = issuer
    }

    /// The JWKS document the emulator fetches: one P-256 public key.
    var jwks: Data {
        let point = key.publicKey.rawRepresentation  // x || y, 32 bytes each
        let jwk: [String: String] = [
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": Self.base64url(point.prefix(32)), "y": Self.base64url(point.suffix(32)),
        ]
        return try! JSONSerialization.data(withJSONObject: ["keys": [jwk]], options: [.sortedKeys])
    }

    /// An ES256 JWT for `subject`, valid for `lifetime` seconds from now.
    func jwt(subject: String, lifetime: TimeInterval = 600) throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        let header: [String: Any] = ["alg": "ES256", "typ": "JWT", "kid": kid]
        let claims: [String: Any] = [
            "iss": issuer, "sub": subject, "iat": now, "exp": now + Int(lifetime),
        ]
        let signingInput =
            Self.base64url(try JSONSerialization.data(withJSONObject: header)) + "."
            + Self.base64url(try JSONSerialization.data(withJSONObject: claims))
        let signature = try key.signature(for: Data(signingInput.utf8))
        return signingInput + "." + Self.base64url(signature.rawRepresentation)
    }

    static func base64url<D: DataProtocol>(_ bytes: D) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
