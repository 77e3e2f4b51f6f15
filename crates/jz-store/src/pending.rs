//! Tallies summed per row, and their compact encoding for the `tally_pending` table.
//!
//! The writer does not run a transaction's tallies against their rows: it appends the
//! transaction's sums, encoded as one `tally_pending` row, in the same transaction (so nothing
//! acknowledged is lost on a crash), keeps the running sums in memory, and every
//! [`crate::WriterOptions::tally_fold_interval`] — or when a reader asks, through
//! [`crate::Store::fold_tallies`] — runs one upsert per row and deletes the pending rows, in one
//! transaction. On open, pending rows a crash left behind are folded the same way.
//!
//! Why: the evaluation counters of a busy hour's transactions touched ~150 database pages per
//! commit (a page per city/district/street/community/zone row), rewritten by the next commit
//! again; one appended row per commit and a fold every couple of seconds write each row once.

use std::borrow::Cow;

use crate::StoreError;
use crate::change::{Arg, Tally};

fn same_arg(a: &Arg, b: &Arg) -> bool {
    match (a, b) {
        (Arg::Int(x), Arg::Int(y)) => x == y,
        (Arg::Real(x), Arg::Real(y)) => x.map(f64::to_bits) == y.map(f64::to_bits),
        (Arg::Text(x), Arg::Text(y)) => x == y,
        (Arg::Bytes(x), Arg::Bytes(y)) => x == y,
        _ => false,
    }
}

/// One row's statement, key (compared bit for bit) and running sums.
#[derive(Debug, Clone)]
struct Row {
    sql: Cow<'static, str>,
    key: Vec<Arg>,
    deltas: Vec<i64>,
    /// The next row with the same hash, or `usize::MAX`.
    next: usize,
}

/// Tallies summed per row, in the order rows were first named.
///
/// Rows are found by a hash of the borrowed SQL and key, so adding to a row already named
/// allocates nothing (the writer sums every tally of every change here).
#[derive(Debug, Default, Clone)]
pub(crate) struct TallySums {
    rows: Vec<Row>,
    /// Hash of (SQL, key) → the last row named with that hash (the head of a chain via `next`).
    at: foldhash::HashMap<u64, usize>,
    hasher: foldhash::fast::RandomState,
}

