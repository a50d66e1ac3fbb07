use super::*;

/// Which sessions to list or revoke. `user` is a user id or a username.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionQuery {
    pub user: Option<String>,
    pub client_id: Option<String>,
    /// Exact address, or a prefix ending in `.`, `:` or `*`.
    pub ip: Option<String>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
    pub state: SessionStateFilter,
    pub sort: SessionSort,
    pub ascending: bool,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// One page of sessions; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    pub items: Vec<SessionInfo>,
    pub next_cursor: Option<String>,
}

/// The sessions a bulk revoke covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSelector {
    /// A multi-selection.
    Ids(Vec<String>),
    /// Everything of a user (id or username); also ends their sign-ins.
    User(String),
    /// Everything of a client; also moves its watermark, so client-credentials tokens
    /// issued before now are inactive too.
    Client(String),
    /// Every live session matching a filter (its state, sort, cursor and limit are
    /// ignored).
    Filter(SessionQuery),
}

fn encode_session_cursor(s: &Session, sort: SessionSort) -> String {
    let (tag, key) = match sort {
        SessionSort::CreatedAt => ('c', s.created_at),
        SessionSort::LastUsedAt => ('u', s.last_used_at),
    };
    crypto::b64url(format!("{tag}:{key}:{}", s.id).as_bytes())
}

fn decode_session_cursor(c: &str, sort: SessionSort) -> ManageResult<SessionCursor> {
    let bad = || ManageError::InvalidInput("the cursor is not one this listing returned".into());
    let raw = crypto::b64url_decode(c).ok_or_else(bad)?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.splitn(3, ':');
    let tag = parts.next().ok_or_else(bad)?;
    let key: Timestamp = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let id = parts.next().ok_or_else(bad)?.to_string();
    let expected = match sort {
        SessionSort::CreatedAt => "c",
        SessionSort::LastUsedAt => "u",
    };
    if tag != expected {
        return Err(ManageError::InvalidInput(
            "the cursor belongs to a listing with another sort order".into(),
        ));
    }
    Ok(SessionCursor { key, id })
}

impl Manager {
    /// Resolves the names in a query (username → id) and checks the references exist,
    /// so an unknown user or client is a clear `not_found`, not an empty list.
    async fn session_filter(&self, q: &SessionQuery) -> ManageResult<SessionFilter> {
        let user_id = match &q.user {
            Some(u) => Some(self.user_get(u).await?.id),
            None => None,
        };
        if let Some(c) = &q.client_id {
            self.client_get(c).await?;
        }
        if let Some(ip) = &q.ip {
            if ip.is_empty() || ip.len() > 64 || ip.chars().any(|c| c.is_control() || c == ' ') {
                return Err(ManageError::InvalidInput(format!(
                    "ip filter \"{}\" is not an address or address prefix",
                    shown(ip)
                )));
            }
        }
        if let (Some(from), Some(to)) = (q.created_from, q.created_to) {
            if from >= to {
                return Err(ManageError::InvalidInput(
                    "created_from must be before created_to".into(),
                ));
            }
        }
        let after = match &q.cursor {
            Some(c) => Some(decode_session_cursor(c, q.sort)?),
            None => None,
        };
        Ok(SessionFilter {
            ids: None,
            user_id,
            client_id: q.client_id.clone(),
            ip: q.ip.clone(),
            created_from: q.created_from,
            created_to: q.created_to,
            state: q.state,
            sort: q.sort,
            ascending: q.ascending,
            after,
            limit: Some(clamp_limit(q.limit)),
        })
    }

    /// One page of sessions, keyset-paginated (stable while sessions are created).
    pub async fn sessions_list(&self, q: SessionQuery) -> ManageResult<SessionPage> {
        let filter = self.session_filter(&q).await?;
        let limit = filter.limit.unwrap_or(DEFAULT_LIST_LIMIT);
        let items = self.store.sessions_list(&filter, self.now()).await?;
        let next_cursor = match items.last() {
            Some(last) if i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit => {
                Some(encode_session_cursor(&last.session, q.sort))
            }
            _ => None,
        };
        Ok(SessionPage { items, next_cursor })
    }

