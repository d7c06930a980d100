//! The audit log for admins: filter, page back, check the chain. Reading it is audited.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDate, TimeZone};
use serde::Deserialize;

use crate::platform::audit::{self, Entry, Event, Filter, Verification};
use crate::platform::audit_head::{self, DailyHead, Signer};
use crate::platform::error::AppResult;
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::page;

const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    verify: Option<String>,
}

#[derive(Template)]
#[template(path = "platform/audit.html")]
struct AuditPage<'a> {
    ctx: &'a Ctx,
    q: AuditQuery,
    rows: Vec<(Entry, String)>,
    older: Option<String>,
    verification: Option<Verification>,
    problems: Vec<String>,
}

/// A `YYYY-MM-DD` in the agency's zone to unix seconds at that day's start (or next day's, for `to`).
fn day_bound(raw: &str, tz: chrono_tz::Tz, end: bool) -> Result<Option<i64>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{raw:?} is not a date like 2026-11-21"))?;
    let date = if end {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    let start = tz
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .earliest()
        .ok_or_else(|| format!("{raw:?} has no midnight in this time zone"))?;
    Ok(Some(start.timestamp() - i64::from(end)))
}

pub async fn browse(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let tz = agency.tz();
    let mut problems = Vec::new();
    let from = day_bound(&q.from, tz, false).unwrap_or_else(|e| {
        problems.push(format!("From: {e}"));
        None
    });
    let to = day_bound(&q.to, tz, true).unwrap_or_else(|e| {
        problems.push(format!("To: {e}"));
        None
    });
    let filter = Filter {
        action: q.action.trim().to_string(),
        actor: q.actor.trim().to_string(),
        from,
        to,
        before: q.before,
    };
    // Reading the log is itself recorded, with what was asked for.
    audit::record(
        &state.db,
        agency.id,
        state.clock.unix(),
        &Event::new(&ctx.actor(), "audit.viewed", "audit_log")
            .detail(serde_json::json!({
                "action": filter.action, "actor": filter.actor, "from": q.from, "to": q.to,
                "before": filter.before, "verify": q.verify.is_some(),
            }))
            .ip(ctx.ip().as_deref()),
    )
    .await?;
    let entries = audit::list(&state.db, agency.id, &filter, PAGE_SIZE).await?;
    let older = (entries.len() as i64 == PAGE_SIZE).then(|| {
        let last = entries.last().map(|e| e.seq).unwrap_or(0);
        let params: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("action", &q.action)
            .append_pair("actor", &q.actor)
            .append_pair("from", &q.from)
            .append_pair("to", &q.to)
            .append_pair("before", &last.to_string())
            .finish();
        format!("{}?{}", ctx.staff_url("/staff/audit"), params)
    });
    let rows = entries
        .into_iter()
        .map(|e| {
            let when = crate::platform::clock::format_unix(e.at, tz);
            (e, when)
        })
        .collect();
    let verification = match q.verify {
        Some(_) => Some(audit::verify(&state.db, agency.id).await?),
        None => None,
    };
    page(AuditPage {
        ctx: &ctx,
        q,
        rows,
        older,
        verification,
        problems,
    })
}

/// How many daily heads the public page lists.
const PUBLISHED_DAYS: u32 = 31;

#[derive(Template)]
#[template(path = "platform/audit_heads.html")]
struct HeadsPage<'a> {
    ctx: &'a Ctx,
    key: String,
    heads: Vec<DailyHead>,
}

/// The public page of daily chain heads: anyone (a resident, a journalist, a web archive) can
/// keep a copy, and a later rewrite of the log will no longer hold the heads they kept.
pub async fn public_heads(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let signer = Signer::new(&state.key);
    let heads = audit_head::daily(
        &state.db,
        &signer,
        agency,
        state.clock.unix(),
        PUBLISHED_DAYS,
    )
    .await?;
    page(HeadsPage {
        ctx: &ctx,
        key: signer.public_key(),
        heads,
    })
}

/// The same heads as JSON, for harvesting.
pub async fn public_heads_json(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<axum::Json<Vec<DailyHead>>> {
    let agency = ctx.agency()?;
    let signer = Signer::new(&state.key);
    Ok(axum::Json(
        audit_head::daily(
            &state.db,
            &signer,
            agency,
            state.clock.unix(),
            PUBLISHED_DAYS,
        )
        .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bounds_follow_the_agency_zone() {
        let tz = chrono_tz::America::Chicago;
        // 2026-07-01 00:00 CDT = 05:00 UTC.
        assert_eq!(
            day_bound("2026-07-01", tz, false).unwrap(),
            Some(1_782_882_000)
        );
        assert_eq!(
            day_bound("2026-07-01", tz, true).unwrap(),
            Some(1_782_882_000 + 86_400 - 1)
        );
        assert_eq!(day_bound("", tz, false).unwrap(), None);
        assert!(
            day_bound("07/01/2026", tz, false)
                .unwrap_err()
                .contains("07/01/2026")
        );
    }
}
