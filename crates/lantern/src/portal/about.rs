//! About the data: what the portal publishes and what it never does (the privacy notice),
//! how the pages are made to be usable by everyone (the accessibility statement), and whom
//! to contact. Static text in the visitor's language, with the agency's own threshold and
//! contact details.

use askama::Template;
use axum::response::Response;

use crate::platform::agencies::Agency;
use crate::platform::error::AppResult;
use crate::web::ctx::Ctx;
use crate::web::page;

#[derive(Template)]
#[template(path = "portal/about_data.html")]
struct AboutData<'a> {
    ctx: &'a Ctx,
    agency: &'a Agency,
    threshold: String,
}

impl AboutData<'_> {
    fn has_contact(&self) -> bool {
        let a = self.agency;
        !(a.address.is_empty()
            && a.contact_phone.is_empty()
            && a.contact_email.is_empty()
            && a.website.is_empty())
    }
}

pub async fn about_data(ctx: Ctx) -> AppResult<Response> {
    let agency = ctx.agency()?;
    page(AboutData {
        ctx: &ctx,
        agency,
        threshold: agency.small_cell_threshold.to_string(),
    })
}
