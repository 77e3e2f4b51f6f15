//! Open311's two wire formats from one tree: XML (schemaless, no namespace, an XML declaration
//! with `encoding="utf-8"`, lists as a container element of item elements, null as an empty
//! element) and JSON (lists as bare arrays, null as `null`), written by hand with proper
//! escaping so both say exactly the same thing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The format a resource was asked in, by its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Xml,
    Json,
}

impl Format {
    /// The format of a suffix (`xml`, `json`; case-insensitive).
    pub(crate) fn from_suffix(suffix: &str) -> Option<Format> {
        if suffix.eq_ignore_ascii_case("xml") {
            Some(Format::Xml)
        } else if suffix.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else {
            None
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "text/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        }
    }
}

/// A value of an answer, before it is written in either format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Number(f64),
    Text(String),
    /// A list; in XML each item is an element of this name inside the list's element.
    List(&'static str, Vec<Node>),
    /// Named fields, in order.
    Object(Vec<(&'static str, Node)>),
}

impl Node {
    pub(crate) fn text(text: impl Into<String>) -> Node {
        Node::Text(text.into())
    }

    /// Text, or null when absent.
    pub(crate) fn opt(text: Option<impl Into<String>>) -> Node {
        text.map_or(Node::Null, |t| Node::Text(t.into()))
    }

    /// Renders the node as a whole document whose XML root element is `root`.
    pub(crate) fn render(&self, format: Format, root: &str) -> String {
        let mut out = String::new();
        match format {
            Format::Json => json(self, &mut out),
            Format::Xml => {
                out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
                xml_element(root, self, &mut out);
                out.push('\n');
            }
        }
        out
    }
}

fn number_text(number: f64) -> Option<String> {
    serde_json::Number::from_f64(number).map(|n| n.to_string())
}

fn json(node: &Node, out: &mut String) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Number(n) => out.push_str(&number_text(*n).unwrap_or_else(|| "null".into())),
        Node::Text(text) => out.push_str(&serde_json::to_string(text).expect("strings serialize")),
        Node::List(_, items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                json(item, out);
            }
            out.push(']');
        }
        Node::Object(fields) => {
            out.push('{');
            for (index, (name, value)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(name).expect("strings serialize"));
                out.push(':');
                json(value, out);
            }
            out.push('}');
        }
    }
}

/// Escapes text for XML content, dropping the characters XML 1.0 cannot carry at all.
pub(crate) fn xml_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept through parsers' line-end normalisation.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

fn xml_element(name: &str, node: &Node, out: &mut String) {
    let empty = match node {
        Node::Null => true,
        Node::Text(t) => t.is_empty(),
        Node::List(_, items) => items.is_empty(),
        Node::Object(fields) => fields.is_empty(),
        Node::Number(n) => !n.is_finite(),
        _ => false,
    };
    if empty {
        out.push('<');
        out.push_str(name);
        out.push_str("/>");
        return;
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    match node {
        Node::Null => {}
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Number(n) => out.push_str(&number_text(*n).unwrap_or_default()),
        Node::Text(text) => xml_escape(text, out),
        Node::List(item, items) => {
            for value in items {
                xml_element(item, value, out);
            }
        }
        Node::Object(fields) => {
            for (field, value) in fields {
                xml_element(field, value, out);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// An answer in `format` with the given status.
pub(crate) fn respond(format: Format, status: StatusCode, root: &str, node: &Node) -> Response {
    let mut response = (status, node.render(format, root)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_say_the_same() {
        let node = Node::List(
            "request",
            vec![Node::Object(vec![
                ("service_request_id", Node::text("1")),
                ("description", Node::text("a < b & \"c\" 'd'\r\n\u{1}e")),
                ("lat", Node::Number(30.005)),
                ("metadata", Node::Bool(false)),
                ("order", Node::Int(2)),
                ("media_url", Node::Null),
                ("values", Node::List("value", vec![])),
            ])],
        );
        assert_eq!(
            node.render(Format::Json, "service_requests"),
            r#"[{"service_request_id":"1","description":"a < b & \"c\" 'd'\r\n\u0001e","lat":30.005,"metadata":false,"order":2,"media_url":null,"values":[]}]"#
        );
        assert_eq!(
            node.render(Format::Xml, "service_requests"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request><service_request_id>1</service_request_id><description>a &lt; b &amp; &quot;c&quot; &apos;d&apos;&#13;\ne</description><lat>30.005</lat><metadata>false</metadata><order>2</order><media_url/><values/></request></service_requests>\n"
        );
        assert_eq!(
            Node::List("request", vec![]).render(Format::Xml, "service_requests"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests/>\n"
        );
    }
}
