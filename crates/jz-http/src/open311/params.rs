//! Open311 parameters from the query string, `application/x-www-form-urlencoded` bodies and
//! `multipart/form-data` bodies (media files in `media`/`media[]`, FixMyStreet's `photo1…` and
//! `file_*` parts, parts with or without a Content-Type). An empty parameter is an absent one.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

use super::error::Open311Error;

/// Parameters in the order they came; several values per name are kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The parameters of a query string (`+` is a space, as in forms).
    pub(crate) fn from_query(query: Option<&str>) -> Params {
        let mut params = Params::default();
        params.extend_urlencoded(query.unwrap_or("").as_bytes());
        params
    }

    fn extend_urlencoded(&mut self, bytes: &[u8]) {
        self.pairs
            .extend(form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }

    fn push(&mut self, name: String, value: String) {
        self.pairs.push((name, value));
    }

    /// The first non-empty value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name` (and of `name[]`).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        let listed = format!("{name}[]");
        self.pairs
            .iter()
            .filter(|(k, v)| (k == name || *k == listed) && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A comma-separated list (`service_code=a,b`, also given as repeated parameters).
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        let mut items: Vec<String> = Vec::new();
        for value in self.all(name) {
            for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                if !items.iter().any(|i| i == item) {
                    items.push(item.to_owned());
                }
            }
        }
        items
    }

    /// Attribute answers: `attribute[CODE]=v` and `attribute[CODE][]=v1&attribute[CODE][]=v2`.
    pub(crate) fn attributes(&self) -> BTreeMap<String, Vec<String>> {
        let mut answers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &self.pairs {
            let Some(inner) = name.strip_prefix("attribute[") else {
                continue;
            };
            let code = inner
                .strip_suffix("][]")
                .or_else(|| inner.strip_suffix(']'))
                .filter(|c| !c.is_empty() && !c.contains(['[', ']']));
            if let Some(code) = code {
                answers
                    .entry(code.to_owned())
                    .or_default()
                    .push(value.clone());
            }
        }
        answers
    }
}

/// A file part of a multipart body.
#[derive(Debug, Clone)]
pub(crate) struct MediaFile {
    pub part: String,
    pub bytes: Vec<u8>,
}

/// A POST body with the query string's parameters.
#[derive(Debug, Default)]
pub(crate) struct Submission {
    pub params: Params,
    pub files: Vec<MediaFile>,
}

/// Whether a multipart part carries a media file rather than a parameter.
fn is_file_part(name: &str, has_file_name: bool) -> bool {
    let photo = name
        .strip_prefix("photo")
        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    name == "media" || name == "media[]" || photo || name.starts_with("file_") || has_file_name
}

/// The parameters of a POST: the query string's, then the body's (form-encoded when the
/// Content-Type says so or says nothing; multipart with files).
pub(crate) async fn read_submission(
    request: Request,
    max_bytes: usize,
) -> Result<Submission, Open311Error> {
    let mut submission = Submission {
        params: Params::from_query(request.uri().query()),
        files: Vec::new(),
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    match essence.as_str() {
        "multipart/form-data" => {
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|e| Open311Error::bad(format!("the multipart body is unreadable: {e}")))?;
            loop {
                let field = multipart.next_field().await.map_err(|e| {
                    Open311Error::bad(format!("the multipart body is unreadable: {e}"))
                })?;
                let Some(field) = field else { break };
                let name = field.name().unwrap_or_default().to_owned();
                let has_file_name = field.file_name().is_some_and(|n| !n.is_empty());
                let bytes = field.bytes().await.map_err(|e| {
                    Open311Error::bad(format!("{name}: the part is unreadable: {e}"))
                })?;
                if is_file_part(&name, has_file_name) {
                    if !bytes.is_empty() {
                        submission.files.push(MediaFile {
                            part: name,
                            bytes: bytes.to_vec(),
                        });
                    }
                } else {
                    let value = String::from_utf8(bytes.to_vec())
                        .map_err(|_| Open311Error::bad(format!("{name}: not UTF-8 text")))?;
                    submission.params.push(name, value);
                }
            }
        }
        "" | "application/x-www-form-urlencoded" => {
            let bytes = axum::body::to_bytes(request.into_body(), max_bytes)
                .await
                .map_err(|_| {
                    Open311Error::bad(format!(
                        "the body is unreadable or larger than {max_bytes} bytes"
                    ))
                })?;
            submission.params.extend_urlencoded(&bytes);
        }
        other => {
            return Err(Open311Error::bad(format!(
                "Content-Type {other} is not accepted; send application/x-www-form-urlencoded or multipart/form-data"
            )));
        }
    }
    Ok(submission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parameters_are_absent_and_attributes_are_decoded() {
        let params = Params::from_query(Some(
            "jurisdiction_id=&service_code=06010,%2006028&service_code=06010&attribute%5Bkinds%5D%5B%5D=a&attribute[kinds][]=b&attribute[volume]=small&attribute[]=x&attribute[a]b]=y&start_date=2026-10-08T10:00:00+08:00",
        ));
        assert_eq!(params.get("jurisdiction_id"), None);
        assert_eq!(params.list("service_code"), ["06010", "06028"]);
        let attributes = params.attributes();
        assert_eq!(attributes["kinds"], ["a", "b"]);
        assert_eq!(attributes["volume"], ["small"]);
        assert_eq!(attributes.len(), 2);
        assert_eq!(
            params.get("start_date"),
            Some("2026-10-08T10:00:00 08:00"),
            "an unencoded `+` arrives as a space"
        );
        assert!(is_file_part("photo1", false));
        assert!(is_file_part("media[]", false));
        assert!(!is_file_part("description", false));
        assert!(is_file_part("picture", true));
    }
}
