-- Tallies committed but not yet folded into their rows (see jz-store/src/pending.rs): each write
-- transaction appends its summed tallies (evaluation counters) as one encoded row; the writer
-- folds them into their rows every couple of seconds, before a reader reads tallied rows, and on
-- open after a crash, then deletes the rows it folded.
CREATE TABLE tally_pending (
    id   INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
