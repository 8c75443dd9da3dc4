//! The dashboard's mark form: `POST /alerts/{id}/mark` with the fields `label`
//! (`relevant` | `irrelevant`), `csrf` and `back` (the page to return to), answered with a 303
//! redirect. A plain HTML form: no script, so the strict CSP stays as it is.
//!
//! Invariants:
//! - Every POST carries the CSRF token of its alert: hex HMAC-SHA256 of `mark:<id>` under a key
//!   drawn from the OS when the server starts (so a token is bound to this server run and to one
//!   alert). A missing or wrong token is refused with 403 before anything is read or written.
//!   Off loopback the bearer token is still required first (`auth`), as for every route.
//! - The mark is written by `Store::mark_alert` in one short transaction on a store opened for it;
//!   the rest of the web face stays read-only.
//! - `back` is followed only to `/` or `/articles/<id>` (no open redirect).

use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::html::escape;
use super::{AppState, WebError};
use crate::alerts::sinks::webhook::{sign, verify_signature};
use crate::store::{Label, NewMark};

/// The key CSRF tokens are signed with, fresh for each server run.
pub(super) struct Csrf {
    key: [u8; 32],
}

impl Csrf {
    pub(super) fn new() -> anyhow::Result<Csrf> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| anyhow::anyhow!("no OS randomness for the CSRF key: {e}"))?;
        Ok(Csrf { key })
    }

    fn message(alert_id: i64) -> String {
        format!("mark:{alert_id}")
    }

    /// The token the form of this alert carries.
    pub(super) fn token(&self, alert_id: i64) -> String {
        let s = sign(&self.key, Self::message(alert_id).as_bytes());
        s.trim_start_matches("sha256=").to_string()
    }

    /// Checks a posted token, in constant time.
    fn check(&self, alert_id: i64, given: &str) -> bool {
        verify_signature(
            &self.key,
            Self::message(alert_id).as_bytes(),
            &format!("sha256={given}"),
        )
    }
}

/// The mark form of one alert, showing its current mark. `back` is the page it returns to.
pub(super) fn mark_form(
    st: &AppState,
    alert_id: i64,
    current: Option<Label>,
    back: &str,
) -> String {
    let now = match current {
        Some(l) => format!("<span class=\"meta\">marked {}</span> ", l.as_str()),
        None => String::new(),
    };
    format!(
        "<form class=\"mark\" method=\"post\" action=\"/alerts/{alert_id}/mark\">{now}\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"back\" value=\"{}\">\
<button name=\"label\" value=\"relevant\">relevant</button> <button name=\"label\" value=\"irrelevant\">irrelevant</button></form>",
        st.csrf.token(alert_id),
        escape(back)
    )
}

/// A `back` field that names one of our own pages, else the dashboard.
fn back_to(back: Option<&str>) -> String {
    match back {
        Some(b)
            if b == "/"
                || b.strip_prefix("/articles/")
                    .is_some_and(|id| !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit())) =>
        {
            b.to_string()
        }
        _ => "/".to_string(),
    }
}

/// `POST /alerts/{id}/mark`.
pub async fn mark(
    State(st): State<Arc<AppState>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, WebError> {
    let (mut csrf, mut label, mut back) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "csrf" => csrf = Some(v.into_owned()),
            "label" => label = Some(v.into_owned()),
            "back" => back = Some(v.into_owned()),
            _ => {}
        }
    }
    if !csrf.as_deref().is_some_and(|t| st.csrf.check(id, t)) {
        return Err(WebError(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token (reload the page and mark again)".into(),
        ));
    }
    let label = label
        .as_deref()
        .and_then(Label::parse)
        .ok_or_else(|| WebError::bad_request("label: use relevant or irrelevant"))?;
    let path = st.db.path.clone();
    let marked = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut store = crate::store::Store::open(&path)?;
        store
            .mark_alert(
                &id.to_string(),
                &NewMark {
                    label,
                    via: "web",
                    at: crate::util::now_ms(),
                },
            )
            .context("writing the mark")
    })
    .await
    .map_err(|e| WebError::from(anyhow::anyhow!("mark task failed: {e}")))??;
    if marked.is_none() {
        return Err(WebError::not_found(format!("no alert {id}")));
    }
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, back_to(back.as_deref()))],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_alert_and_per_key() {
        let a = Csrf::new().unwrap();
        let b = Csrf::new().unwrap();
        let t = a.token(7);
        assert_eq!(t.len(), 64);
        assert!(a.check(7, &t));
        assert!(!a.check(8, &t), "a token is good for its alert only");
        assert!(!b.check(7, &t), "a token is good for its server run only");
        assert!(!a.check(7, "") && !a.check(7, &t[..63]) && !a.check(7, "zz"));
    }

    #[test]
    fn back_stays_on_our_pages() {
        assert_eq!(back_to(Some("/articles/12")), "/articles/12");
        assert_eq!(back_to(Some("/")), "/");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/articles/",
            "/articles/1x",
            "",
        ] {
            assert_eq!(back_to(Some(bad)), "/", "{bad}");
        }
        assert_eq!(back_to(None), "/");
    }
}
