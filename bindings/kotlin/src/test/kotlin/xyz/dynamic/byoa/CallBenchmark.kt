package xyz.dynamic.byoa

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import java.lang.management.ManagementFactory

/**
 * Per-call cost from Kotlin, printed as one line for scripts/bench.sh (run only with
 * -Dbyoa.bench=true): an exported async call with no I/O (`auth().restore()` once settled, the
 * call the Rust bench times as "the hop onto the library runtime and back") and a sync call
 * (`auth().state()`), with the JVM threads started meanwhile, the distinct threads the library's
 * callbacks ran on, and the bytes allocated per call (all threads).
 */
class CallBenchmark {
    @Test
    fun `per-call cost of an async and a sync call from Kotlin`() {
        assumeTrue(System.getProperty("byoa.bench") == "true", "a benchmark: run with -Dbyoa.bench=true (scripts/bench.sh)")
        val calls = Integer.getInteger("byoa.bench.calls", 2000)
        val threads = ManagementFactory.getThreadMXBean() as com.sun.management.ThreadMXBean
        fun allocated() = threads.getThreadAllocatedBytes(threads.allThreadIds).filter { it > 0 }.sum()
        // Storage makes the restore a real call through the library; the base URL is never used.
        val storage = MapStorage()
        DynamicClient(ClientConfig(environmentId = TestWorld.plainEnv, apiBaseUrl = "http://127.0.0.1:9/api/v0"),
            ClientDependencies(storage = storage)).use { client ->
            client.auth().use { auth ->
                runBlocking {
                    auth.restore()
                    fun median(samples: LongArray) = samples.sorted()[samples.size / 2] / 1000.0
                    fun p90(samples: LongArray) = samples.sorted()[samples.size * 9 / 10] / 1000.0
                    repeat(calls / 4) { auth.restore(); auth.state() } // warm-up (JIT)
                    val startedBefore = threads.totalStartedThreadCount
                    val callbackThreads = mutableSetOf<Long>()
                    val listener = auth.addListener(object : AuthListener {
                        override fun onStateChanged(state: AuthState) { synchronized(callbackThreads) { callbackThreads.add(Thread.currentThread().id) } }
                    })
                    val async = LongArray(calls)
                    var bytes = allocated()
                    for (i in 0 until calls) {
                        val t = System.nanoTime(); auth.restore(); async[i] = System.nanoTime() - t
                    }
                    val asyncBytes = (allocated() - bytes) / calls
                    val sync = LongArray(calls)
                    bytes = allocated()
                    for (i in 0 until calls) {
                        val t = System.nanoTime(); auth.state(); sync[i] = System.nanoTime() - t
                    }
                    val syncBytes = (allocated() - bytes) / calls
                    // An async call that makes one storage callback from a library thread: signing
                    // out while signed out deletes the (absent) stored record.
                    storage.threads.clear()
                    val callbacksBefore = storage.calls.get()
                    val withCallback = LongArray(calls)
                    bytes = allocated()
                    for (i in 0 until calls) {
                        val t = System.nanoTime(); auth.signOut(); withCallback[i] = System.nanoTime() - t
                    }
                    val callbackBytes = (allocated() - bytes) / calls
                    val storageCallbacks = storage.calls.get() - callbacksBefore
                    val started = threads.totalStartedThreadCount - startedBefore
                    listener.remove(); listener.close()
                    val attached = Thread.getAllStackTraces().keys.count { it.name == BYOA_CALLBACK_THREAD_NAME }
                    println(String.format(java.util.Locale.ROOT,
                        "KOTLIN-BENCH calls=%d async_median_us=%.1f async_p90_us=%.1f sync_median_us=%.1f sync_p90_us=%.1f " +
                            "async_alloc_bytes=%d sync_alloc_bytes=%d callback_median_us=%.1f callback_p90_us=%.1f callback_alloc_bytes=%d " +
                            "storage_callbacks=%d callback_threads=%d jvm_threads_started=%d attached_callback_threads=%d jvm=%s",
                        calls, median(async), p90(async), median(sync), p90(sync), asyncBytes, syncBytes,
                        median(withCallback), p90(withCallback), callbackBytes, storageCallbacks, storage.threads.size, started, attached,
                        System.getProperty("java.version")))
                }
            }
        }
    }
}
