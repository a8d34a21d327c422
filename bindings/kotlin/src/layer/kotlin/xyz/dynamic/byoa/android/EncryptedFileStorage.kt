package xyz.dynamic.byoa.android

import xyz.dynamic.byoa.SessionStorage
import xyz.dynamic.byoa.StorageException
import xyz.dynamic.byoa.ktx.describe
import java.io.File
import java.io.FileNotFoundException
import java.io.FileOutputStream
import java.io.IOException
import java.security.GeneralSecurityException
import java.security.MessageDigest
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Where the AES key of [EncryptedFileStorage] comes from: the Android Keystore on a device
 * ([AndroidKeystoreAesKey]), a JDK key in the JVM tests. Plain JVM code (no android.*), so the
 * storage's encryption, atomicity and error mapping are tested with the JDK's providers.
 */
interface AesKeySource {
    /** The key, created on first use. Throw [KeyLockedException] while it cannot be used yet. */
    fun key(): SecretKey

    /** False while the storage cannot be used at all (before the user's first unlock after boot). */
    fun available(): Boolean = true
}

/** The key store is locked or busy for now (device not yet unlocked, direct boot): retried later. */
class KeyLockedException(message: String, cause: Throwable? = null) : Exception(message, cause)

/**
 * A [SessionStorage] of AES-256-GCM-encrypted files, one per key, in [directory] (on Android the
 * app's `noBackupFilesDir`). Each file is `1 | IV (12 bytes) | ciphertext+tag`, with the storage
 * key as associated data (an entry copied under another key does not decrypt). A write goes to a
 * temporary file that is fsynced and renamed over the entry: one atomic replacement per key.
 * `Unavailable` while the key or the files cannot be used yet, `Failed` for a corrupt entry or an
 * I/O error; never a token in an error text.
 */
class EncryptedFileStorage(private val directory: File, private val keys: AesKeySource) : SessionStorage {
    private val lock = Any()

    override fun get(key: String): String? = guarded {
        val file = fileOf(key)
        val bytes = try { file.readBytes() } catch (_: FileNotFoundException) { return@guarded null }
        if (bytes.size < 1 + IV_BYTES + TAG_BYTES || bytes[0] != VERSION) throw StorageException.Failed("corrupt entry ${file.name}: bad header")
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, keys.key(), GCMParameterSpec(TAG_BYTES * 8, bytes, 1, IV_BYTES))
        cipher.updateAAD(key.toByteArray())
        val plain = try {
            cipher.doFinal(bytes, 1 + IV_BYTES, bytes.size - 1 - IV_BYTES)
        } catch (_: AEADBadTagException) {
            throw StorageException.Failed("corrupt entry ${file.name}: it does not decrypt (tampered, or the key was replaced)")
        }
        String(plain, Charsets.UTF_8)
    }

    override fun set(key: String, value: String) = guarded {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, keys.key()) // the provider picks the IV (the Keystore insists)
        cipher.updateAAD(key.toByteArray())
        val sealed = cipher.doFinal(value.toByteArray(Charsets.UTF_8))
        val iv = cipher.iv
        check(iv.size == IV_BYTES) { "unexpected GCM IV length ${iv.size}" }
        directory.mkdirs()
        val target = fileOf(key)
        val temp = File(directory, target.name + ".tmp")
        FileOutputStream(temp).use { out ->
            out.write(byteArrayOf(VERSION)); out.write(iv); out.write(sealed)
            out.fd.sync()
        }
        if (!temp.renameTo(target)) {
            temp.delete()
            throw IOException("could not replace ${target.name}")
        }
    }

    override fun delete(key: String) = guarded {
        val file = fileOf(key)
        if (file.exists() && !file.delete()) throw IOException("could not delete ${file.name}")
    }

    override fun toString(): String = "EncryptedFileStorage(${directory.name})"

    /** File names are a hash of the key: keys may hold any character, names must not. */
    private fun fileOf(key: String): File {
        val digest = MessageDigest.getInstance("SHA-256").digest(key.toByteArray())
        return File(directory, digest.joinToString("", limit = 20, truncated = "") { "%02x".format(it) } + ".bin")
    }

    private inline fun <T> guarded(block: () -> T): T = synchronized(lock) {
        if (!keys.available()) throw StorageException.Unavailable("the secure store is not available until the user unlocks the device")
        try {
            block()
        } catch (e: StorageException) {
            throw e
        } catch (e: KeyLockedException) {
            throw StorageException.Unavailable(e.describe())
        } catch (e: GeneralSecurityException) {
            throw StorageException.Failed(e.describe())
        } catch (e: Throwable) {
            throw StorageException.Failed(e.describe())
        }
    }

    private companion object {
        const val VERSION: Byte = 1
        const val IV_BYTES = 12
        const val TAG_BYTES = 16
        const val TRANSFORMATION = "AES/GCM/NoPadding"
    }
}
