package xyz.dynamic.byoa.reactnative

import android.content.Context
import com.facebook.react.bridge.Arguments
import com.facebook.react.bridge.WritableMap
import okhttp3.OkHttpClient
import org.json.JSONArray
import org.json.JSONObject
import xyz.dynamic.byoa.ClientConfig
import xyz.dynamic.byoa.LogLevel
import xyz.dynamic.byoa.Logger
import xyz.dynamic.byoa.android.DynamicByoaAndroid
import xyz.dynamic.byoa.ktx.ByoaClient
import xyz.dynamic.byoa.ktx.DynamicByoa

/**
 * What the module takes from the device, behind one seam: the JVM tests cannot use the Android
 * Keystore (Robolectric has none) nor React Native's native maps (`Arguments.createMap` needs the
 * C++ runtime), so they pass their own; the app gets [AndroidPlatform].
 */
internal interface ModulePlatform {
    /** A client over the platform's secure storage, device keys and HTTP stack. */
    fun createClient(config: ClientConfig): ByoaClient

    /** A JavaScript object from plain values: String, Number, Boolean, null, Map and List of those. */
    fun map(values: Map<String, Any?>): WritableMap

    /** The core's process-wide logger (null: none), here so that tests see what the module installs. */
    fun setLogger(logger: Logger?, level: LogLevel)
}

/**
 * Where the spec's events go. The generated `emitOn...` methods call a native `CxxCallbackImpl`
 * that the TurboModule system installs, so the tests observe emissions here instead.
 */
internal interface ModuleEvents {
    fun authStateChanged(event: WritableMap)

    fun log(event: WritableMap)
}

/**
 * The app's platform: Keystore-encrypted session files, Keystore device keys, OkHttp. One
 * OkHttpClient for all the module's clients, so they share its connection pool and threads
 * (`DynamicByoaAndroid.createClient` would make one per client otherwise).
 */
internal class AndroidPlatform(private val context: Context) : ModulePlatform {
    private val http by lazy { OkHttpClient() }

    override fun createClient(config: ClientConfig): ByoaClient =
        DynamicByoaAndroid.createClient(context, config, okHttpClient = http)

    override fun map(values: Map<String, Any?>): WritableMap = Arguments.makeNativeMap(values)

    override fun setLogger(logger: Logger?, level: LogLevel) = DynamicByoa.setLogger(logger, level)
}

/** A JSON object text (the Rust bridge's `userInfoJson`) as plain values for [ModulePlatform.map]. */
internal fun jsonObjectValues(text: String): Map<String, Any?> = JSONObject(text).values()

private fun JSONObject.values(): Map<String, Any?> = keys().asSequence().associateWith { plain(get(it)) }

private fun plain(value: Any?): Any? = when (value) {
    JSONObject.NULL -> null
    is JSONObject -> value.values()
    is JSONArray -> (0 until value.length()).map { plain(value.get(it)) }
    else -> value
}
