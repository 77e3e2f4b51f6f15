//! The crash test's victim: writes through the group-commit writer from many tasks and prints
//! `ack ID` for each acknowledged change, until it is killed.
//!
//! Usage: `jz-crash-writer LOCATION RUN WRITERS` where LOCATION is `sqlite:PATH` or a
//! PostgreSQL URL. Prints `ready` once the store is open.

use std::io::Write;

use jz_store::{Change, Location, OutboxMessage, Statement, Store, StoreOptions, Tally};

// The tables `crash_write`, `crash_part` and `crash_tally` are created by the test before the
// first child.

/// Counts the writes per writer of a run: a tally, so it waits in `tally_pending` until folded.
const COUNT_WRITE: &str = "INSERT INTO crash_tally (run, writer, writes) VALUES ($1, $2, $3) \
     ON CONFLICT (run, writer) DO UPDATE SET writes = crash_tally.writes + excluded.writes";

fn change(run: i64, writer: i64, n: i64) -> (String, Change) {
    let id = format!("{run}-{writer}-{n}");
    let at_us = 1_780_000_000_000_000 + n;
    let mut change = Change::new().statement(
        Statement::new("INSERT INTO crash_write (id, run, writer, n) VALUES ($1, $2, $3, $4)")
            .bind(id.clone())
            .bind(run)
            .bind(writer)
            .bind(n),
    );
    for part in 0..2 {
        change = change.statement(
            Statement::new("INSERT INTO crash_part (write_id, part) VALUES ($1, $2)")
                .bind(id.clone())
                .bind(part),
        );
    }
    let mut record = jz_testkit::audit_record("crash.write", &id, at_us);
    record.subject_kind = "crash_write".into();
    let change = change
        .tally(Tally::new(
            COUNT_WRITE,
            vec![run.into(), writer.into()],
            vec![1],
        ))
        .audit(record)
        .outbox(OutboxMessage {
            topic: "crash".into(),
            payload: id.clone(),
            due_at_us: at_us,
        });
    (id, change)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent reads acknowledgements from this pipe; a line is flushed before the next write.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [location, run, writers] = args.as_slice() else {
        anyhow::bail!("usage: jz-crash-writer LOCATION RUN WRITERS");
    };
    let location = Location::parse_url(location)?;
    let run: i64 = run.parse()?;
    let writers: i64 = writers.parse()?;
    let store = Store::open(&location, StoreOptions::default()).await?;
    say("ready");
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..1_000_000 {
                let (id, change) = change(run, writer, n);
                match store.write(change).await {
                    Ok(_) => say(&format!("ack {id}")),
                    Err(error) => say(&format!("err {id} {error}")),
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok(())
}
