//! Path and query extractors whose refusals name the parameter: a value that does not parse
//! becomes a 400 problem (`AppError::InvalidParams`) listing `{field, message}`, like every
//! other input error, instead of axum's plain-text rejection.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::platform::error::{AppError, FieldError};

/// Query parameters, deserialised like `axum::extract::Query`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

/// Parses a query string, naming the parameter that does not fit.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = match e.path().to_string() {
            p if p == "." => "query".to_string(),
            p => p,
        };
        AppError::InvalidParams(vec![FieldError::new(field, plain(&e.inner().to_string()))])
    })
}

/// Path parameters, deserialised like `axum::extract::Path`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let (field, expected) = match e.kind() {
                    ErrorKind::ParseErrorAtKey {
                        key, expected_type, ..
                    } => (key.clone(), *expected_type),
                    ErrorKind::ParseError {
                        value,
                        expected_type,
                    } => {
                        // A single value: its name is the parameter holding that value.
                        let raw = RawPathParams::from_request_parts(parts, state).await.ok();
                        let key = raw
                            .iter()
                            .flat_map(|r| r.iter())
                            .find(|(k, v)| *k != "agency" && v == value)
                            .map(|(k, _)| k.to_string())
                            .unwrap_or_else(|| "path".to_string());
                        (key, *expected_type)
                    }
                    other => {
                        return Err(AppError::InvalidParams(vec![FieldError::new(
                            "path",
                            other.to_string(),
                        )]));
                    }
                };
                Err(AppError::InvalidParams(vec![FieldError::new(
                    field,
                    format!("must be {}", kind_of(expected)),
                )]))
            }
            Err(other) => Err(AppError::BadRequest(other.body_text())),
        }
    }
}

/// A Rust type as a client reads it.
fn kind_of(type_name: &str) -> &'static str {
    match type_name {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "a whole number"
        }
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        _ => "of the documented type",
    }
}

/// The standard library's parse messages, in plain words.
fn plain(message: &str) -> String {
    match message {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be a whole number".to_string()
        }
        "number too large to fit in target type" | "number too small to fit in target type" => {
            "is out of range".to_string()
        }
        "provided string was not `true` or `false`" => "must be true or false".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct P {
        year: Option<i32>,
        flag: Option<bool>,
    }

    fn fields(e: AppError) -> Vec<FieldError> {
        match e {
            AppError::InvalidParams(f) => f,
            other => panic!("expected invalid parameters, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_query_value_is_named() {
        let f = fields(parse_query::<P>("year=abc").unwrap_err());
        assert_eq!(f, [FieldError::new("year", "must be a whole number")]);
        let f = fields(parse_query::<P>("flag=maybe").unwrap_err());
        assert_eq!(f, [FieldError::new("flag", "must be true or false")]);
        let p = parse_query::<P>("year=2017").unwrap();
        assert_eq!(p.year, Some(2017));
        assert!(parse_query::<P>("").unwrap().year.is_none());
    }
}
