//! Receiving a file: bytes arrive in pieces, whole records are cut from
//! them and stored a chunk at a time, so neither the upload nor a run
//! ever holds the whole file.
use super::*;

/// The largest file taken.
pub const MAX_BYTES: usize = 100 * 1024 * 1024;
/// The most rows taken (the header aside).
pub const MAX_ROWS: i32 = 250_000;
/// The most columns a header may have.
const MAX_COLUMNS: usize = 200;
/// Bytes gathered before whole records are cut off and stored.
const CHUNK_BYTES: usize = 512 * 1024;
/// The longest record taken.
const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// A file being received.
pub struct Upload {
    scope: TenantScope,
    job: Uuid,
    buf: Vec<u8>,
    received: usize,
    seq: i32,
    /// The row number the next record has (the header is row 1).
    next_row: i32,
    delimiter: Option<u8>,
    headers: Option<Vec<String>>,
}

fn bad(m: impl Into<String>) -> AppError {
    AppError::bad_input("file", m)
}

/// The separator the first line uses most: `,`, `;` (French spreadsheets),
/// tab or `|`.
fn delimiter(first: &[u8]) -> u8 {
    let line = first.split(|b| *b == b'\n').next().unwrap_or_default();
    [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| (line.iter().filter(|b| *b == d).count(), *d == b','))
        .unwrap_or(b',')
}

/// The byte ranges of the whole records at the start of `buf`: at the end
/// of the file every record is whole; before it, the last one may be cut.
fn records(buf: &[u8], delimiter: u8, eof: bool) -> AppResult<Vec<(usize, usize)>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(buf);
    let mut rec = csv::ByteRecord::new();
    let mut out = Vec::new();
    loop {
        let start = usize::try_from(rdr.position().byte()).unwrap_or(usize::MAX);
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {
                let end = usize::try_from(rdr.position().byte()).unwrap_or(usize::MAX);
                out.push((start, end.min(buf.len())));
            }
            Ok(false) => break,
            Err(e) => return Err(bad(format!("the file is not readable as CSV: {e}"))),
        }
    }
    if !eof {
        out.pop();
    }
    Ok(out)
}

/// The cells of one record.
pub(super) fn cells(record: &csv::ByteRecord) -> Vec<String> {
    record.iter().map(parse::text).collect()
}

impl Upload {
    /// Opens an import of `entity` records: ADMIN and MANAGER only.
    pub async fn begin(
        state: &AppState,
        auth: AuthContext,
        entity: ImportEntity,
        file_name: &str,
    ) -> AppResult<Self> {
        may_import(auth)?;
        let scope = TenantScope(auth.tenant);
        let name: String = file_name
            .chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect();
        let job = scope
            .stamp(import_job::ActiveModel {
                id: Set(Uuid::new_v4()),
                created_by: Set(auth.user.0),
                entity: Set(entity.as_str().into()),
                file_name: Set(if name.trim().is_empty() {
                    "import.csv".into()
                } else {
                    name
                }),
                status: Set(ImportStatus::Uploading.as_str().into()),
                delimiter: Set(",".into()),
                headers: Set("[]".into()),
                mapping: Set(None),
                options: Set(None),
                dry_run: Set(false),
                total_rows: Set(0),
                processed_rows: Set(0),
                created_count: Set(0),
                updated_count: Set(0),
                error_count: Set(0),
                created_at: Set(now()),
                started_at: Set(None),
                finished_at: Set(None),
                heartbeat_at: Set(None),
                ..Default::default()
            })
            .insert(&state.db)
            .await?;
        Ok(Self {
            scope,
            job: job.id,
            buf: Vec::new(),
            received: 0,
            seq: 0,
            next_row: 1,
            delimiter: None,
            headers: None,
        })
    }

    pub fn id(&self) -> Uuid {
        self.job.to_owned()
    }

