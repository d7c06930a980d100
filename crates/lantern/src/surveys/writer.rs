//! The group-commit writer for survey responses.
//!
//! Many residents submit at once; one SQLite transaction per submission would spend most of
//! its time in fsync. Instead every submission is queued to one task, which takes everything
//! waiting, writes it in one transaction, commits, and only then answers each submitter. A
//! batch forms by itself while the previous commit is on its way to disk, so at low load a
//! submission waits for nothing and at high load one fsync serves hundreds.
//!
//! "Saved" is said only after the commit returns (SQLite runs with `synchronous=FULL`), so a
//! crash at any moment loses nothing that was acknowledged. Single-use links and employee
//! surveys are settled inside the same transaction: the invitation is marked used with a
//! conditional update, and a submission whose invitation was already used is not written.

use tokio::sync::{mpsc, oneshot};

use crate::platform::db::{Backend, Db, Tx};
use crate::{on_db, on_tx};

/// A response ready to store: validated, its answers encoded as JSON.
#[derive(Clone, Debug)]
pub struct NewResponse {
    pub agency_id: i64,
    pub survey_id: i64,
    pub version_id: i64,
    pub submitted_at: i64,
    pub channel: String,
    pub language: String,
    /// "ok" or "flagged".
    pub status: &'static str,
    pub flag_reason: Option<String>,
    pub contact_id: Option<i64>,
    pub officer_id: Option<i64>,
    pub source_hash: Option<String>,
    pub answers: String,
    pub link: Link,
}

/// What the response uses up, settled in the same transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// A public link: nothing to use up.
    Open,
    /// A post-contact invitation (by id), good for one response.
    Invitation(i64),
    /// An employee survey: the invitation of this account is marked, and the answers go to the
    /// anonymous table under a random token with only the day.
    Employee {
        user_id: i64,
        token: String,
        day: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("this link has already been used")]
    AlreadyUsed,
    #[error("the response could not be saved")]
    Failed,
    #[error("the server is shutting down")]
    Closed,
}

type Job = (NewResponse, oneshot::Sender<Result<(), WriteError>>);

/// Rows per multi-row INSERT (12 parameters each, well under both databases' limits).
const ROWS_PER_STATEMENT: usize = 400;
/// The most submissions one transaction takes.
const MAX_BATCH: usize = 2_000;

#[derive(Clone, Debug)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Writer {
        let (queue, rx) = mpsc::channel::<Job>(MAX_BATCH * 4);
        tokio::spawn(run(db, rx));
        Writer { queue }
    }

    /// Queues a response and waits until it is committed (or refused).
    pub async fn submit(&self, response: NewResponse) -> Result<(), WriteError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send((response, done))
            .await
            .map_err(|_| WriteError::Closed)?;
        wait.await.unwrap_or(Err(WriteError::Closed))
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let responses: Vec<&NewResponse> = batch.iter().map(|(r, _)| r).collect();
        match write_batch(&db, &responses).await {
            Ok(outcomes) => {
                for ((_, done), outcome) in batch.drain(..).zip(outcomes) {
                    let _ = done.send(outcome);
                }
            }
            Err(e) => {
                // One bad row must not sink the others: retry each on its own.
                tracing::warn!(error = %e, size = batch.len(), "batch write failed; retrying one by one");
                for (response, done) in batch.drain(..) {
                    let outcome = match write_batch(&db, &[&response]).await {
                        Ok(mut o) => o.pop().unwrap_or(Err(WriteError::Failed)),
                        Err(e) => {
                            tracing::error!(error = %e, survey = response.survey_id, "could not save a response");
                            Err(WriteError::Failed)
                        }
                    };
                    let _ = done.send(outcome);
                }
            }
        }
    }
}

