//! Surveys: community surveys (public link, QR code, flyer), post-contact surveys (single-use
//! invitations from CAD/RMS contact events), officer feedback cards, and anonymous employee
//! surveys; answering them; and their results (intervals, trends, breakdowns, weighting to the
//! census, free-text themes) and exports.

pub mod aggregate;
pub mod model;
pub mod results;
pub mod store;
pub mod templates;
pub mod themes;
pub mod writer;
pub mod xlsform;
