//! `Bundle` of type `searchset` for search results.

use serde::Serialize;

/// `Bundle`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub resource_type: &'static str,
    #[serde(rename = "type")]
    pub bundle_type: &'static str,
    pub total: usize,
    pub entry: Vec<Entry>,
}

/// `Bundle.entry`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub full_url: String,
    pub resource: serde_json::Value,
    pub search: Search,
}

/// `Bundle.entry.search`.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// `match` (a hit) or `include` (a resource that came with one).
    pub mode: &'static str,
}

/// A searchset of `matches` (counted in `total`) and `includes` (not counted), each as
/// (`Type/id`, resource JSON). `base` is put in front of `Type/id` for `fullUrl`.
pub fn searchset(
    base: &str,
    matches: Vec<(String, serde_json::Value)>,
    includes: Vec<(String, serde_json::Value)>,
) -> Bundle {
    let total = matches.len();
    let entry = matches
        .into_iter()
        .map(|m| (m, "match"))
        .chain(includes.into_iter().map(|i| (i, "include")))
        .map(|((path, resource), mode)| Entry {
            full_url: format!("{}/{path}", base.trim_end_matches('/')),
            resource,
            search: Search { mode },
        })
        .collect();
    Bundle {
        resource_type: "Bundle",
        bundle_type: "searchset",
        total,
        entry,
    }
}