/// Writes one transaction; returns each response's outcome, in order.
async fn write_batch(
    db: &Db,
    batch: &[&NewResponse],
) -> Result<Vec<Result<(), WriteError>>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut plain: Vec<&NewResponse> = Vec::with_capacity(batch.len());
    for r in batch {
        let ok = match &r.link {
            Link::Open => true,
            Link::Invitation(id) => use_invitation(&mut tx, r, *id).await?,
            Link::Employee {
                user_id,
                token,
                day,
            } => {
                let ok = use_employee_invitation(&mut tx, r, *user_id).await?;
                if ok {
                    insert_employee(&mut tx, r, token, day).await?;
                }
                outcomes.push(if ok {
                    Ok(())
                } else {
                    Err(WriteError::AlreadyUsed)
                });
                continue;
            }
        };
        if ok {
            plain.push(r);
            outcomes.push(Ok(()));
        } else {
            outcomes.push(Err(WriteError::AlreadyUsed));
        }
    }
    for chunk in plain.chunks(ROWS_PER_STATEMENT) {
        insert_responses(&mut tx, chunk).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn use_invitation(
    tx: &mut Tx,
    r: &NewResponse,
    invitation: i64,
) -> Result<bool, sqlx::Error> {
    let changed = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE invitations SET status = 'responded', responded_at = $3 \
             WHERE agency_id = $1 AND id = $2 AND status IN ('pending', 'sent') AND expires_at > $3",
        )
        .bind(r.agency_id)
        .bind(invitation)
        .bind(r.submitted_at)
        .execute(&mut **c)
        .await
        .map(|x| x.rows_affected())
    })?;
    Ok(changed == 1)
}

async fn use_employee_invitation(
    tx: &mut Tx,
    r: &NewResponse,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let changed = on_tx!(tx, |c| {
        sqlx::query(
            "UPDATE employee_invitations SET responded = TRUE \
             WHERE agency_id = $1 AND survey_id = $2 AND user_id = $3 AND responded = FALSE",
        )
        .bind(r.agency_id)
        .bind(r.survey_id)
        .bind(user_id)
        .execute(&mut **c)
        .await
        .map(|x| x.rows_affected())
    })?;
    Ok(changed == 1)
}

async fn insert_employee(
    tx: &mut Tx,
    r: &NewResponse,
    token: &str,
    day: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO employee_responses (agency_id, survey_id, token, version_id, day, language, answers) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.agency_id)
        .bind(r.survey_id)
        .bind(token)
        .bind(r.version_id)
        .bind(day)
        .bind(&r.language)
        .bind(&r.answers)
        .execute(&mut **c)
        .await
        .map(|x| x.rows_affected())
    })?;
    Ok(())
}

async fn insert_responses(tx: &mut Tx, rows: &[&NewResponse]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 12;
    let mut sql = String::from(
        "INSERT INTO responses (agency_id, survey_id, version_id, submitted_at, channel, language, status, \
         flag_reason, contact_id, officer_id, source_hash, answers) VALUES ",
    );
    // SQLite gets positional `?`: sqlx resolves each numbered `$n` by a search over every
    // parameter of the statement, which is quadratic in the rows of a multi-row insert.
    let sqlite = tx.backend() == Backend::Sqlite;
    for i in 0..rows.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for j in 0..COLUMNS {
            if j > 0 {
                sql.push(',');
            }
            if sqlite {
                sql.push('?');
            } else {
                sql.push_str(&format!("${}", i * COLUMNS + j + 1));
            }
        }
        sql.push(')');
    }
    on_tx!(tx, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for r in rows {
            q = q
                .bind(r.agency_id)
                .bind(r.survey_id)
                .bind(r.version_id)
                .bind(r.submitted_at)
                .bind(&r.channel)
                .bind(&r.language)
                .bind(r.status)
                .bind(r.flag_reason.as_deref())
                .bind(r.contact_id)
                .bind(r.officer_id)
                .bind(r.source_hash.as_deref())
                .bind(&r.answers);
        }
        q.execute(&mut **c).await.map(|x| x.rows_affected())
    })?;
    Ok(())
}

/// Stores many responses at once, bypassing the queue (the demo generator and imports).
/// Links are not settled here: only open-link responses belong in a bulk load.
pub async fn insert_all(db: &Db, rows: &[NewResponse]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let refs: Vec<&NewResponse> = rows.iter().collect();
    for chunk in refs.chunks(ROWS_PER_STATEMENT) {
        insert_responses(&mut tx, chunk).await?;
    }
    tx.commit().await
}

/// Counts stored responses of a survey (tests and the staff pages).
pub async fn count(db: &Db, agency_id: i64, survey_id: i64) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM responses WHERE agency_id = $1 AND survey_id = $2) + \
                    (SELECT COUNT(*) FROM employee_responses WHERE agency_id = $1 AND survey_id = $2)",
        )
        .bind(agency_id)
        .bind(survey_id)
        .fetch_one(pool)
        .await
    })
}
