package xyz.dynamic.byoa.android

import xyz.dynamic.byoa.KeySigner
import xyz.dynamic.byoa.KeySignerException
import xyz.dynamic.byoa.ktx.describe
import java.security.PrivateKey
import java.security.PublicKey
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.util.concurrent.ConcurrentHashMap

/**
 * Where the P-256 keys of [EcKeySigner] live: the Android Keystore on a device
 * ([AndroidKeystoreEcKeys]), the JDK in the JVM tests. Plain JVM code (no android.*).
 */
interface EcKeySource {
    /** The public key named [name], or null when there is none. */
    fun publicKey(name: String): PublicKey?
    /** Generates the key named [name] (never exported) and returns its public key. */
    fun generate(name: String): PublicKey
    /** The private key handle named [name] (for the Keystore, a reference, not the key), or null. */
    fun privateKey(name: String): PrivateKey?
    fun delete(name: String)
    /** The JCA provider to sign with (null: the default provider for the key). */
    val signatureProvider: String? get() = null
}

/**
 * A [KeySigner] over an [EcKeySource]: get-or-create is atomic per name (one lock per name),
 * signatures are `SHA256withECDSA` in DER (the core accepts DER), public keys go out compressed.
 * [KeyLockedException] is `Unavailable`; a missing key `NotFound`; anything else `Failed`.
 */
class EcKeySigner(private val keys: EcKeySource) : KeySigner {
    private val locks = ConcurrentHashMap<String, Any>()

    override fun getOrCreateKey(name: String): String = guarded {
        synchronized(locks.computeIfAbsent(name) { Any() }) {
            compressed(keys.publicKey(name) ?: keys.generate(name))
        }
    }

    override fun sign(name: String, message: ByteArray): ByteArray = guarded {
        val key = keys.privateKey(name) ?: throw KeySignerException.NotFound("no key named $name")
        val signature = keys.signatureProvider?.let { Signature.getInstance(ALGORITHM, it) } ?: Signature.getInstance(ALGORITHM)
        signature.initSign(key)
        signature.update(message)
        signature.sign()
    }

    override fun deleteKey(name: String) = guarded {
        synchronized(locks.computeIfAbsent(name) { Any() }) { keys.delete(name) }
    }

    override fun toString(): String = "EcKeySigner"

    private inline fun <T> guarded(block: () -> T): T = try {
        block()
    } catch (e: KeySignerException) {
        throw e
    } catch (e: KeyLockedException) {
        throw KeySignerException.Unavailable(e.describe())
    } catch (e: Throwable) {
        throw KeySignerException.Failed(e.describe())
    }

    companion object {
        const val ALGORITHM = "SHA256withECDSA"

        /** `02`/`03` and the 32-byte x coordinate, in hex: what the core expects. */
        fun compressed(key: PublicKey): String {
            val point = (key as? ECPublicKey ?: error("not an EC key: ${key.algorithm}")).w
            val x = point.affineX.toByteArray().let { raw ->
                when {
                    raw.size == 32 -> raw
                    raw.size > 32 -> raw.copyOfRange(raw.size - 32, raw.size)
                    else -> ByteArray(32 - raw.size) + raw
                }
            }
            return (if (point.affineY.testBit(0)) "03" else "02") + x.joinToString("") { "%02x".format(it) }
        }
    }
}