impl TallySums {
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows named so far (some may sum to zero).
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    fn hash(&self, sql: &str, key: &[Arg]) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut state = self.hasher.build_hasher();
        // The statement by its length only: its text is long (hashing it for every tally was
        // ~1 % of the writer) and the key tells rows apart; `find` compares the text.
        sql.len().hash(&mut state);
        for arg in key {
            match arg {
                Arg::Int(v) => (0u8, v).hash(&mut state),
                Arg::Real(v) => (1u8, v.map(f64::to_bits)).hash(&mut state),
                Arg::Text(v) => (2u8, v).hash(&mut state),
                Arg::Bytes(v) => (3u8, v).hash(&mut state),
            }
        }
        state.finish()
    }

    fn find(&self, hash: u64, sql: &str, key: &[Arg]) -> Option<usize> {
        let mut at = *self.at.get(&hash)?;
        while let Some(row) = self.rows.get(at) {
            if (std::ptr::eq(row.sql.as_ptr(), sql.as_ptr()) && row.sql.len() == sql.len()
                || row.sql == sql)
                && row.key.len() == key.len()
                && row.key.iter().zip(key).all(|(a, b)| same_arg(a, b))
            {
                return Some(at);
            }
            at = row.next;
        }
        None
    }

    /// Adds `deltas` to the row of `sql` and `key`. Takes the `Cow` itself so a new row keeps a
    /// borrowed statement borrowed (cloning it is then free).
    #[allow(clippy::ptr_arg)]
    pub(crate) fn add(&mut self, sql: &Cow<'static, str>, key: &[Arg], deltas: &[i64]) {
        let hash = self.hash(sql, key);
        match self.find(hash, sql, key) {
            Some(at) => {
                let sums = &mut self.rows[at].deltas;
                sums.resize(sums.len().max(deltas.len()), 0);
                for (sum, delta) in sums.iter_mut().zip(deltas) {
                    *sum += delta;
                }
            }
            None => {
                let next = self.at.insert(hash, self.rows.len()).unwrap_or(usize::MAX);
                self.rows.push(Row {
                    sql: sql.clone(),
                    key: key.to_vec(),
                    deltas: deltas.to_vec(),
                    next,
                });
            }
        }
    }

    pub(crate) fn add_tally(&mut self, tally: &Tally) {
        self.add(&tally.sql, &tally.key, &tally.deltas);
    }

    /// Adds every row of `other`.
    pub(crate) fn merge(&mut self, other: &TallySums) {
        for row in &other.rows {
            self.add(&row.sql, &row.key, &row.deltas);
        }
    }

    /// Sets the row of `sql` and `key` to zero (one whose statement fails), so it is left out.
    pub(crate) fn forget(&mut self, sql: &str, key: &[Arg]) {
        let hash = self.hash(sql, key);
        if let Some(at) = self.find(hash, sql, key) {
            self.rows[at].deltas.iter_mut().for_each(|d| *d = 0);
        }
    }

    /// The rows whose sums are not all zero, each as its statement's SQL, its key, and its
    /// arguments (the key, then the sums).
    pub(crate) fn statements(&self) -> Vec<(&str, &[Arg], Vec<Arg>)> {
        self.live()
            .map(|row| {
                let args = row
                    .key
                    .iter()
                    .cloned()
                    .chain(row.deltas.iter().map(|d| Arg::from(*d)))
                    .collect();
                (row.sql.as_ref(), row.key.as_slice(), args)
            })
            .collect()
    }

    fn live(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(|row| row.deltas.iter().any(|d| *d != 0))
    }

    /// The rows whose sums are not all zero, encoded for `tally_pending.body`; `None` when
    /// there are none.
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let live: Vec<&Row> = self.live().collect();
        if live.is_empty() {
            return None;
        }
        let mut texts: Vec<&str> = Vec::new();
        let mut out = vec![FORMAT];
        let mut body = Vec::new();
        for row in &live {
            let text = match texts.iter().position(|t| *t == row.sql.as_ref()) {
                Some(i) => i,
                None => {
                    texts.push(row.sql.as_ref());
                    texts.len() - 1
                }
            };
            put_uint(&mut body, text as u64);
            put_uint(&mut body, row.key.len() as u64);
            for arg in &row.key {
                put_arg(&mut body, arg);
            }
            put_uint(&mut body, row.deltas.len() as u64);
            for delta in &row.deltas {
                put_int(&mut body, *delta);
            }
        }
        put_uint(&mut out, texts.len() as u64);
        for text in &texts {
            put_bytes(&mut out, text.as_bytes());
        }
        put_uint(&mut out, live.len() as u64);
        out.extend_from_slice(&body);
        Some(out)
    }

    /// Adds the rows of an encoded body.
    pub(crate) fn add_encoded(&mut self, body: &[u8]) -> Result<(), StoreError> {
        let mut input = Reader { rest: body };
        let format = input.byte()?;
        if format != FORMAT {
            return Err(corrupt(format!("unknown format {format}")));
        }
        let mut texts: Vec<Cow<'static, str>> = Vec::new();
        for _ in 0..input.uint()? {
            let bytes = input.bytes()?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| corrupt("a statement is not UTF-8".into()))?;
            texts.push(Cow::Owned(text));
        }
        for _ in 0..input.uint()? {
            let text = texts
                .get(usize::try_from(input.uint()?).unwrap_or(usize::MAX))
                .ok_or_else(|| corrupt("a row names no statement".into()))?
                .clone();
            let mut key = Vec::new();
            for _ in 0..input.uint()? {
                key.push(input.arg()?);
            }
            let mut deltas = Vec::new();
            for _ in 0..input.uint()? {
                deltas.push(input.int()?);
            }
            self.add(&text, &key, &deltas);
        }
        if !input.rest.is_empty() {
            return Err(corrupt("bytes after the last row".into()));
        }
        Ok(())
    }
}

const FORMAT: u8 = 1;

fn corrupt(what: String) -> StoreError {
    StoreError::Database(format!("a pending tally row cannot be read: {what}").into())
}

