//! Admin pages for accounts: list, create, change role, deactivate, unlock, reset MFA.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::platform::accounts::{self, CreateUserError, NewUser, Role, User};
use crate::platform::audit::{self, Event};
use crate::platform::error::{AppError, AppResult, FieldError};
use crate::platform::sessions;
use crate::state::AppState;
use crate::web::ctx::Ctx;
use crate::web::forms::FormErrors;
use crate::web::page;

pub struct UserRow {
    pub user: User,
    pub locked: bool,
    pub last_sign_in: String,
}

#[derive(Template)]
#[template(path = "platform/users.html")]
struct UsersPage<'a> {
    ctx: &'a Ctx,
    users: Vec<UserRow>,
    roles: [Role; 6],
    errors: FormErrors,
    form: NewUserForm,
    created: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn render_list(
    state: &AppState,
    ctx: &Ctx,
    errors: FormErrors,
    form: NewUserForm,
    created: Option<String>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let now = state.clock.unix();
    let tz = agency.tz();
    let users = accounts::list(&state.db, agency.id)
        .await?
        .into_iter()
        .map(|u| UserRow {
            locked: u.is_locked(now),
            last_sign_in: u
                .last_sign_in_at
                .map(|t| crate::platform::clock::format_unix(t, tz))
                .unwrap_or_else(|| "never".to_string()),
            user: u,
        })
        .collect();
    page(UsersPage {
        ctx,
        users,
        roles: Role::ALL,
        errors,
        form,
        created,
    })
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    render_list(
        &state,
        &ctx,
        FormErrors::default(),
        NewUserForm::default(),
        None,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<NewUserForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let role = match f.role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => {
            return render_list(
                &state,
                &ctx,
                FormErrors(vec![FieldError::new("role", e)]),
                f,
                None,
            )
            .await;
        }
    };
    let new = NewUser {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        email: f.email.clone(),
        role,
        password: f.password.clone(),
    };
    match accounts::create(
        &state.db,
        agency.id,
        &agency.name,
        new,
        &ctx.actor(),
        ctx.ip().as_deref(),
        state.clock.unix(),
    )
    .await
    {
        Ok(user) => {
            render_list(
                &state,
                &ctx,
                FormErrors::default(),
                NewUserForm::default(),
                Some(user.username),
            )
            .await
        }
        Err(CreateUserError::Invalid(errors)) => {
            let mut f = f;
            f.password.clear();
            render_list(&state, &ctx, FormErrors(errors), f, None).await
        }
        Err(CreateUserError::Db(e)) => Err(e.into()),
        Err(CreateUserError::Other(e)) => Err(AppError::Internal(e)),
    }
}

#[derive(Template)]
#[template(path = "platform/user_edit.html")]
struct EditPage<'a> {
    ctx: &'a Ctx,
    user: User,
    roles: [Role; 6],
    locked: bool,
    is_self: bool,
    errors: FormErrors,
    message: Option<&'static str>,
}

async fn load(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<User> {
    accounts::get(&state.db, ctx.agency()?.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn render_edit(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    errors: FormErrors,
    message: Option<&'static str>,
) -> AppResult<Response> {
    let user = load(state, ctx, id).await?;
    page(EditPage {
        ctx,
        locked: user.is_locked(state.clock.unix()),
        is_self: ctx.user().is_some_and(|me| me.id == user.id),
        user,
        roles: Role::ALL,
        errors,
        message,
    })
}

pub async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
) -> AppResult<Response> {
    render_edit(&state, &ctx, id, FormErrors::default(), None).await
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    active: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<UpdateForm>,
) -> AppResult<Response> {
    let agency = ctx.agency()?;
    let me = ctx.require_user()?;
    let user = load(&state, &ctx, id).await?;
    let now = state.clock.unix();
    let actor = ctx.actor();
    let ip = ctx.ip();
    let target = format!("user:{}", user.id);
    let mut tx = state.db.begin().await?;
    let (message, end_sessions) = match f.action.as_str() {
        "save" => {
            let role = match f.role.parse::<Role>() {
                Ok(r) => r,
                Err(e) => {
                    return render_edit(
                        &state,
                        &ctx,
                        id,
                        FormErrors(vec![FieldError::new("role", e)]),
                        None,
                    )
                    .await;
                }
            };
            let active = f.active.is_some();
            if me.id == user.id && (role != Role::Admin || !active) {
                let errors = vec![FieldError::new(
                    "role",
                    "You cannot remove your own administrator role or deactivate yourself: ask another administrator",
                )];
                return render_edit(&state, &ctx, id, FormErrors(errors), None).await;
            }
            let mut changed = false;
            if role != user.role() {
                accounts::set_role(&mut tx, agency.id, user.id, role).await?;
                audit::append(
                    &mut tx,
                    agency.id,
                    now,
                    &Event::new(&actor, "user.role_changed", target.clone())
                        .detail(
                            serde_json::json!({"from": user.role().as_str(), "to": role.as_str()}),
                        )
                        .ip(ip.as_deref()),
                )
                .await?;
                changed = true;
            }
            if active != user.active {
                accounts::set_active(&mut tx, agency.id, user.id, active).await?;
                let action = if active {
                    "user.activated"
                } else {
                    "user.deactivated"
                };
                audit::append(
                    &mut tx,
                    agency.id,
                    now,
                    &Event::new(&actor, action, target.clone()).ip(ip.as_deref()),
                )
                .await?;
                changed = true;
            }
            (
                if changed {
                    "Saved."
                } else {
                    "Nothing changed."
                },
                changed,
            )
        }
        "unlock" => {
            accounts::unlock(&mut tx, agency.id, user.id).await?;
            audit::append(
                &mut tx,
                agency.id,
                now,
                &Event::new(&actor, "user.unlocked", target.clone()).ip(ip.as_deref()),
            )
            .await?;
            ("The account is unlocked.", false)
        }
        "reset_mfa" => {
            accounts::reset_mfa(&mut tx, agency.id, user.id).await?;
            audit::append(
                &mut tx,
                agency.id,
                now,
                &Event::new(&actor, "mfa.reset", target.clone()).ip(ip.as_deref()),
            )
            .await?;
            (
                "Two-step sign-in was reset. The person sets it up again at their next sign-in.",
                true,
            )
        }
        _ => {
            return Err(AppError::BadRequest(format!(
                "unknown action {:?}",
                f.action
            )));
        }
    };
    tx.commit().await?;
    if end_sessions && me.id != user.id {
        // New rights (or none) take effect at once: the person signs in again.
        sessions::end_all_for_user(&state.db, agency.id, user.id).await?;
    }
    if me.id == user.id && f.action == "reset_mfa" {
        return Ok(Redirect::to(&ctx.staff_url("/account/mfa")).into_response());
    }
    render_edit(&state, &ctx, id, FormErrors::default(), Some(message)).await
}
