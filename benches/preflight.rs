//! Item 1 of the benchmarks: what the on-device preflight costs per external JWT, before any
//! network call. `scripts/bench.sh` runs it (`cargo bench --bench preflight`) and reads the
//! medians criterion leaves in `target/criterion/preflight/*`.
//!
//! The preflight never checks a signature, so the tokens here carry random bytes of the right
//! length where an RS256 signature would be; everything it reads (shape, header, claims) is real.
//!
//! * typical: an Auth0-style RS256 ID token, about 1 KiB;
//! * large: the same with a long permission list and app metadata, about 12 KiB (the limit is
//!   16 KiB).

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynamic_byoa::preflight::{self, Expectations};
use serde_json::{Value, json};

const SUB: &str = "auth0|65f1c0ffee5ca1ab1e000042";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn typical_claims(now: i64) -> Value {
    json!({
        "iss": "https://example-tenant.us.auth0.com/",
        "sub": SUB,
        "aud": ["https://api.example.com", "https://example-tenant.us.auth0.com/userinfo"],
        "iat": now,
        "exp": now + 3600,
        "azp": "Jx9yK2mQ8vR4tL6wP1sD3fG5hJ7kZ0aB",
        "scope": "openid profile email offline_access",
        "nickname": "ada",
        "name": "Ada Lovelace",
        "picture": "https://s.gravatar.com/avatar/0123456789abcdef0123456789abcdef?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fal.png",
        "updated_at": "2026-11-20T09:12:44.123Z",
        "email": "ada@example.com",
        "email_verified": true,
        "sid": "n3QxV0m2b7cK1zR8yT5wU4pL6sA9dF2g",
    })
}

fn large_claims(now: i64) -> Value {
    let mut claims = typical_claims(now);
    claims["permissions"] = (0..180)
        .map(|i| {
            format!(
                "org:{:04}:projects:{}",
                i / 6,
                ["read", "write", "admin"][i % 3]
            )
        })
        .collect();
    claims["https://app.example.com/metadata"] = json!({
        "plan": "enterprise",
        "regions": ["eu-west-1", "us-east-1", "ap-southeast-2"],
        "features": (0..60).map(|i| format!("feature-flag-{i:03}")).collect::<Vec<_>>(),
        "devices": (0..12).map(|i| json!({"id": format!("dev-{i:04}"), "platform": "ios", "lastSeen": now - i * 3600})).collect::<Vec<_>>(),
    });
    claims
}

/// `header.payload.signature` with a 256-byte stand-in signature (RS256 with a 2048-bit key).
fn token(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "Zx1cV2bN3mQ4wE5rT6yU7iO8pA"});
    let signature: Vec<u8> = (0..256u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn bench(c: &mut Criterion) {
    let now = now();
    let expect = Expectations {
        external_user_id: Some(SUB),
        now,
        leeway_seconds: preflight::DEFAULT_LEEWAY_SECONDS,
    };
    let mut group = c.benchmark_group("preflight");
    for (name, claims) in [
        ("typical", typical_claims(now)),
        ("large", large_claims(now)),
    ] {
        let jwt = token(&claims);
        assert!(
            jwt.len() <= preflight::MAX_JWT_BYTES,
            "{name}: {} bytes",
            jwt.len()
        );
        preflight::check(&jwt, expect).expect("the bench token passes the preflight");
        group.throughput(Throughput::Bytes(jwt.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| preflight::check(black_box(&jwt), black_box(expect)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
