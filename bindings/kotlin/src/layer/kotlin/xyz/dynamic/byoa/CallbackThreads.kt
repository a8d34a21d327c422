// Hand-written (not generated): called from the generated UniffiLib initialiser, which
// scripts/kotlin-postgen.sh makes call it before the library registers its callbacks.
package xyz.dynamic.byoa

import com.sun.jna.Callback
import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native
import com.sun.jna.Structure

/** Name of the Java threads that Rust threads become while they call into Kotlin. */
const val BYOA_CALLBACK_THREAD_NAME: String = "dynamic-byoa-callback"

/**
 * By default JNA attaches a Rust-owned thread to the JVM for one callback and detaches it
 * afterwards: every storage call, listener event, log line and async wake-up would run on a new
 * `java.lang.Thread`. Registering an initializer with `detach = false` keeps each Rust thread
 * attached (as one daemon thread) for its whole life. JNA reads the initializer when it first
 * turns a callback object into a native function pointer, so this must run before the vtables
 * are registered; `objects` are callback objects or vtable structures whose fields are callbacks.
 */
internal fun uniffiKeepCallbackThreadsAttached(vararg objects: Any) {
    val initializer = CallbackThreadInitializer(true, false, BYOA_CALLBACK_THREAD_NAME)
    for (item in objects) {
        when (item) {
            is Callback -> Native.setCallbackThreadInitializer(item, initializer)
            is Structure -> for (field in item.javaClass.fields) {
                if (Callback::class.java.isAssignableFrom(field.type)) {
                    (field.get(item) as Callback?)?.let { Native.setCallbackThreadInitializer(it, initializer) }
                }
            }
            else -> error("not a JNA callback or structure: ${item.javaClass.name}")
        }
    }
}