    pub async fn session_get(&self, id: &str) -> ManageResult<SessionInfo> {
        let filter = SessionFilter {
            ids: Some(vec![id.to_string()]),
            limit: Some(1),
            ..SessionFilter::default()
        };
        self.store
            .sessions_list(&filter, self.now())
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ManageError::NotFound(format!("no session with id \"{}\"", shown(id))))
    }

    async fn selector_filter(&self, sel: &SessionSelector) -> ManageResult<SessionFilter> {
        Ok(match sel {
            SessionSelector::Ids(ids) => {
                if ids.is_empty() {
                    return Err(ManageError::InvalidInput("no sessions selected".into()));
                }
                if ids.len() > MAX_LIST_LIMIT as usize {
                    return Err(ManageError::InvalidInput(format!(
                        "at most {MAX_LIST_LIMIT} sessions can be selected at once; \
                         revoke by filter instead"
                    )));
                }
                SessionFilter {
                    ids: Some(ids.clone()),
                    ..SessionFilter::default()
                }
            }
            SessionSelector::User(u) => SessionFilter {
                user_id: Some(self.user_get(u).await?.id),
                ..SessionFilter::default()
            },
            SessionSelector::Client(c) => {
                self.client_get(c).await?;
                SessionFilter {
                    client_id: Some(c.clone()),
                    ..SessionFilter::default()
                }
            }
            SessionSelector::Filter(q) => {
                let f = self.session_filter(q).await?;
                SessionFilter {
                    after: None,
                    limit: None,
                    state: SessionStateFilter::Active,
                    ..f
                }
            }
        })
    }

    /// Revokes what `sel` covers, or with `dry_run` only counts what it would cut off.
    /// The dry run and the revoke use one filter, so the count shown before confirming
    /// is what the revoke does (sessions created in between aside).
    pub async fn sessions_revoke(
        &self,
        actor: &str,
        sel: &SessionSelector,
        dry_run: bool,
    ) -> ManageResult<RevokeImpact> {
        let filter = self.selector_filter(sel).await?;
        let now = self.now();
        if dry_run {
            return Ok(self.store.sessions_impact(&filter, now).await?);
        }
        match sel {
            SessionSelector::User(_) => {
                let user_id = filter.user_id.clone().unwrap_or_default();
                let audit = self
                    .audit_event(now, actor, AuditAction::SessionRevokeUser.as_str())
                    .target(user_id.clone());
                Ok(self
                    .store
                    .sessions_revoke_user(&user_id, now, Some(&audit))
                    .await?)
            }
            SessionSelector::Client(c) => {
                let audit = self
                    .audit_event(now, actor, AuditAction::SessionRevokeClient.as_str())
                    .target(c.clone());
                Ok(self
                    .store
                    .sessions_revoke_client(c, now, Some(&audit))
                    .await?)
            }
            SessionSelector::Ids(ids) => {
                let audit = self
                    .audit_event(now, actor, AuditAction::SessionRevokeSelected.as_str())
                    .before(&json!({ "ids": ids }));
                Ok(self
                    .store
                    .sessions_revoke_matching(&filter, "revoked by administrator", now, &audit)
                    .await?)
            }
            SessionSelector::Filter(q) => {
                let audit = self
                    .audit_event(now, actor, AuditAction::SessionRevokeFilter.as_str())
                    .before(&json!({
                        "user": q.user, "client_id": q.client_id, "ip": q.ip,
                        "created_from": q.created_from, "created_to": q.created_to,
                    }));
                Ok(self
                    .store
                    .sessions_revoke_matching(&filter, "revoked by administrator", now, &audit)
                    .await?)
            }
        }
    }

    /// Revokes one session: its refresh tokens stop working and its access tokens read
    /// inactive. Returns whether it was live (false: it had already ended).
    pub async fn session_revoke(&self, actor: &str, id: &str) -> ManageResult<bool> {
        let s = self.store.session_get(id).await?.ok_or_else(|| {
            ManageError::NotFound(format!("no session with id \"{}\"", shown(id)))
        })?;
        let now = self.now();
        let audit = self
            .audit_event(now, actor, AuditAction::SessionRevoke.as_str())
            .target(id)
            .before(&s);
        Ok(self
            .store
            .session_revoke(id, "revoked by administrator", now, Some(&audit))
            .await?)
    }

    /// Revokes every live session of a user (id or username) and ends their sign-ins.
    pub async fn sessions_revoke_user(
        &self,
        actor: &str,
        user: &str,
    ) -> ManageResult<RevokeImpact> {
        self.sessions_revoke(actor, &SessionSelector::User(user.to_string()), false)
            .await
    }

    /// Revokes every live session of a client and moves its `tokens_valid_after`, so
    /// every token issued to it before now (client-credentials ones too) is inactive.
    pub async fn sessions_revoke_client(
        &self,
        actor: &str,
        client_id: &str,
    ) -> ManageResult<RevokeImpact> {
        self.sessions_revoke(
            actor,
            &SessionSelector::Client(client_id.to_string()),
            false,
        )
        .await
    }
}
