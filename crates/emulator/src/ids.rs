//! Random identifiers: Dynamic ids are lowercase UUIDs (v4 layout), nonces and key ids are hex.

use dynamic_byoa_contract::device::encode_hex as to_hex;
use rand::RngCore;
use rand::rngs::OsRng;

/// A random lowercase UUID with the version-4 and RFC 4122 variant bits set.
pub(crate) fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = to_hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `len` random bytes as lowercase hex (`2 * len` characters).
pub(crate) fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    OsRng.fill_bytes(&mut bytes);
    to_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynamic_byoa_contract::paths::is_environment_id;

    #[test]
    fn random_uuids_are_lowercase_v4_and_distinct() {
        let a = random_uuid();
        let b = random_uuid();
        // The environment-id pattern is exactly "lowercase UUID".
        assert!(is_environment_id(&a), "{a}");
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn random_hex_has_two_characters_per_byte() {
        let hex = random_hex(16);
        assert_eq!(hex.len(), 32);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
