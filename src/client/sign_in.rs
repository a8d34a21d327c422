//! The sign-in: its place in line, the preflight, the exchange, and the checks before a session is kept; and the re-exchange through the app's JWT provider.

use super::*;

impl Core {
    /// Takes a sign-in's place in line. Called when the app makes the call (not later, when the
    /// work gets to run), so that a sign-out made after the call always cancels it.
    pub fn begin_sign_in(&self) -> SignInTicket {
        self.lifecycle.begin_sign_in()
    }

    pub async fn sign_in_with_external_jwt(
        &self,
        params: SignInWithExternalJwtParams,
        ticket: SignInTicket,
    ) -> Result<SignedInSession, Error> {
        let body = self.checked_body(&params).await?;
        // Identical calls share one request, unless a sign-out separates them.
        let key = (
            body.jwt.clone().unwrap_or_default(),
            params.external_user_id.clone(),
            body.session_public_key.clone(),
            ticket.epoch(),
        );
        self.persist().await;
        // A caller that joins a request in flight brings its (later) place in line with it:
        // the shared result is kept as if the latest of them had sent it.
        self.latest_ticket(&key, ticket);
        let latest = || self.take_latest_ticket(&key).unwrap_or(ticket);
        let result = self
            .sign_ins
            .run(key.clone(), || async {
                self.exchange(&body, latest, None).await
            })
            .await;
        self.forget_ticket(&key, ticket);
        result
    }

    /// Records `ticket` for the sign-ins in flight with `key`, if it is the latest.
    pub(super) fn latest_ticket(&self, key: &SignInKey, ticket: SignInTicket) {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        let latest = joined.entry(key.clone()).or_insert(ticket);
        if ticket.number() > latest.number() {
            *latest = ticket;
        }
    }

    pub(super) fn take_latest_ticket(&self, key: &SignInKey) -> Option<SignInTicket> {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        joined.remove(key)
    }

    /// Drops a record a late joiner left after the request it joined was kept.
    pub(super) fn forget_ticket(&self, key: &SignInKey, ticket: SignInTicket) {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        if joined
            .get(key)
            .is_some_and(|latest| latest.number() <= ticket.number())
        {
            joined.remove(key);
        }
    }

    /// The preflight, on the server's clock.
    pub(super) async fn checked_body(
        &self,
        params: &SignInWithExternalJwtParams,
    ) -> Result<dynamic_byoa_contract::ExternalAuthSigninRequest, Error> {
        let leeway = self.settings.leeway_seconds;
        self.on_server_clock(|now| exchange::signin_body(params, now, leeway))
            .await
    }

    /// Runs a preflight `check` at the server's time. A time-window failure before the server's
    /// time is known may be the device clock's fault, not the token's: ask the server for the
    /// time (one small request that also fetches the keys the exchange needs) and check again.
    pub(super) async fn on_server_clock<T>(
        &self,
        check: impl Fn(i64) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match check(self.server_now()) {
            Err(Error::Preflight(problem))
                if problem.is_time_window() && !self.lifecycle.time_known() =>
            {
                if let Ok(date) = self.keys.fetch_server_offset(&self.transport).await {
                    self.learn_server_time(date);
                }
                check(self.server_now())
            }
            checked => checked,
        }
    }

    /// `ticket` is read when the result is kept, not before: callers may join meanwhile.
    /// With a key signer, the sign-in is bound to a new session key (deleted again if the
    /// sign-in fails) and carries the device proof (`device`).
    pub(super) async fn exchange(
        &self,
        body: &dynamic_byoa_contract::ExternalAuthSigninRequest,
        ticket: impl FnOnce() -> SignInTicket,
        renewing: Option<&Renewal>,
    ) -> Result<SignedInSession, Error> {
        let mut body = body.clone();
        let session_key = match &body.session_public_key {
            Some(app_key) => Some(SessionKey {
                name: None,
                public_key: app_key.clone(),
            }),
            None => self.binding.create_session_key().await?,
        };
        body.session_public_key = session_key.as_ref().map(|k| k.public_key.clone());
        let result = self
            .exchange_bound(&body, ticket, renewing, session_key.clone())
            .await;
        if result.is_err() {
            // Only the key this attempt created: the current session's key is untouched.
            self.binding.delete_session_key(session_key.as_ref()).await;
        }
        result
    }

    pub(super) async fn exchange_bound(
        &self,
        body: &dynamic_byoa_contract::ExternalAuthSigninRequest,
        ticket: impl FnOnce() -> SignInTicket,
        renewing: Option<&Renewal>,
        session_key: Option<SessionKey>,
    ) -> Result<SignedInSession, Error> {
        // The keys are fetched while the exchange is in flight: one round trip on the critical
        // path. A failed prefetch is retried (and reported) by `verify`.
        let bound_to = body.session_public_key.as_deref();
        let (reply, _) = tokio::join!(
            self.send_proven(bound_to, |transport| async move {
                transport
                    .post_json::<_, VerifyResponse>(paths::EXTERNAL_AUTH_SIGNIN, body, None)
                    .await
            }),
            self.keys.prefetch(&self.transport)
        );
        let reply = reply?;
        let mut session = self
            .accept(reply, body.session_public_key.as_deref())
            .await?;
        session.session_key = session_key;
        match self
            .lifecycle
            .keep_sign_in(ticket(), renewing, session.clone())
        {
            Ok(replaced) => {
                self.reset_retries();
                if let Some(old) = replaced.filter(|old| !old.same_token(&session)) {
                    self.revoke_in_background(old, SignOutReason::Replaced);
                }
                self.persist().await;
                Ok(session.profile)
            }
            Err(discarded) => {
                // Nobody will use this session: end it on the server too.
                self.revoke_in_background(session, SignOutReason::Replaced);
                Err(discarded)
            }
        }
    }

    /// Sends a sign-in or refresh with the device proof (and the session key `bound_to`). A
    /// refusal of the nonce itself (unknown, reused, expired: a stale pool, a lost race) empties
    /// the pool and is tried once more with a fresh nonce; other errors are explained by
    /// `Binding::explain`.
    pub(super) async fn send_proven<T, F, Fut>(
        &self,
        bound_to: Option<&str>,
        send: F,
    ) -> Result<T, Error>
    where
        F: Fn(Transport) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut retried = false;
        loop {
            let proof = self
                .binding
                .device_proof(&self.transport, self.server_now())
                .await;
            match send(self.transport.with_headers(proof.headers(bound_to))).await {
                Err(error) if !retried && is_nonce_refusal(&error) => {
                    let _ = self.binding.explain(error, &proof);
                    retried = true;
                }
                result => return result.map_err(|error| self.binding.explain(error, &proof)),
            }
        }
    }

    /// Turns a sign-in or refresh response into a session, after checking its token against
    /// the environment's keys and, when `bound_to` is given, that it carries that session key.
    /// A token that fails a check is revoked, never kept.
    pub(super) async fn accept(
        &self,
        reply: Reply<VerifyResponse>,
        bound_to: Option<&str>,
    ) -> Result<Session, Error> {
        self.learn_server_time(reply.server_offset);
        let session = Session::from_response(&reply.body, 200, self.server_now())?;
        let verified = self
            .keys
            .verify(
                &self.transport,
                session.bearer(),
                &self.settings.environment_id,
                session.user_id(),
            )
            .await
            .and_then(|()| check_bound(session.bearer(), bound_to));
        if let Err(error) = verified {
            self.revoke_in_background(session, SignOutReason::Replaced);
            return Err(error);
        }
        Ok(session)
    }
}
