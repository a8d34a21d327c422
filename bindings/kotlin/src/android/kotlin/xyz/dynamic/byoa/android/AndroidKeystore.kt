package xyz.dynamic.byoa.android

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.os.UserManager
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.KeyStoreException
import java.security.PrivateKey
import java.security.ProviderException
import java.security.PublicKey
import java.security.spec.ECGenParameterSpec
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey

private const val ANDROID_KEYSTORE = "AndroidKeyStore"

private fun keyStore(): KeyStore = try {
    KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
} catch (e: KeyStoreException) {
    throw KeyLockedException("the Android Keystore cannot be opened", e)
}

private fun hasStrongBox(context: Context): Boolean =
    Build.VERSION.SDK_INT >= 28 && context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

/**
 * The AES-256-GCM key of [EncryptedFileStorage], generated in the Android Keystore (StrongBox when
 * present), never exported, usable without user authentication (background refresh).
 * Unavailable until the user has unlocked the device once after boot (direct boot).
 */
class AndroidKeystoreAesKey(private val context: Context, private val alias: String = "dynamic_byoa_storage_key") : AesKeySource {
    @Synchronized
    override fun key(): SecretKey {
        val store = keyStore()
        (store.getKey(alias, null) as SecretKey?)?.let { return it }
        fun spec(strongBox: Boolean) = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .setUserAuthenticationRequired(false)
            .apply { if (strongBox) setIsStrongBoxBacked(true) }
            .build()
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        return try {
            generator.init(spec(hasStrongBox(context))); generator.generateKey()
        } catch (e: StrongBoxUnavailableException) {
            generator.init(spec(false)); generator.generateKey()
        }
    }

    override fun available(): Boolean = context.getSystemService(UserManager::class.java)?.isUserUnlocked ?: true
}

/**
 * P-256 keys in the Android Keystore for [EcKeySigner]: StrongBox when the device has one,
 * `SHA256withECDSA`, no user authentication (the client signs during background refreshes).
 */
class AndroidKeystoreEcKeys(private val context: Context) : EcKeySource {
    override fun publicKey(name: String): PublicKey? = keyStore().getCertificate(name)?.publicKey

    override fun generate(name: String): PublicKey {
        fun spec(strongBox: Boolean) = KeyGenParameterSpec.Builder(name, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setUserAuthenticationRequired(false)
            .apply { if (strongBox) setIsStrongBoxBacked(true) }
            .build()
        val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEYSTORE)
        return try {
            generator.initialize(spec(hasStrongBox(context))); generator.generateKeyPair().public
        } catch (e: StrongBoxUnavailableException) {
            generator.initialize(spec(false)); generator.generateKeyPair().public
        } catch (e: ProviderException) {
            throw KeyLockedException("the Android Keystore could not generate a key", e)
        }
    }

    override fun privateKey(name: String): PrivateKey? = keyStore().getKey(name, null) as PrivateKey?

    override fun delete(name: String) {
        val store = keyStore()
        if (store.containsAlias(name)) store.deleteEntry(name)
    }
}
