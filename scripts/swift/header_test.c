/* The Swift package's C module (bindings/swift/Sources/DynamicByoaFFI/include/DynamicByoaFFI.h)
 * against the host build of the library: compiled with the system C compiler and linked to
 * target/debug/libdynamic_byoa.so, it calls through the header what the generated Swift calls,
 * so a header that disagrees with the library (a missing symbol, another contract version, a
 * changed signature that breaks the call) fails here rather than in an iOS build.
 * Built and run by scripts/test-swift.sh, which passes -DEXPECTED_CONTRACT_VERSION (the number the
 * generated Swift checks at load time). */
#include "DynamicByoaFFI.h"

#include <stdio.h>
#include <string.h>

#ifndef EXPECTED_CONTRACT_VERSION
#error "pass -DEXPECTED_CONTRACT_VERSION=<the generated Swift's bindings_contract_version>"
#endif

static int passed = 0, failed = 0;

static void check(int ok, const char *what) {
    printf("header test: %s: %s\n", ok ? "ok" : "FAILED", what);
    if (ok) passed++; else failed++;
}

/* A String argument crosses as a RustBuffer of its UTF-8 bytes, allocated by the library. */
static RustBuffer string_buffer(const char *text) {
    RustCallStatus status = {0};
    ForeignBytes bytes = {(int32_t)strlen(text), (const uint8_t *)text};
    RustBuffer buffer = ffi_dynamic_byoa_rustbuffer_from_bytes(bytes, &status);
    if (status.code != 0) check(0, "rustbuffer_from_bytes");
    return buffer;
}

int main(void) {
    check(ffi_dynamic_byoa_uniffi_contract_version() == EXPECTED_CONTRACT_VERSION,
          "the library's uniffi contract version is the generated Swift's");

    /* memory_storage() -> SessionStorage, then set / get / delete through the trait's methods. */
    RustCallStatus status = {0};
    uint64_t storage = uniffi_dynamic_byoa_fn_func_memory_storage(&status);
    check(status.code == 0 && storage != 0, "memory_storage() returns a handle");

    uniffi_dynamic_byoa_fn_method_sessionstorage_set(
        uniffi_dynamic_byoa_fn_clone_sessionstorage(storage, &status), string_buffer("key"),
        string_buffer("value"), &status);
    check(status.code == 0, "SessionStorage.set(key, value)");

    RustBuffer got = uniffi_dynamic_byoa_fn_method_sessionstorage_get(
        uniffi_dynamic_byoa_fn_clone_sessionstorage(storage, &status), string_buffer("key"), &status);
    /* Option<String> serialised: tag 1, big-endian i32 length, the bytes. */
    static const uint8_t expected[] = {1, 0, 0, 0, 5, 'v', 'a', 'l', 'u', 'e'};
    check(status.code == 0 && got.len == sizeof expected && got.data != NULL &&
              memcmp(got.data, expected, sizeof expected) == 0,
          "SessionStorage.get(key) returns Some(\"value\")");
    ffi_dynamic_byoa_rustbuffer_free(got, &status);

    uniffi_dynamic_byoa_fn_method_sessionstorage_delete(
        uniffi_dynamic_byoa_fn_clone_sessionstorage(storage, &status), string_buffer("key"), &status);
    got = uniffi_dynamic_byoa_fn_method_sessionstorage_get(
        uniffi_dynamic_byoa_fn_clone_sessionstorage(storage, &status), string_buffer("key"), &status);
    check(status.code == 0 && got.len == 1 && got.data != NULL && got.data[0] == 0,
          "after delete, get(key) returns None");
    ffi_dynamic_byoa_rustbuffer_free(got, &status);

    uniffi_dynamic_byoa_fn_free_sessionstorage(storage, &status);
    check(status.code == 0, "free the handle");

    printf("header test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