    /// Takes the next piece of the file.
    pub async fn push<C: ConnectionTrait>(&mut self, conn: &C, bytes: &[u8]) -> AppResult<()> {
        self.received = self.received.saturating_add(bytes.len());
        if self.received > MAX_BYTES {
            return Err(bad(format!(
                "the file is larger than {} MiB: split it",
                MAX_BYTES / 1024 / 1024
            )));
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK_BYTES {
            self.flush(conn, false).await?;
            if self.buf.len() > MAX_RECORD_BYTES {
                return Err(bad(format!(
                    "row {} is longer than 1 MiB (an unclosed quote?)",
                    self.next_row
                )));
            }
        }
        Ok(())
    }

    /// Stores the whole records received so far.
    async fn flush<C: ConnectionTrait>(&mut self, conn: &C, eof: bool) -> AppResult<()> {
        if self.delimiter.is_none() {
            if let Some(rest) = self.buf.strip_prefix(b"\xef\xbb\xbf") {
                self.buf = rest.to_vec();
            }
            self.delimiter = Some(delimiter(&self.buf));
        }
        let delim = self.delimiter.unwrap_or(b',');
        let mut recs = records(&self.buf, delim, eof)?;
        let Some(&(_, consumed)) = recs.last() else {
            return Ok(());
        };
        let mut data_start = 0;
        if self.headers.is_none() {
            let (start, end) = recs.remove(0);
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delim)
                .from_reader(self.buf.get(start..end).unwrap_or_default());
            let mut rec = csv::ByteRecord::new();
            rdr.read_byte_record(&mut rec)
                .map_err(|e| bad(format!("the header row is not readable: {e}")))?;
            let h = cells(&rec);
            if h.len() > MAX_COLUMNS {
                return Err(bad(format!("the file has more than {MAX_COLUMNS} columns")));
            }
            if h.iter().all(String::is_empty) {
                return Err(bad("the first row must name the columns"));
            }
            self.headers = Some(h);
            self.next_row = 2;
            data_start = end;
        }
        let count = i32::try_from(recs.len()).unwrap_or(i32::MAX);
        if count > 0 {
            if self.next_row.saturating_add(count) - 2 > MAX_ROWS {
                return Err(bad(format!(
                    "the file has more than {MAX_ROWS} rows: split it"
                )));
            }
            self.scope
                .stamp(import_chunk::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    job_id: Set(self.job),
                    seq: Set(self.seq),
                    first_row: Set(self.next_row),
                    row_count: Set(count),
                    data: Set(self
                        .buf
                        .get(data_start..consumed)
                        .unwrap_or_default()
                        .to_vec()),
                    ..Default::default()
                })
                .insert(conn)
                .await?;
            self.seq += 1;
            self.next_row += count;
        }
        self.buf.drain(..consumed.min(self.buf.len()));
        Ok(())
    }

    /// The file has ended: stores its last records and opens the import
    /// for mapping.
    pub async fn finish(mut self, state: &AppState) -> AppResult<import_job::Model> {
        match self.close(state).await {
            Ok(job) => Ok(job),
            Err(e) => {
                self.abandon(state).await;
                Err(e)
            }
        }
    }

    async fn close(&mut self, state: &AppState) -> AppResult<import_job::Model> {
        self.flush(&state.db, true).await?;
        let Some(headers) = &self.headers else {
            return Err(bad("the file is empty"));
        };
        let rows = self.next_row - 2;
        if rows <= 0 {
            return Err(bad("the file has a header but no rows"));
        }
        let delim = char::from(self.delimiter.unwrap_or(b',')).to_string();
        self.scope
            .update_many::<import_job::Entity>()
            .col_expr(
                import_job::Column::Status,
                Expr::value(ImportStatus::Uploaded.as_str()),
            )
            .col_expr(import_job::Column::Delimiter, Expr::value(delim))
            .col_expr(
                import_job::Column::Headers,
                Expr::value(serde_json::to_string(headers).map_err(AppError::internal)?),
            )
            .col_expr(import_job::Column::TotalRows, Expr::value(rows))
            .filter(import_job::Column::Id.eq(self.job))
            .exec(&state.db)
            .await?;
        find(&state.db, self.scope, self.job).await
    }

    /// Drops what a failed upload stored.
    pub async fn abandon(&self, state: &AppState) {
        let gone = self
            .scope
            .delete_many::<import_job::Entity>()
            .filter(import_job::Column::Id.eq(self.job))
            .exec(&state.db)
            .await;
        if let Err(e) = gone {
            tracing::warn!(error = %e, "import: could not drop an abandoned upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_guessed_from_the_first_line() {
        assert_eq!(delimiter(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(delimiter(b"a,b,c\n"), b',');
        assert_eq!(delimiter(b"a\tb\n"), b'\t');
        assert_eq!(delimiter(b"single\n"), b',');
    }

    #[test]
    fn a_cut_record_waits_for_the_rest() {
        let buf = b"a,b\n1,\"two\nlines\"\n3,fo";
        let r = records(buf, b',', false).unwrap();
        assert_eq!(r, vec![(0, 4), (4, 18)]);
        let all = records(buf, b',', true).unwrap();
        assert_eq!(all.len(), 3);
    }
}
