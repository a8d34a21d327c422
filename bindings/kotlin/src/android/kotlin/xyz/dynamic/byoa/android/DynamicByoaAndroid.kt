package xyz.dynamic.byoa.android

import android.content.Context
import okhttp3.OkHttpClient
import xyz.dynamic.byoa.ClientConfig
import xyz.dynamic.byoa.ExternalJwtProvider
import xyz.dynamic.byoa.ktx.ByoaClient
import xyz.dynamic.byoa.ktx.DynamicByoa
import xyz.dynamic.byoa.okhttp.OkHttpTransport
import java.io.File

/**
 * The common case in one call: the session in Keystore-encrypted files under `noBackupFilesDir`,
 * device keys in the Android Keystore (StrongBox when present), HTTP through OkHttp (pass the
 * app's own client to share its pool, proxy and interceptors; redirects and retries are turned
 * off on a copy of it).
 */
object DynamicByoaAndroid {
    @JvmStatic
    @JvmOverloads
    fun createClient(
        context: Context,
        config: ClientConfig,
        jwtProvider: ExternalJwtProvider? = null,
        okHttpClient: OkHttpClient = OkHttpClient(),
    ): ByoaClient {
        val app = context.applicationContext ?: context
        return DynamicByoa.createClient(
            config,
            storage = EncryptedFileStorage(File(app.noBackupFilesDir, "dynamic-byoa"), AndroidKeystoreAesKey(app)),
            keySigner = EcKeySigner(AndroidKeystoreEcKeys(app)),
            jwtProvider = jwtProvider,
            httpTransport = OkHttpTransport(okHttpClient),
        )
    }
}
