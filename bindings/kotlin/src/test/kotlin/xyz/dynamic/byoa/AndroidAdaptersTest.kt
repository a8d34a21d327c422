package xyz.dynamic.byoa

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import xyz.dynamic.byoa.TestWorld.issuer
import xyz.dynamic.byoa.android.AesKeySource
import xyz.dynamic.byoa.android.EcKeySigner
import xyz.dynamic.byoa.android.EcKeySource
import xyz.dynamic.byoa.android.EncryptedFileStorage
import xyz.dynamic.byoa.android.KeyLockedException
import xyz.dynamic.byoa.ktx.DynamicByoa
import xyz.dynamic.byoa.okhttp.OkHttpTransport
import java.io.File
import java.security.KeyPair
import java.security.PrivateKey
import java.security.PublicKey
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey

/**
 * The Android adapters on the JVM. The Android Keystore does not exist here (nor under
 * Robolectric), so the keys come from FAKE key sources on the JDK's providers; everything else
 * (encryption format, atomic writes, error mapping, the signer's atomicity) is the shipped code.
 */
class AndroidAdaptersTest {
    /** FAKE of AndroidKeystoreAesKey: a JDK AES-256 key; can be made locked or unavailable. */
    class FakeKeystoreAesKey : AesKeySource {
        val secret: SecretKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        @Volatile var locked = false
        @Volatile var unlockedOnce = true
        override fun key(): SecretKey = if (locked) throw KeyLockedException("keystore busy") else secret
        override fun available() = unlockedOnce
    }

    /** FAKE of AndroidKeystoreEcKeys: JDK P-256 key pairs in memory, counting generations. */
    class FakeKeystoreEcKeys : EcKeySource {
        val pairs = ConcurrentHashMap<String, KeyPair>()
        val generated = AtomicInteger()
        override fun publicKey(name: String): PublicKey? = pairs[name]?.public
        override fun generate(name: String): PublicKey {
            generated.incrementAndGet()
            Thread.yield()
            return JdkIssuer.generateP256().also { pairs[name] = it }.public
        }
        override fun privateKey(name: String): PrivateKey? = pairs[name]?.private
        override fun delete(name: String) { pairs.remove(name) }
    }

    @TempDir lateinit var dir: File

    @Test
    fun `values are stored encrypted, bound to their key, and read back`() {
        val storage = EncryptedFileStorage(dir, FakeKeystoreAesKey())
        val secret = "{\"token\":\"eyJhbGciOi.secret-value\"}"
        assertNull(storage.get("a"))
        storage.set("a", secret)
        storage.set("b", "other")
        assertEquals(secret, storage.get("a"))
        val files = dir.listFiles()!!.filter { it.name.endsWith(".bin") }
        assertEquals(2, files.size)
        for (file in files) assertFalse(String(file.readBytes(), Charsets.ISO_8859_1).contains("secret-value"))
        // An entry copied under another key does not decrypt: the key is the associated data.
        val a = files.first { it.readBytes().size > 40 }
        files.first { it != a }.writeBytes(a.readBytes())
        assertInstanceOf(StorageException.Failed::class.java, runCatching { storage.get("b") }.exceptionOrNull())
        storage.delete("a"); storage.delete("a")
        assertNull(storage.get("a"))
    }

    @Test
    fun `a corrupt or truncated entry is Failed, never a crash or a wrong value`() {
        val storage = EncryptedFileStorage(dir, FakeKeystoreAesKey())
        storage.set("k", "value")
        val file = dir.listFiles()!!.single { it.name.endsWith(".bin") }
        val bytes = file.readBytes()
        file.writeBytes(bytes.copyOf().also { it[it.size - 3] = (it[it.size - 3].toInt() xor 1).toByte() })
        val flipped = assertThrows<StorageException.Failed> { storage.get("k") }
        assertTrue(flipped.detail.contains("does not decrypt"), flipped.detail)
        file.writeBytes(bytes.copyOf(10))
        assertThrows<StorageException.Failed> { storage.get("k") }
    }

    @Test
    fun `a locked keystore or a device not yet unlocked is Unavailable`() {
        val key = FakeKeystoreAesKey()
        val storage = EncryptedFileStorage(dir, key)
        storage.set("k", "v")
        key.locked = true
        assertEquals("xyz.dynamic.byoa.android.KeyLockedException: keystore busy", assertThrows<StorageException.Unavailable> { storage.get("k") }.detail)
        key.locked = false
        key.unlockedOnce = false
        assertThrows<StorageException.Unavailable> { storage.set("k", "w") }
        key.unlockedOnce = true
        assertEquals("v", storage.get("k"))
    }

    @Test
    fun `concurrent writes each replace the entry atomically and leave no temporary file`() {
        val storage = EncryptedFileStorage(dir, FakeKeystoreAesKey())
        val pool = Executors.newFixedThreadPool(8)
        val start = CountDownLatch(1)
        val values = (0 until 64).map { "value-$it-" + "x".repeat(it * 10) }
        values.forEach { v -> pool.execute { start.await(); storage.set("k", v) } }
        start.countDown()
        pool.shutdown()
        assertTrue(pool.awaitTermination(20, TimeUnit.SECONDS))
        assertTrue(storage.get("k") in values)
        assertEquals(listOf(".bin"), dir.listFiles()!!.map { it.name.substring(it.name.lastIndexOf('.')) })
    }

    @Test
    fun `get-or-create is atomic per name and signatures verify as SHA256withECDSA`() {
        val keys = FakeKeystoreEcKeys()
        val signer = EcKeySigner(keys)
        val pool = Executors.newFixedThreadPool(8)
        val results = (0 until 16).map { pool.submit<String> { signer.getOrCreateKey("device") } }.map { it.get(20, TimeUnit.SECONDS) }
        pool.shutdown()
        assertEquals(1, results.toSet().size)
        assertEquals(1, keys.generated.get())
        assertEquals(66, results[0].length)
        val signature = signer.sign("device", "nonce".toByteArray())
        assertTrue(java.security.Signature.getInstance("SHA256withECDSA").run {
            initVerify(keys.pairs.getValue("device").public); update("nonce".toByteArray()); verify(signature)
        })
        assertThrows<KeySignerException.NotFound> { signer.sign("missing", byteArrayOf(1)) }
        signer.deleteKey("device"); signer.deleteKey("device")
        assertThrows<KeySignerException.NotFound> { signer.sign("device", byteArrayOf(1)) }
    }

    @Test
    fun `the adapters together, over OkHttp, sign in bound to device keys and restore after a restart`() = bounded {
        val aes = FakeKeystoreAesKey()
        val keys = FakeKeystoreEcKeys()
        fun client() = DynamicByoa.createClient(TestWorld.config(TestWorld.boundEnv), storage = EncryptedFileStorage(dir, aes),
            keySigner = EcKeySigner(keys), httpTransport = OkHttpTransport())
        val user = TestWorld.newUser()
        val session = client().use { it.auth.external.signInWithExternalJwt(params(issuer.mint(user), user)) }
        client().use { again ->
            assertEquals(AuthState.SignedIn(session), again.auth.restore())
            assertEquals(session.user.userId, again.auth.refresh().user.userId) // a device-signed refresh
        }
    }
}
