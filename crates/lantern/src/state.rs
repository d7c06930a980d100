//! The application state every handler receives. It sits below the slices: it names the
//! platform's parts (database, configuration, clock, keys, mail) and keeps each slice's own
//! long-lived parts (a writer task, caches) by type, so this layer imports no slice. A slice
//! adds an accessor for its part (`impl AppState { fn surveys(&self) }` in its own module),
//! and the router assembly (`crate::app`) starts the slices and hands their parts in.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use crate::platform::clock::Clock;
use crate::platform::config::Config;
use crate::platform::db::Db;
use crate::platform::routes::signin::SignInLimiter;
use crate::platform::secrets::Key;

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

pub struct StateInner {
    pub db: Db,
    pub config: Config,
    pub clock: Clock,
    /// The deployment key (signs CSRF tokens).
    pub key: Key,
    pub signin_limiter: Arc<SignInLimiter>,
    /// The deployment's SMTP server, when one is configured (account notices).
    pub mailer: Option<Arc<crate::platform::mail::Mailer>>,
    slices: SliceParts,
}

impl Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// Told an agency's slug when what its pages say may have changed (its settings, a
/// publication), so that a slice's cache can let go of them.
pub type AgencyChanged = Box<dyn Fn(&str) + Send + Sync>;

/// The slices' long-lived parts, one of each type, and who wants to hear of agency changes.
#[derive(Default)]
pub struct SliceParts {
    parts: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    on_agency_change: Vec<AgencyChanged>,
}

impl SliceParts {
    pub fn insert<T: Any + Send + Sync>(&mut self, part: T) {
        self.parts.insert(TypeId::of::<T>(), Box::new(part));
    }

    pub fn on_agency_change(&mut self, hook: impl Fn(&str) + Send + Sync + 'static) {
        self.on_agency_change.push(Box::new(hook));
    }
}

impl AppState {
    /// The state with the platform's parts and the slices' parts the assembly started.
    pub async fn with_slices(
        db: Db,
        config: Config,
        clock: Clock,
        slices: SliceParts,
    ) -> anyhow::Result<AppState> {
        let key = Key::load_or_create(&db).await?;
        let signin_limiter = crate::platform::routes::signin::limiter(&config);
        // A configuration that cannot work is refused before the server starts; here it is
        // only logged (the survey slice's staff page shows it too).
        let mailer = crate::platform::mail::Mailer::from_config(&config)
            .unwrap_or_else(|e| {
                tracing::error!("{e}");
                None
            })
            .map(Arc::new);
        Ok(AppState(Arc::new(StateInner {
            db,
            config,
            clock,
            key,
            signin_limiter,
            mailer,
            slices,
        })))
    }

    /// Tells every slice that an agency's pages may say something new.
    pub fn agency_changed(&self, slug: &str) {
        for hook in &self.0.slices.on_agency_change {
            hook(slug);
        }
    }

    /// A slice's part. Every part is inserted when the state is built, so a missing one is a
    /// wiring mistake in `crate::app`, found by the first test that touches the slice.
    pub fn part<T: Any + Send + Sync>(&self) -> &T {
        self.0
            .slices
            .parts
            .get(&TypeId::of::<T>())
            .and_then(|p| p.downcast_ref::<T>())
            .unwrap_or_else(|| panic!("{} was not started with the state", type_name::<T>()))
    }
}
