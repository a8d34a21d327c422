// The Kotlin quick start of bindings/kotlin/README.md: each README code block is a verbatim
// excerpt of this file (ReadmeTest checks it) and this file is compiled and run by the suite.
package xyz.dynamic.byoa

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.transformWhile
import kotlinx.coroutines.launch
import xyz.dynamic.byoa.ktx.ByoaClient

// quickstart:begin
/** Signs in with the provider's JWT, calls the app's backend, signs out; returns what it saw. */
suspend fun quickStart(client: ByoaClient, providerJwt: String, providerUserId: String, scope: CoroutineScope): List<String> {
    val seen = mutableListOf<String>()
    // Observe: AuthState as a StateFlow (Restoring, SignedIn, SignedOut, StorageUnavailable),
    // here until the user signs out; in an app, for the life of the ViewModel.
    val observer = scope.launch {
        client.auth.stateFlow.transformWhile { emit(it); !(it is AuthState.SignedOut && it.reason != null) }.collect { state ->
            when (state) {
                is AuthState.SignedIn -> seen += "signed in as ${state.session.user.externalUserId}"
                is AuthState.SignedOut -> seen += "signed out (${state.reason})"
                is AuthState.StorageUnavailable -> seen += "store locked: ${state.error.message}"
                AuthState.Restoring -> seen += "restoring"
            }
        }
    }
    try {
        val session = client.auth.external.signInWithExternalJwt(
            SignInWithExternalJwtParams(externalJwt = providerJwt, externalUserId = providerUserId),
        )
        val bearer = client.auth.accessToken() // fresh for at least 60 s: send it to your backend
        check(bearer.isNotEmpty() && session.expiresAtMs > System.currentTimeMillis())
    } catch (e: ByoaException) {
        when (e.category()) {
            ErrorCategory.NETWORK, ErrorCategory.RETRY_LATER -> seen += "retry later: ${e.message}"
            else -> seen += "failed: ${e.code()}: ${e.message}" // e.message is the human text
        }
    }
    client.auth.signOut()
    observer.join()
    return seen
}
// quickstart:end
