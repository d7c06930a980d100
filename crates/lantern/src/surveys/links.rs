//! Ways to reach a survey: public links with channel tags, QR codes (SVG and PNG), officer
//! card links that cannot be forged for another officer, and invitation tokens.

use qrcode::{Color, EcLevel, QrCode};

use crate::platform::secrets::{Key, equal, random_token, sha256_hex};

/// Channel tags a link may carry (`?src=`): letters, digits, '-' and '_', at most 32.
pub fn clean_channel(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(32)
        .collect::<String>()
        .to_lowercase()
}

/// The usual channels, offered on the survey's page.
pub const CHANNELS: [(&str, &str); 5] = [
    ("flyer", "Printed flyer"),
    ("social", "Social media"),
    ("event", "Community event"),
    ("web", "Agency website"),
    ("sms", "Text message"),
];

/// The part of an officer card link that names the officer: `{id}.{signature}`.
pub fn officer_token(key: &Key, survey_id: i64, officer_id: i64) -> String {
    let sig = key.sign(
        "officer-card",
        format!("{survey_id}:{officer_id}").as_bytes(),
    );
    format!("{officer_id}.{}", &sig[..12])
}

/// The officer a card link names, if its signature is right for this survey.
pub fn officer_from_token(key: &Key, survey_id: i64, token: &str) -> Option<i64> {
    let (id, _) = token.split_once('.')?;
    let id: i64 = id.parse().ok()?;
    equal(&officer_token(key, survey_id, id), token).then_some(id)
}

/// A new single-use invitation token and the hash stored for it.
pub fn new_invitation_token() -> (String, String) {
    let token = random_token(24);
    let hash = sha256_hex(token.as_bytes());
    (token, hash)
}

/// The token of a post-contact invitation (43 characters, 256 bits): an HMAC of the
/// invitation's identity under the deployment key. Only its hash is stored, as for any
/// invitation, yet the delivery worker can make the same link again for a retry or the
/// reminder, so no copy of the token (plain or encrypted) needs to be kept anywhere.
///
/// Why derived rather than random: a random token would have to be sent in the request that
/// made it or kept somewhere until sent (a durable outbox holding live links), and the
/// reminder would need either that copy or a fresh token that kills the first message's link.
/// The cost is that whoever holds the deployment key (it lives in the database's `instance`
/// table) can compute links, which is no more than what encrypting stored tokens under that
/// key would give them; such a reader already sees the contact details themselves.
/// One invitation per contact and survey (a unique index) makes the identity unique.
pub fn invitation_token(key: &Key, agency_id: i64, survey_id: i64, contact_id: i64) -> String {
    key.sign(
        "invitation",
        format!("{agency_id}:{survey_id}:{contact_id}").as_bytes(),
    )
}

pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

fn qr(url: &str) -> Option<QrCode> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()
}

/// The QR code as SVG, sized to print.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = qr(url)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].to_string())
}

/// The QR code as a black-and-white PNG, `scale` pixels per module, with the standard quiet
/// zone of four modules.
pub fn qr_png(url: &str, scale: u32) -> Option<Vec<u8>> {
    let code = qr(url)?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let quiet = 4;
    let size = (modules + 2 * quiet) * scale;
    let mut pixels = vec![255u8; (size * size) as usize];
    for y in 0..modules {
        for x in 0..modules {
            if colors[(y * modules + x) as usize] == Color::Dark {
                for dy in 0..scale {
                    let row = (y + quiet) * scale + dy;
                    let start = (row * size + (x + quiet) * scale) as usize;
                    pixels[start..start + scale as usize].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_cleaned() {
        assert_eq!(clean_channel("Flyer"), "flyer");
        assert_eq!(clean_channel("event<script>"), "eventscript");
        assert_eq!(clean_channel(&"x".repeat(50)).len(), 32);
    }

    #[test]
    fn officer_links_cannot_be_forged() {
        let key = Key::fixed([7; 32]);
        let t = officer_token(&key, 3, 42);
        assert_eq!(officer_from_token(&key, 3, &t), Some(42));
        assert_eq!(officer_from_token(&key, 4, &t), None, "another survey");
        let forged = t.replacen("42.", "43.", 1);
        assert_eq!(
            officer_from_token(&key, 3, &forged),
            None,
            "another officer"
        );
        assert_eq!(officer_from_token(&key, 3, "42"), None);
    }

    #[test]
    fn invitation_tokens_are_long_and_tied_to_their_invitation() {
        let key = Key::fixed([9; 32]);
        let t = invitation_token(&key, 1, 2, 3);
        assert_eq!(t.len(), 43);
        assert_eq!(
            t,
            invitation_token(&key, 1, 2, 3),
            "the same link every time"
        );
        assert_ne!(t, invitation_token(&key, 1, 2, 4));
        assert_ne!(t, invitation_token(&key, 1, 3, 3));
        assert_ne!(t, invitation_token(&Key::fixed([8; 32]), 1, 2, 3));
    }

    #[test]
    fn qr_codes_render() {
        let url = "https://lantern.example.gov/riverton/s/abcd2345?src=flyer";
        let svg = qr_svg(url).unwrap();
        assert!(svg.starts_with("<svg"));
        let png = qr_png(url, 8).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
