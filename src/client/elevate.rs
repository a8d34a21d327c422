//! Step-up: the assertion exchanged for an elevated access token, kept with its session.

use super::*;

impl Core {
    /// `POST externalAuth/verify` with the session bearer and a fresh assertion from the app's
    /// provider (contract §4.9). The assertion is checked on the device first, like a sign-in JWT
    /// plus `scope` and `jti`, and its `sub` must be the signed-in external user. The elevated
    /// token is checked against the environment's keys and kept with the session.
    pub async fn verify_with_external_jwt(
        &self,
        params: VerifyWithExternalJwtParams,
    ) -> Result<ElevatedAccess, Error> {
        let session = self.usable_session().await?;
        let generation = self.lifecycle.generation().ok_or(Error::NotSignedIn)?;
        let external_user = session.profile.user.external_user_id.clone();
        let leeway = self.settings.leeway_seconds;
        let body = self
            .on_server_clock(|now| {
                step_up::assertion_body(&params, external_user.as_deref(), now, leeway)
            })
            .await?;
        // The same session, refreshed if its bearer is about to expire: the assertion was
        // checked against this session's user.
        let session = self.fresh_session(STEP_UP_MIN_TTL, false).await?;
        self.still_current(generation)?;
        let reply = self
            .transport
            // Like every request while a session key is held (contract §1.2).
            .with_headers(session_key_header(session.session_key.as_ref()))
            .post_json::<_, ExternalAuthAssertionResponse>(
                paths::EXTERNAL_AUTH_VERIFY,
                &body,
                Some(session.bearer()),
            )
            .await
            // A session that ended meanwhile explains a refusal (its bearer was revoked): say so.
            .map_err(|error| self.still_current(generation).err().unwrap_or(error))?;
        self.learn_server_time(reply.server_offset);
        let token = reply.body.elevated_access_token;
        let claims = step_up::read_claims(
            &token,
            &self.settings.environment_id,
            session.user_id(),
            self.server_now(),
        )?;
        // A sign-out (or any end of the session) while the request was in flight wins: the
        // token is not kept, and the app hears that the session changed.
        self.still_current(generation)?;
        let granted = self.elevated.keep(generation, token, &claims);
        log_at!(
            LogLevel::Info,
            target::SESSION,
            "step-up granted scopes [{}] until {}{}",
            granted.scopes.join(" "),
            claims.exp,
            if granted.single_use {
                ", single use"
            } else {
                ""
            }
        );
        Ok(granted)
    }

    /// `Ok` while the session of `generation` is the current one (refreshes included).
    pub(super) fn still_current(&self, generation: u64) -> Result<(), Error> {
        match self.lifecycle.generation() {
            Some(current) if current == generation => Ok(()),
            Some(_) => Err(Error::SessionChanged),
            None => Err(Error::NotSignedIn),
        }
    }

    /// The elevated token for a call needing `scopes`, if a step-up of this session granted one
    /// that is unexpired; a single-use token is handed out once.
    pub fn elevated_access_token(&self, scopes: &[String]) -> Option<String> {
        self.current_session()?;
        let generation = self.lifecycle.generation()?;
        self.elevated.take(generation, scopes, self.server_now())
    }

    /// The session cannot be extended: re-exchange through the app's provider if there is one,
    /// else end the session with `reason`. Returns the re-exchanged session.
    pub(super) async fn give_up(
        &self,
        ticket: &RefreshTicket,
        reason: SignOutReason,
    ) -> Option<SignedInSession> {
        let renewal = Renewal::Session(ticket.session.clone());
        if let Some(renewed) = self.reexchange(&renewal).await {
            return Some(renewed);
        }
        if let Some(ended) = self.lifecycle.end_if_current(&ticket.session, reason) {
            self.revoke_in_background(ended, reason);
            self.persist().await;
        }
        None
    }

    /// Asks the provider for a JWT of the same external user and exchanges it. The place in
    /// line is taken before the provider is asked, and the result is kept only if what it renews
    /// is still current: a sign-out, or a sign-in the user started meanwhile, always wins.
    pub(super) async fn reexchange(&self, renewal: &Renewal) -> Option<SignedInSession> {
        let provider = self.provider()?;
        self.reexchanges
            .run((), || async {
                let ticket = self.begin_sign_in();
                if !self.lifecycle.is_current(renewal) {
                    return None;
                }
                let fetched =
                    tokio::time::timeout(self.settings.timeout, provider.fetch_external_jwt())
                        .await;
                let params = match fetched {
                    Ok(Ok(params)) => params,
                    Ok(Err(error)) => {
                        log_at!(
                            LogLevel::Warn,
                            target::SESSION,
                            "the JWT provider failed: {}",
                            error.scrubbed_detail()
                        );
                        return None;
                    }
                    Err(_) => {
                        log_at!(
                            LogLevel::Warn,
                            target::SESSION,
                            "the JWT provider timed out"
                        );
                        return None;
                    }
                };
                let (Renewal::Session(renewed) | Renewal::Restore(renewed)) = renewal;
                let expected = renewed.profile.user.external_user_id.as_deref();
                if expected.is_some_and(|id| id != params.external_user_id) {
                    log_at!(
                        LogLevel::Warn,
                        target::SESSION,
                        "the JWT provider returned another user's JWT; not used"
                    );
                    return None;
                }
                let exchanged = match self.checked_body(&params).await {
                    Ok(body) => self.exchange(&body, || ticket, Some(renewal)).await,
                    Err(error) => Err(error),
                };
                match exchanged {
                    Ok(session) => Some(session),
                    Err(error) => {
                        log_at!(
                            LogLevel::Warn,
                            target::SESSION,
                            "re-exchange failed: {}",
                            ByoaError::from(error).code_str()
                        );
                        None
                    }
                }
            })
            .await
    }
}