/// LEB128.
fn put_uint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Zigzag, then LEB128: small magnitudes of either sign take one byte.
fn put_int(out: &mut Vec<u8>, value: i64) {
    put_uint(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_uint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A tag (the kind, +4 when NULL), then the value.
fn put_arg(out: &mut Vec<u8>, arg: &Arg) {
    match arg {
        Arg::Int(Some(v)) => {
            out.push(0);
            put_int(out, *v);
        }
        Arg::Real(Some(v)) => {
            out.push(1);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Arg::Text(Some(v)) => {
            out.push(2);
            put_bytes(out, v.as_bytes());
        }
        Arg::Bytes(Some(v)) => {
            out.push(3);
            put_bytes(out, v);
        }
        Arg::Int(None) => out.push(4),
        Arg::Real(None) => out.push(5),
        Arg::Text(None) => out.push(6),
        Arg::Bytes(None) => out.push(7),
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.rest.len() < n {
            return Err(corrupt("it ends early".into()));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self) -> Result<u64, StoreError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("a number is too long".into()))
    }

    fn int(&mut self) -> Result<i64, StoreError> {
        let zigzag = self.uint()?;
        Ok(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let len = usize::try_from(self.uint()?).unwrap_or(usize::MAX);
        self.take(len)
    }

    fn arg(&mut self) -> Result<Arg, StoreError> {
        Ok(match self.byte()? {
            0 => Arg::Int(Some(self.int()?)),
            1 => {
                let bits: [u8; 8] = self.take(8)?.try_into().unwrap_or([0; 8]);
                Arg::Real(Some(f64::from_bits(u64::from_le_bytes(bits))))
            }
            2 => Arg::Text(Some(
                String::from_utf8(self.bytes()?.to_vec())
                    .map_err(|_| corrupt("a key is not UTF-8".into()))?,
            )),
            3 => Arg::Bytes(Some(self.bytes()?.to_vec())),
            4 => Arg::Int(None),
            5 => Arg::Real(None),
            6 => Arg::Text(None),
            7 => Arg::Bytes(None),
            other => return Err(corrupt(format!("unknown value tag {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPSERT: &str = "INSERT INTO t (k, d, a, b) VALUES ($1, $2, $3, $4) ON CONFLICT DO UPDATE SET a = t.a + excluded.a";

    fn sums(rows: &[(&'static str, Vec<Arg>, Vec<i64>)]) -> TallySums {
        let mut sums = TallySums::default();
        for (sql, key, deltas) in rows {
            sums.add(&Cow::Borrowed(*sql), key, deltas);
        }
        sums
    }

    #[test]
    fn sums_add_per_row_and_leave_out_rows_that_cancel() {
        let s = sums(&[
            (UPSERT, vec!["a".into(), 1.into()], vec![1, 2]),
            (UPSERT, vec!["b".into(), 1.into()], vec![5]),
            (UPSERT, vec!["a".into(), 1.into()], vec![3, -2, 7]),
            (UPSERT, vec!["b".into(), 1.into()], vec![-5]),
            ("other", vec!["a".into(), 1.into()], vec![1]),
        ]);
        let statements = s.statements();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].0, UPSERT);
        assert_eq!(
            statements[0].2,
            vec!["a".into(), 1.into(), 4.into(), 0.into(), 7.into()]
        );
        assert_eq!(statements[1].0, "other");
    }

    #[test]
    fn every_kind_of_key_survives_encoding_bit_for_bit() {
        let key = vec![
            Arg::Int(Some(i64::MIN)),
            Arg::Int(Some(i64::MAX)),
            Arg::Int(Some(-1)),
            Arg::Real(Some(-0.0)),
            Arg::Real(Some(f64::NAN)),
            Arg::Text(Some("黄浦区 310101".into())),
            Arg::Bytes(Some(vec![0, 255, 7])),
            Arg::Int(None),
            Arg::Real(None),
            Arg::Text(None),
            Arg::Bytes(None),
        ];
        let original = sums(&[
            (UPSERT, key.clone(), vec![i64::MIN, i64::MAX, 0, -300, 300]),
            ("other", vec![Arg::Text(Some(String::new()))], vec![1]),
            (UPSERT, vec!["x".into()], vec![0, 0]),
        ]);
        let body = original.encode().unwrap();
        let mut read = TallySums::default();
        read.add_encoded(&body).unwrap();
        // The row that sums to zero is not written.
        assert_eq!(read.len(), 2);
        assert_eq!(read.encode().unwrap(), body);
        let small = sums(&[("other", vec![Arg::Text(Some(String::new()))], vec![1, -7])])
            .encode()
            .unwrap();
        let mut twice = TallySums::default();
        twice.add_encoded(&small).unwrap();
        twice.add_encoded(&small).unwrap();
        assert_eq!(
            twice.statements()[0].2,
            vec!["".into(), 2.into(), (-14).into()]
        );
        let (_, _, args) = &read.statements()[0];
        assert_eq!(args.len(), key.len() + 5);
        assert_eq!(args[key.len()], Arg::Int(Some(i64::MIN)));
        assert_eq!(args[key.len() + 1], Arg::Int(Some(i64::MAX)));
        assert!(matches!(args[4], Arg::Real(Some(v)) if v.is_nan()));
        assert!(matches!(args[3], Arg::Real(Some(v)) if v.to_bits() == (-0.0f64).to_bits()));
        assert_eq!(args[0], Arg::Int(Some(i64::MIN)));
        assert_eq!(args[9], Arg::Text(None));
    }

    #[test]
    fn nothing_to_encode_when_every_row_cancels() {
        let s = sums(&[
            (UPSERT, vec!["a".into()], vec![1]),
            (UPSERT, vec!["a".into()], vec![-1]),
        ]);
        assert_eq!(s.encode(), None);
        assert!(s.statements().is_empty());
    }

    #[test]
    fn a_damaged_body_is_refused_with_a_reason() {
        let body = sums(&[(UPSERT, vec!["a".into()], vec![1])])
            .encode()
            .unwrap();
        for cut in 0..body.len() {
            let mut s = TallySums::default();
            let error = s.add_encoded(&body[..cut]).unwrap_err().to_string();
            assert!(error.contains("pending tally"), "{error}");
        }
        let mut longer = body.clone();
        longer.push(0);
        assert!(TallySums::default().add_encoded(&longer).is_err());
        let mut wrong = body;
        wrong[0] = 9;
        assert!(
            TallySums::default()
                .add_encoded(&wrong)
                .unwrap_err()
                .to_string()
                .contains("unknown format 9")
        );
    }
}
