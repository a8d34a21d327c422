// The Android part of the README quick start: compiled against the Android API (android-all),
// never run (no Android runtime on the JVM). ReadmeTest checks the README shows it verbatim.
package xyz.dynamic.byoa

import android.content.Context
import xyz.dynamic.byoa.android.DynamicByoaAndroid
import xyz.dynamic.byoa.ktx.ByoaClient

// android:begin
/** In Application.onCreate: one client for the app's life. */
fun createDynamicClient(context: Context): ByoaClient =
    DynamicByoaAndroid.createClient(
        context,
        ClientConfig(environmentId = "2762a57b-faa4-41ce-9f16-abff9300e2c9"),
        // jwtProvider = ..., okHttpClient = yourOkHttpClient,
    ) // Keystore-encrypted session, Keystore device keys (StrongBox when present), OkHttp
// android:end
