//! Publishing: the one interface through which a slice puts numbers in front of the public.
//!
//! A slice publishes *measures*: an id, a title, the query over its analysis store, the table
//! it gives, the chart drawn from that table, and its methodology. It groups them in a
//! [`Topic`] (a page of the portal), which computes its measures together so a page reads the
//! store once. The portal, the open-data downloads and the catalogue read topics from the
//! [`Registry`] and know no slice, so a new slice appears everywhere by registering its topic
//! (in `crate::app::state`), not by editing the portal.
//!
//! Privacy lives in the data: a measure's [`PublicTable`] holds its numbers as
//! [`Disclosed`] values, already withheld (small cells and their complements) by the slice's
//! own analysis, and the chart is drawn from that table by the portal. A page, a chart, a CSV
//! and a JSON file of one measure therefore show the same cells and withhold the same cells.
//!
//! Nothing is public until an analyst publishes it ([`store`]): a publication names the
//! measures and the years, and the portal shows only those.

use async_trait::async_trait;
use serde::Serialize;
use stats::disclosure::Disclosed;

use crate::platform::agencies::Agency;
use crate::platform::error::AppError;
use crate::state::AppState;
use crate::web::i18n::Lang;

pub mod records;
pub mod store;
pub mod table;

pub use records::{RecordBatch, RecordColumn, RecordFile, RecordStream};
pub use table::{Column, Kind, PublicTable, Value};

/// The filters a visitor can set in the URL. Each is empty for "all". Years are text ("2017")
/// as the stores keep them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct Selection {
    #[serde(default)]
    pub year: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub stop_type: String,
}

impl Selection {
    /// The query string that gives this selection back (`year=2017&district=D2`), empty
    /// when nothing is chosen: every view is a link someone can share.
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("year", &self.year),
            ("district", &self.district),
            ("stop_type", &self.stop_type),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

/// What a measure's methodology says, in the visitor's language.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Method {
    /// What the measure shows.
    pub shows: String,
    /// What it cannot show: benchmark caveats, denominators, infra-marginality.
    pub limits: String,
    /// How it is computed.
    pub computed: String,
    /// Published sources of the method.
    pub references: Vec<String>,
}

/// How the portal draws a measure's chart from its table (never from other numbers).
#[derive(Clone, Copy, Debug)]
pub enum ChartSpec {
    /// Horizontal bars, one per row: the label column, the value column, and optionally the
    /// columns of the interval's ends. A row withheld in the table has no bar.
    Bars {
        label: usize,
        value: usize,
        interval: Option<(usize, usize)>,
        /// A reference line (e.g. a ratio of 1).
        reference: Option<f64>,
    },
    /// Lines over the rows (the x axis is the label column), one per value column.
    Lines {
        label: usize,
        values: &'static [usize],
    },
}

/// A figure for the overview: the newest year's value of a measure, and its years before.
#[derive(Clone, Debug)]
pub struct Headline {
    /// The measure it summarises (the overview links to it, and shows it only if published).
    pub measure: &'static str,
    /// "Stops", "Searches".
    pub label: String,
    /// (year, value) in order; values withheld like any cell.
    pub series: Vec<(String, Disclosed<f64>)>,
    pub kind: Kind,
}

/// One computed measure, ready for every view.
#[derive(Clone, Debug)]
pub struct View {
    /// The measure's id, `topic.name` (`stops.search_rate`).
    pub id: &'static str,
    pub title: String,
    /// One plain-language sentence a resident understands ("Black drivers were searched 1.9
    /// times as often as White drivers"). Empty when nothing can be said.
    pub summary: String,
    pub table: PublicTable,
    pub chart: Option<ChartSpec>,
    /// What to keep in mind reading it.
    pub caution: String,
}

/// A measure as the publish page and the methodology page list it.
#[derive(Clone, Debug)]
pub struct MeasureInfo {
    /// Stable id, `topic.name`: publications, URLs and files use it.
    pub id: &'static str,
    pub title: String,
    pub method: Method,
}

/// The values a filter can take, for the portal's filter form: (value, label).
#[derive(Clone, Debug, Default)]
pub struct Choices {
    pub years: Vec<String>,
    pub districts: Vec<(String, String)>,
    pub stop_types: Vec<(String, String)>,
}

/// What a topic computes for one selection: its measures, and the figures for the overview.
#[derive(Clone, Debug, Default)]
pub struct Computed {
    pub views: Vec<View>,
    pub headlines: Vec<Headline>,
    /// The newest month the data covers ("2026-10"), said as "data through …".
    pub data_through: Option<String>,
}

/// A slice's topic: a page of the portal (`/{agency}/data/{id}`) and the measures on it,
/// computed together so a page reads the slice's analysis store once.
#[async_trait]
pub trait Topic: Send + Sync {
    /// The URL segment, e.g. "stops".
    fn id(&self) -> &'static str;
    fn title(&self, lang: Lang) -> String;
    /// A paragraph introducing the page.
    fn intro(&self, lang: Lang) -> String;
    fn measures(&self, lang: Lang) -> Vec<MeasureInfo>;
    /// What the filters can be set to (only years in `published_years` are offered).
    async fn choices(
        &self,
        state: &AppState,
        agency: &Agency,
        lang: Lang,
    ) -> Result<Choices, AppError>;
    /// What the topic's numbers depend on, as a short text that changes when they do (the
    /// newest import, say): the portal's cache and ETags are keyed by it. A topic whose data
    /// changes without such a marker may leave the default, and its pages are then refreshed
    /// only by a publication or the cache's page lifetime.
    async fn version(&self, _state: &AppState, _agency: &Agency) -> Result<String, AppError> {
        Ok(String::new())
    }
    /// The measures in `wanted` for a selection the caller has checked against
    /// [`Topic::choices`]. The headlines are computed over the years in `years`.
    async fn compute(
        &self,
        state: &AppState,
        agency: &Agency,
        selection: &Selection,
        years: &[String],
        wanted: &[&str],
        lang: Lang,
    ) -> Result<Computed, AppError>;

    /// The topic's record-level open-data file (one de-identified row per event), if it has
    /// one. It is published like a measure, under [`RecordFile::id`].
    fn records(&self, _lang: Lang) -> Option<RecordFile> {
        None
    }

    /// The rows of [`Topic::records`] for the published `years`, de-identified by the
    /// topic's rules and streamed a batch at a time: memory must not grow with the rows.
    async fn record_rows(
        &self,
        _state: &AppState,
        _agency: &Agency,
        _years: &[String],
    ) -> Result<RecordStream, AppError> {
        Err(AppError::NotFound)
    }
}

/// Every slice's topics, in the order the portal shows them.
#[derive(Default)]
pub struct Registry {
    topics: Vec<Box<dyn Topic>>,
}

impl Registry {
    pub fn add(&mut self, topic: impl Topic + 'static) -> &mut Registry {
        assert!(
            self.get(topic.id()).is_none(),
            "topic {} registered twice",
            topic.id()
        );
        self.topics.push(Box::new(topic));
        self
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Topic> {
        self.topics.iter().map(|t| t.as_ref())
    }

    pub fn get(&self, id: &str) -> Option<&dyn Topic> {
        self.all().find(|t| t.id() == id)
    }

    /// The topic a measure id belongs to (`stops.search_rate` → the stops topic).
    pub fn topic_of(&self, measure: &str) -> Option<&dyn Topic> {
        let (topic, _) = measure.split_once('.')?;
        self.get(topic)
    }
}

impl AppState {
    /// The topics and measures every slice publishes.
    pub fn measures(&self) -> &Registry {
        self.part::<Registry>()
    }
}
