package xyz.dynamic.byoa.ktx

import kotlinx.coroutines.CancellationException
import xyz.dynamic.byoa.AuthListener
import xyz.dynamic.byoa.AuthState
import xyz.dynamic.byoa.ExternalJwtProvider
import xyz.dynamic.byoa.HttpException
import xyz.dynamic.byoa.HttpRequest
import xyz.dynamic.byoa.HttpResponse
import xyz.dynamic.byoa.HttpTransport
import xyz.dynamic.byoa.KeySigner
import xyz.dynamic.byoa.KeySignerException
import xyz.dynamic.byoa.LogLevel
import xyz.dynamic.byoa.Logger
import xyz.dynamic.byoa.ProviderException
import xyz.dynamic.byoa.SessionStorage
import xyz.dynamic.byoa.SignInWithExternalJwtParams
import xyz.dynamic.byoa.StorageException

// The app's own implementations of the ports, wrapped so that whatever they throw reaches Rust as
// the port's typed error. The generated code catches only kotlin.Exception (an Error such as
// TODO()'s NotImplementedError escapes into JNA and comes back as a garbled buffer error) and
// sends an unexpected exception's whole stack trace as the error text. Here every Throwable
// becomes the port's `Failed`/`Other` variant naming its class and message, nothing more. A
// listener or a logger that throws is isolated: the throw is dropped, it stays registered.

/** `java.lang.IllegalStateException: the message`, never a stack trace. */
internal fun Throwable.describe(): String {
    val text = try { message } catch (_: Throwable) { null }
    return if (text.isNullOrEmpty()) javaClass.name else "${javaClass.name}: $text"
}

private inline fun <T> storageCall(block: () -> T): T = try {
    block()
} catch (e: StorageException) {
    throw e
} catch (e: Throwable) {
    throw StorageException.Failed(e.describe())
}

private inline fun <T> signerCall(block: () -> T): T = try {
    block()
} catch (e: KeySignerException) {
    throw e
} catch (e: Throwable) {
    throw KeySignerException.Failed(e.describe())
}

/** Wraps an app's [SessionStorage]; an already guarded one is returned as is. */
fun SessionStorage.guarded(): SessionStorage = this as? GuardedStorage ?: GuardedStorage(this)

internal class GuardedStorage(private val inner: SessionStorage) : SessionStorage {
    override fun get(key: String): String? = storageCall { inner.get(key) }
    override fun set(key: String, value: String) = storageCall { inner.set(key, value) }
    override fun delete(key: String) = storageCall { inner.delete(key) }
    override fun toString(): String = "guarded(${safeToString(inner)})"
}

fun KeySigner.guarded(): KeySigner = this as? GuardedSigner ?: GuardedSigner(this)

internal class GuardedSigner(private val inner: KeySigner) : KeySigner {
    override fun getOrCreateKey(name: String): String = signerCall { inner.getOrCreateKey(name) }
    override fun sign(name: String, message: ByteArray): ByteArray = signerCall { inner.sign(name, message) }
    override fun deleteKey(name: String) = signerCall { inner.deleteKey(name) }
    override fun toString(): String = "guarded(${safeToString(inner)})"
}

fun HttpTransport.guarded(): HttpTransport = this as? GuardedTransport ?: GuardedTransport(this)

internal class GuardedTransport(private val inner: HttpTransport) : HttpTransport {
    override suspend fun send(request: HttpRequest): HttpResponse = try {
        inner.send(request)
    } catch (e: HttpException) {
        throw e
    } catch (e: CancellationException) {
        throw e // the client dropped the call: the coroutine must end as cancelled
    } catch (e: Throwable) {
        throw HttpException.Other(e.describe())
    }
    override fun toString(): String = "guarded(${safeToString(inner)})"
}

fun ExternalJwtProvider.guarded(): ExternalJwtProvider = this as? GuardedProvider ?: GuardedProvider(this)

internal class GuardedProvider(private val inner: ExternalJwtProvider) : ExternalJwtProvider {
    override suspend fun fetchExternalJwt(): SignInWithExternalJwtParams = try {
        inner.fetchExternalJwt()
    } catch (e: ProviderException) {
        throw e
    } catch (e: CancellationException) {
        throw e
    } catch (e: Throwable) {
        throw ProviderException.Failed(e.describe())
    }
    override fun toString(): String = "guarded(${safeToString(inner)})"
}

fun AuthListener.guarded(): AuthListener = this as? GuardedListener ?: GuardedListener(this)

internal class GuardedListener(private val inner: AuthListener) : AuthListener {
    override fun onStateChanged(state: AuthState) {
        try {
            inner.onStateChanged(state)
        } catch (_: Throwable) {
            // Isolated: this event is skipped for this listener, which stays registered.
        }
    }
    override fun toString(): String = "guarded(${safeToString(inner)})"
}

fun Logger.guarded(): Logger = this as? GuardedLogger ?: GuardedLogger(this)

internal class GuardedLogger(private val inner: Logger) : Logger {
    override fun log(level: LogLevel, target: String, message: String) {
        try {
            inner.log(level, target, message)
        } catch (_: Throwable) {
            // Isolated: a logger that throws loses that line, nothing else.
        }
    }
    override fun toString(): String = "guarded(${safeToString(inner)})"
}

internal fun safeToString(value: Any?): String = try {
    value.toString()
} catch (e: Throwable) {
    "${value?.javaClass?.name}(toString threw ${e.javaClass.name})"
}
