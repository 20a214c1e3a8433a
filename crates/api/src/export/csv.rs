//! Export rows as CSV for spreadsheets: UTF-8 with a byte-order mark (so that Excel reads the
//! Chinese right), RFC 4180 quoting, CRLF line ends.

use bytes::{BufMut, BytesMut};
use tasks::execution::export::Cell;

/// The byte-order mark that makes Excel read the file as UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Append one record of `cells` (text or numbers) to `out`.
pub fn record<'a>(out: &mut BytesMut, cells: impl IntoIterator<Item = CsvCell<'a>>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        match cell {
            CsvCell::Text(t) => field(out, t),
            CsvCell::Number(n) => out.put_slice(n.to_string().as_bytes()),
            CsvCell::Empty => {}
        }
    }
    out.put_slice(b"\r\n");
}

/// A cell as the CSV writer takes it.
pub enum CsvCell<'a> {
    /// Text.
    Text(&'a str),
    /// A whole number.
    Number(i64),
    /// Nothing.
    Empty,
}

impl<'a> From<&'a Cell> for CsvCell<'a> {
    fn from(c: &'a Cell) -> Self {
        match c {
            Cell::Text(t) => CsvCell::Text(t),
            Cell::Number(n) => CsvCell::Number(*n),
            Cell::Empty => CsvCell::Empty,
        }
    }
}

/// One field, quoted when it holds a comma, a quote or a line break (quotes doubled).
fn field(out: &mut BytesMut, t: &str) {
    if t.contains([',', '"', '\r', '\n']) {
        out.put_u8(b'"');
        out.put_slice(t.replace('"', "\"\"").as_bytes());
        out.put_u8(b'"');
    } else {
        out.put_slice(t.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_and_line_breaks_are_quoted() {
        let mut out = BytesMut::new();
        record(
            &mut out,
            [
                CsvCell::Number(7),
                CsvCell::Text("王,先生"),
                CsvCell::Text("say \"hi\""),
                CsvCell::Text("a\nb"),
                CsvCell::Empty,
                CsvCell::Text("plain"),
            ],
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "7,\"王,先生\",\"say \"\"hi\"\"\",\"a\nb\",,plain\r\n"
        );
    }
}
