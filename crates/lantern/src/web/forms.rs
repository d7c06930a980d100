//! Form helpers shared by every page with a form.

use crate::platform::error::FieldError;

/// The problems of a submitted form, field by field, for the error summary and the fields.
///
/// Every form page shows them the same way: the page extends `web/form_layout.html` (or
/// `web/staff_form_layout.html`), whose `<title>` then starts with "Error: "; it includes
/// `web/error_summary.html`, which takes the focus when the page loads (`autofocus`, no script
/// needed) and links each problem to its field; and each field with a problem carries
/// [`FormErrors::aria`]'s attributes and its message under the id [`FormErrors::message_id`].
#[derive(Clone, Debug, Default)]
pub struct FormErrors(pub Vec<FieldError>);

/// Text safe inside an HTML attribute.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl FormErrors {
    /// One problem, for pages that build their message themselves (sign-in).
    pub fn one(field: &str, message: &str) -> FormErrors {
        FormErrors(vec![FieldError::new(field, message)])
    }

    /// One problem or none (a page that knows only whether it failed, and why).
    pub fn maybe(field: &str, message: Option<&str>) -> FormErrors {
        FormErrors(
            message
                .map(|m| FieldError::new(field, m))
                .into_iter()
                .collect(),
        )
    }

    /// The id of the message shown with `field`: `{field}-error`.
    pub fn message_id(&self, field: &str) -> String {
        format!("{field}-error")
    }

    /// The attributes of the control of `field` (written into the tag with `|safe`): its hint
    /// (`hint`, an id, or "" for none) and, when the field has a problem, its message in
    /// `aria-describedby`, and `aria-invalid="true"`.
    pub fn aria(&self, field: &str, hint: &str) -> String {
        let mut ids: Vec<String> = Vec::new();
        if !hint.is_empty() {
            ids.push(hint.to_string());
        }
        let invalid = self.has(field);
        if invalid {
            ids.push(self.message_id(field));
        }
        let mut out = String::new();
        if invalid {
            out.push_str(" aria-invalid=\"true\"");
        }
        if !ids.is_empty() {
            out.push_str(&format!(" aria-describedby=\"{}\"", attr(&ids.join(" "))));
        }
        out
    }

    /// [`FormErrors::aria`] for a field named `{prefix}_{key}`, whose hint (when `hinted`) has
    /// the id `{prefix}_{key}-hint`.
    pub fn aria_for(&self, prefix: &str, key: impl std::fmt::Display, hinted: bool) -> String {
        let field = format!("{prefix}_{key}");
        let hint = if hinted {
            format!("{field}-hint")
        } else {
            String::new()
        };
        self.aria(&field, &hint)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_point_at_their_message() {
        let errors = FormErrors::one("username", "Enter a username.");
        assert_eq!(
            errors.aria("username", "username-hint"),
            " aria-invalid=\"true\" aria-describedby=\"username-hint username-error\""
        );
        assert_eq!(
            errors.aria("password", "password-hint"),
            " aria-describedby=\"password-hint\""
        );
        assert_eq!(errors.aria("email", ""), "");
        assert_eq!(errors.aria_for("max", "q1", false), "");
        let errors = FormErrors::one("choices_q1", "Add a choice.");
        assert_eq!(
            errors.aria_for("choices", "q1", true),
            " aria-invalid=\"true\" aria-describedby=\"choices_q1-hint choices_q1-error\""
        );
    }
}
