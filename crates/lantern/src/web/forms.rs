//! Form helpers shared by every page with a form.

use crate::platform::error::FieldError;

/// The problems of a submitted form, field by field, for the error summary and the fields.
#[derive(Clone, Debug, Default)]
pub struct FormErrors(pub Vec<FieldError>);

impl FormErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// Whether `{prefix}_{key}` has a problem (fields named after the thing they edit).
    pub fn has_for(&self, prefix: &str, key: impl std::fmt::Display) -> bool {
        self.has(&format!("{prefix}_{key}"))
    }

    pub fn get_for(&self, prefix: &str, key: impl std::fmt::Display) -> Option<&str> {
        self.get(&format!("{prefix}_{key}"))
    }

    /// Whether any problem concerns `key` (a field named `…_{key}`).
    pub fn mentions(&self, key: &str) -> bool {
        self.0.iter().any(|e| e.field.ends_with(&format!("_{key}")))
    }

    /// The first message for `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}
