//! TOTP multi-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s), the kind every
//! authenticator app reads from a QR code.

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// A fresh 160-bit secret, base32 as authenticator apps show it.
pub fn new_secret() -> String {
    Secret::new(Box::new(crate::platform::secrets::random_bytes::<20>())).to_base32()
}

fn totp(secret_base32: &str, issuer: &str, account: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    // The otpauth label forbids ':' in issuer and account; nothing else in them matters.
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .ok()
}

/// The `otpauth://` URL an authenticator app enrols from.
pub fn otpauth_url(secret_base32: &str, issuer: &str, account: &str) -> Option<String> {
    totp(secret_base32, issuer, account)?.to_url().ok()
}

/// The enrolment QR code as inline SVG (no XML declaration), sized for a phone camera.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = image.find("<svg")?;
    Some(image[start..].to_string())
}

/// Checks a code at `unix` seconds, allowing one step of clock drift either way. Returns the
/// accepted time step, or None. A step at or before `last_step` is refused: each code works
/// once (RFC 6238 §5.2), so a code seen over someone's shoulder cannot be replayed.
pub fn check(secret_base32: &str, code: &str, unix: i64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) || unix < 0 {
        return None;
    }
    let step = totp(secret_base32, "Lantern", "x")?.check(&code, unix as u64)? as i64;
    match last_step {
        Some(last) if step <= last => None,
        _ => Some(step),
    }
}

/// The code an authenticator shows at `unix` seconds (for tests and the demo).
pub fn code_at(secret_base32: &str, unix: i64) -> Option<String> {
    Some(
        totp(secret_base32, "Lantern", "x")?
            .generate(unix.max(0) as u64)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B: the ASCII secret "12345678901234567890", SHA-1, 8 digits; the
    // 6-digit code is the last six of the 8-digit one.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn matches_rfc_6238_vectors() {
        for (t, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(RFC_SECRET, t).unwrap(), &eight[2..], "t={t}");
        }
    }

    #[test]
    fn accepts_one_step_of_drift_and_refuses_replay() {
        let t = 1_111_111_109;
        let code = code_at(RFC_SECRET, t).unwrap();
        let step = check(RFC_SECRET, &code, t, None).expect("current code");
        assert_eq!(step, t / 30);
        assert!(
            check(RFC_SECRET, &code, t + 30, None).is_some(),
            "one step late is fine"
        );
        assert!(
            check(RFC_SECRET, &code, t + 90, None).is_none(),
            "three steps late is not"
        );
        assert!(
            check(RFC_SECRET, &code, t, Some(step)).is_none(),
            "a used code is refused"
        );
        assert!(
            check(
                RFC_SECRET,
                &format!("{} {}", &code[..3], &code[3..]),
                t,
                None
            )
            .is_some()
        );
        assert!(check(RFC_SECRET, "12345", t, None).is_none());
        assert!(check(RFC_SECRET, "abcdef", t, None).is_none());
    }

    #[test]
    fn enrolment_url_and_qr() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        let url = otpauth_url(&secret, "Riverton Police: Lantern", "ana").unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains(&format!("secret={secret}")), "{url}");
        let svg = qr_svg(&url).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
