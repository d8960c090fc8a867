//! The intake journal: verified deliveries made durable in an append-only file before they
//! are answered, and handed to the intake writer in order of arrival.
//!
//! Storing a delivery in the database before answering costs a transaction of the ledger's
//! writer; under a sale-day burst the shop's webhooks then wait for the ledger. With the
//! journal, a request appends its delivery (one `fdatasync` for every delivery that arrived
//! while the last one ran, on a thread of its own) and is answered once it is on disk; a
//! feeder thread reads the journal back in order and hands each delivery to the intake
//! writer, which stores and applies it as before and records in the same transaction the
//! highest journal sequence number it has stored (`intake_journals`). A restart replays
//! what follows that number, so a delivery answered 200 is never lost and never stored twice.
//! (A delivery that finds the bridge idle skips the journal and is committed straight away,
//! one sync instead of two: see [`super::intake`].)
//!
//! On disk: a directory with a lock file (one bridge at a time), `journal.id` (a random id,
//! the key of the position in the database) and segments named by the sequence number of
//! their first record (`00000000000000000001.seg`). A record is
//! `[payload length u32][crc32 u32][sequence u64][payload]`, little-endian; the checksum
//! covers the payload and the sequence number. Every group of records is written with 16
//! zero bytes after it (no record has sequence number 0), which the next group writes over:
//! a reader stops there. A segment that has been read past and whose last record is stored
//! is kept as a spare (`….spare`, at most [`SPARE_SEGMENTS`]) or else deleted; a new segment
//! is a spare renamed where there is one, and written over from its start. An `fdatasync`
//! after writing over blocks a file already has records no new file size: a burst's syncs
//! took a third less time than after appends (BENCHMARKS.md, fourteenth round). Readers
//! never read past the last group synced, and a segment's records run on from the number in
//! its name, so a spare's older records after them are never taken for new ones. Opening the
//! journal checks the last segment and cuts off a record a crash left half-written (it was
//! never answered), and what follows it.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ledger::intake::{Delivery, Source};

/// A segment is closed and a new one started once it holds this much.
const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;
/// Length, checksum and sequence number.
const HEADER: usize = 16;
/// Stored segments kept to be written over by new ones (16 MB each).
pub const SPARE_SEGMENTS: usize = 2;
/// How long the feeder sleeps at most before it looks again (for stops and deletions).
const FEED_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("intake journal {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "intake journal {path} is in use by another PrintBridge process (its lock file is held)"
    )]
    Locked { path: String },
    #[error("intake journal {path}: {detail}")]
    Invalid { path: String, detail: String },
    #[error("the intake journal has stopped")]
    Stopped,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A delivery read back from the journal.
#[derive(Debug)]
pub struct Record {
    pub seq: u64,
    pub received_at: i64,
    pub delivery: Delivery,
}

/// A delivery encoded for the journal: its body first, then the other fields, then their
/// length, so the caller's body becomes the payload without a copy.
pub struct Payload {
    bytes: Vec<u8>,
    crc: u32,
}

impl Payload {
    pub fn new(delivery: Delivery, received_at: i64) -> Payload {
        let Delivery {
            store_id,
            source: _,
            topic,
            webhook_id,
            delivery_ref,
            content_type,
            body,
        } = delivery;
        let mut bytes = body;
        let body_len = bytes.len();
        bytes.extend_from_slice(&received_at.to_le_bytes());
        put_text(&mut bytes, Some(&store_id));
        for text in [&topic, &webhook_id, &delivery_ref, &content_type] {
            put_text(&mut bytes, text.as_deref());
        }
        let meta_len = u32::try_from(bytes.len() - body_len).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&meta_len.to_le_bytes());
        let crc = crc32fast::hash(&bytes);
        Payload { bytes, crc }
    }
}

/// `u32::MAX` for none, else the length and the bytes.
fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        Some(t) => {
            out.extend_from_slice(&u32::try_from(t.len()).unwrap_or(0).to_le_bytes());
            out.extend_from_slice(t.as_bytes());
        }
    }
}

fn take_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let b = bytes.get(*at..*at + 4)?;
    *at += 4;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn take_text(bytes: &[u8], at: &mut usize) -> Option<Option<String>> {
    let len = take_u32(bytes, at)?;
    if len == u32::MAX {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let text = bytes.get(*at..*at + len)?;
    *at += len;
    Some(Some(String::from_utf8(text.to_vec()).ok()?))
}

/// Reads a payload back into its delivery; `None` if it is not one this module wrote.
fn decode(mut bytes: Vec<u8>) -> Option<(i64, Delivery)> {
    let total = bytes.len();
    let meta_len = u32::from_le_bytes(bytes.get(total.checked_sub(4)?..)?.try_into().ok()?);
    let meta_start = total.checked_sub(4 + usize::try_from(meta_len).ok()?)?;
    let meta = bytes.get(meta_start..total - 4)?;
    let received_at = i64::from_le_bytes(meta.get(..8)?.try_into().ok()?);
    let mut at = 8;
    let store_id = take_text(meta, &mut at)??;
    let topic = take_text(meta, &mut at)?;
    let webhook_id = take_text(meta, &mut at)?;
    let delivery_ref = take_text(meta, &mut at)?;
    let content_type = take_text(meta, &mut at)?;
    if at != meta.len() {
        return None;
    }
    bytes.truncate(meta_start);
    Some((
        received_at,
        Delivery {
            store_id,
            source: Source::Webhook,
            topic,
            webhook_id,
            delivery_ref,
            content_type,
            body: bytes,
        },
    ))
}

fn record_crc(payload_crc: u32, seq: u64) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(payload_crc);
    h.update(&seq.to_le_bytes());
    h.finalize()
}

/// One append: the payload, and where to say its sequence number once it is on disk.
struct Append {
    payload: Payload,
    synced: tokio::sync::oneshot::Sender<Result<u64, JournalError>>,
}

/// What is on disk: the appender moves it on after every sync.
#[derive(Debug, Clone, Copy)]
struct Synced {
    /// The highest sequence number on disk.
    seq: u64,
    /// The segment being appended to (the sequence number in its name), and where its
    /// synced records end.
    segment: u64,
    end: u64,
}

/// What the appender, the feeder and the callers share.
struct Shared {
    synced: Mutex<Synced>,
    wake: Condvar,
    /// The highest sequence number the database has stored (see [`Journal::committed`]).
    committed: AtomicU64,
    /// Appends handed to the appender and not yet on disk.
    in_flight: AtomicUsize,
    stopping: AtomicBool,
    syncs: SyncCounters,
    /// Stored segments the appender may rename and write over (see [`SPARE_SEGMENTS`]).
    spares: Mutex<Vec<PathBuf>>,
}

impl Shared {
    fn synced(&self) -> Option<Synced> {
        self.synced.lock().ok().map(|s| *s)
    }

    /// Waits until the appender says more is on disk, or `timeout` passed, or the journal
    /// stops.
    fn wait(&self, timeout: Duration) {
        if let Ok(synced) = self.synced.lock() {
            let _ = self.wake.wait_timeout(synced, timeout);
        }
    }

    /// If record `seq` is not on disk yet, waits as [`Shared::wait`] does (unless the
    /// journal is stopping) and returns true.
    fn wait_unless_synced(&self, seq: u64, timeout: Duration) -> bool {
        let Ok(synced) = self.synced.lock() else {
            return false;
        };
        if synced.seq >= seq {
            return false;
        }
        if !self.stopping.load(Ordering::Acquire) {
            let _ = self.wake.wait_timeout(synced, timeout);
        }
        true
    }
}

/// Upper bounds, in seconds, of the buckets of [`SyncStats`]: a sync over an idle disk
/// takes a fraction of a millisecond; one queued behind the database's writes, several.
pub const SYNC_BUCKETS: [f64; 9] = [
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0,
];

/// What groups of appends waited for the disk: kept by the appender (and by the bench's
/// durable floor), read at any time without a lock.
#[derive(Debug, Default)]
pub struct SyncCounters {
    syncs: AtomicU64,
    appended: AtomicU64,
    micros: AtomicU64,
    /// Not cumulative: the syncs whose time fell in each bucket (the last: above them all).
    buckets: [AtomicU64; SYNC_BUCKETS.len() + 1],
}

impl SyncCounters {
    /// Counts one group of `appended` records written and synced in `took`.
    pub fn record(&self, appended: usize, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = SYNC_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(SYNC_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.appended.fetch_add(appended as u64, Ordering::Relaxed);
        self.micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.syncs.fetch_add(1, Ordering::Release);
    }

    /// The counts so far. Read while a group is being counted, a bucket may already hold
    /// a sync the total does not yet: buckets are capped at the total, so that no bucket
    /// exceeds `+Inf`.
    pub fn snapshot(&self) -> SyncStats {
        let mut cumulative = [0u64; SYNC_BUCKETS.len()];
        let mut running = 0;
        for (i, c) in cumulative.iter_mut().enumerate() {
            running += self.buckets[i].load(Ordering::Relaxed);
            *c = running;
        }
        let syncs = self.syncs.load(Ordering::Acquire);
        for c in &mut cumulative {
            *c = (*c).min(syncs);
        }
        SyncStats {
            syncs,
            appended: self.appended.load(Ordering::Relaxed),
            seconds: self.micros.load(Ordering::Relaxed) as f64 / 1e6,
            within: cumulative,
        }
    }
}

/// The journal's syncs so far (see [`Journal::sync_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SyncStats {
    /// Groups written and synced.
    pub syncs: u64,
    /// Records (deliveries) in them.
    pub appended: u64,
    /// Time spent writing and syncing them, in all.
    pub seconds: f64,
    /// Syncs that took at most each of [`SYNC_BUCKETS`] (cumulative, as Prometheus counts).
    pub within: [u64; SYNC_BUCKETS.len()],
}

impl SyncStats {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &SyncStats) -> SyncStats {
        let mut within = self.within;
        for (w, e) in within.iter_mut().zip(earlier.within) {
            *w = w.saturating_sub(e);
        }
        SyncStats {
            syncs: self.syncs.saturating_sub(earlier.syncs),
            appended: self.appended.saturating_sub(earlier.appended),
            seconds: (self.seconds - earlier.seconds).max(0.0),
            within,
        }
    }

    /// Mean time of a sync, in seconds (0 without one).
    pub fn mean_seconds(&self) -> f64 {
        if self.syncs == 0 {
            0.0
        } else {
            self.seconds / self.syncs as f64
        }
    }

    /// Mean records per sync (0 without one).
    pub fn mean_group(&self) -> f64 {
        if self.syncs == 0 {
            0.0
        } else {
            self.appended as f64 / self.syncs as f64
        }
    }
}

/// An open journal: see the module documentation.
pub struct Journal {
    dir: PathBuf,
    id: String,
    /// The sequence number stored last when the journal was opened; the feeder starts after it.
    start_after: u64,
    shared: Arc<Shared>,
    appender: Mutex<Option<mpsc::Sender<Append>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held while the journal is open.
    lock: Mutex<Option<File>>,
}

/// What [`Journal::open`] found.
pub struct Opened {
    /// The journal's id (`journal.id`).
    pub id: String,
    /// The highest sequence number on disk (0 for none).
    pub last_seq: u64,
    /// Whether any record is on disk.
    pub has_records: bool,
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// The segments of `dir`, by the sequence number of their first record.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((first, entry.path()));
    }
    found.sort_unstable();
    Ok(found)
}

/// The spares a previous run left in `dir` (see [`SPARE_SEGMENTS`]); any beyond are deleted.
fn spares(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        if path.extension().is_none_or(|e| e != "spare") {
            continue;
        }
        if found.len() < SPARE_SEGMENTS {
            found.push(path);
        } else if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(segment = %path.display(), error = %e, "intake journal: cannot delete a spare segment");
        }
    }
    Ok(found)
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Reads the record header at the reader's position: `Ok(None)` at a clean end (the end of
/// what is there, or the zero bytes written after a group).
fn read_header(r: &mut impl Read) -> std::io::Result<Option<(usize, u32, u64)>> {
    let mut header = [0u8; HEADER];
    let mut filled = 0;
    while filled < HEADER {
        match r.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if header == [0u8; HEADER] {
        return Ok(None);
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let len = usize::try_from(word(0)).map_err(|_| std::io::Error::from(ErrorKind::InvalidData))?;
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&header[8..16]);
    Ok(Some((len, word(4), u64::from_le_bytes(seq))))
}

/// Most of a record's length [`read_record`] allocates before reading it.
const PREALLOC_MAX: usize = 1 << 20;

/// Reads one whole record: `Ok(None)` at a clean end, an error for a short or damaged one.
fn read_record(r: &mut impl Read) -> std::io::Result<Option<(u64, Vec<u8>)>> {
    let Some((len, crc, seq)) = read_header(r)? else {
        return Ok(None);
    };
    // Filled as read, not zeroed first; a damaged length is not allocated up front.
    let mut payload = Vec::with_capacity(len.min(PREALLOC_MAX));
    let read = r.take(len as u64).read_to_end(&mut payload)?;
    if read < len {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    if record_crc(crc32fast::hash(&payload), seq) != crc {
        return Err(ErrorKind::InvalidData.into());
    }
    Ok(Some((seq, payload)))
}

impl Journal {
    /// Opens (or creates) the journal in `dir`: takes its lock, reads (or makes) its id and
    /// cuts off a half-written last record. [`Journal::start`] then starts it from the
    /// position the database has stored; [`Opened`] says what the caller needs to find or
    /// check that position.
    pub fn open(dir: &Path) -> Result<(Opened, JournalFiles), JournalError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked {
                    path: dir.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&lock_path)(e)),
        }
        let id_path = dir.join("journal.id");
        let id = match std::fs::read_to_string(&id_path) {
            Ok(text) => text.trim().to_owned(),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let id = uuid::Uuid::new_v4().to_string();
                let tmp = dir.join("journal.id.tmp");
                let mut f = File::create(&tmp).map_err(io_error(&tmp))?;
                f.write_all(id.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(io_error(&tmp))?;
                std::fs::rename(&tmp, &id_path).map_err(io_error(&id_path))?;
                sync_dir(dir)?;
                id
            }
            Err(e) => return Err(io_error(&id_path)(e)),
        };
        if id.is_empty() {
            return Err(JournalError::Invalid {
                path: id_path.display().to_string(),
                detail: "journal.id is empty".to_owned(),
            });
        }
        // Only the last segment can end in a record a crash cut short: every earlier one
        // was closed by an appender that had written it whole. Its records run on from the
        // number in its name; one numbered below that is a spare's older record.
        let found = segments(dir)?;
        let mut last_seq = 0;
        let mut has_records = false;
        if let Some((first, path)) = found.last() {
            last_seq = first.saturating_sub(1);
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(io_error(path))?;
            let mut reader = BufReader::with_capacity(256 * 1024, &mut file);
            let mut good_end = 0u64;
            loop {
                match read_record(&mut reader) {
                    Ok(Some((seq, _))) if seq <= last_seq => break,
                    Ok(Some((seq, payload))) => {
                        last_seq = seq;
                        has_records = true;
                        good_end += (HEADER + payload.len()) as u64;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(segment = %path.display(), offset = good_end, error = %e,
                            "intake journal: cutting off a record a stop left unfinished (it was never answered)");
                        break;
                    }
                }
            }
            drop(reader);
            let len = file.metadata().map_err(io_error(path))?.len();
            if len != good_end {
                file.set_len(good_end)
                    .and_then(|()| file.sync_all())
                    .map_err(io_error(path))?;
            }
        }
        has_records = has_records || found.len() > 1;
        Ok((
            Opened {
                id,
                last_seq,
                has_records,
            },
            JournalFiles {
                dir: dir.to_owned(),
                lock,
            },
        ))
    }

    /// Starts the appender after `files` was opened: records are numbered from
    /// `max(last_seq, stored) + 1`, and the feeder (see [`Journal::feed`]) starts after `stored`.
    pub fn start(files: JournalFiles, opened: &Opened, stored: u64) -> Result<Self, JournalError> {
        Self::start_with(files, opened, stored, SEGMENT_BYTES)
    }

    fn start_with(
        files: JournalFiles,
        opened: &Opened,
        stored: u64,
        segment_bytes: u64,
    ) -> Result<Self, JournalError> {
        let JournalFiles { dir, lock } = files;
        let next = opened.last_seq.max(stored) + 1;
        // The last segment is appended to if its records run on to `next` (`open` cut it
        // at the end of its records); else a new segment starts at `next`.
        let (file, file_len, segment) = match segments(&dir)?.last() {
            Some((first, path)) if *first <= next && opened.last_seq + 1 == next => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_error(path))?;
                let len = file.seek(SeekFrom::End(0)).map_err(io_error(path))?;
                (file, len, *first)
            }
            _ => (new_segment(&dir, next)?, 0, next),
        };
        let shared = Arc::new(Shared {
            synced: Mutex::new(Synced {
                seq: next - 1,
                segment,
                end: file_len,
            }),
            wake: Condvar::new(),
            committed: AtomicU64::new(stored),
            in_flight: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            syncs: SyncCounters::default(),
            spares: Mutex::new(spares(&dir)?),
        });
        let (appender, appends) = mpsc::channel();
        let thread = {
            let shared = shared.clone();
            let thread_dir = dir.clone();
            std::thread::Builder::new()
                .name("printbridge-journal".to_owned())
                .spawn(move || {
                    let at = Appending {
                        file,
                        len: file_len,
                        segment,
                        next,
                    };
                    append_loop(&thread_dir, at, segment_bytes, &appends, &shared);
                })
                .map_err(io_error(&dir))?
        };
        Ok(Journal {
            dir,
            id: opened.id.clone(),
            start_after: stored,
            shared,
            appender: Mutex::new(Some(appender)),
            threads: Mutex::new(vec![thread]),
            lock: Mutex::new(Some(lock)),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether every delivery on disk is stored and none is being appended.
    pub fn idle(&self) -> bool {
        self.shared.in_flight.load(Ordering::Acquire) == 0
            && self.shared.synced().map_or(0, |s| s.seq)
                <= self.shared.committed.load(Ordering::Acquire)
    }

    /// Deliveries on disk that the database has not stored yet.
    pub fn backlog(&self) -> u64 {
        let synced = self.shared.synced().map_or(0, |s| s.seq);
        synced.saturating_sub(self.shared.committed.load(Ordering::Acquire))
    }

    /// The appender's writes and syncs since the journal started.
    pub fn sync_stats(&self) -> SyncStats {
        self.shared.syncs.snapshot()
    }

    /// Appends a delivery; returns its sequence number once it is on disk.
    pub async fn append(&self, payload: Payload) -> Result<u64, JournalError> {
        let (synced, done) = tokio::sync::oneshot::channel();
        {
            let appender = self.appender.lock().map_err(|_| JournalError::Stopped)?;
            let Some(appender) = appender.as_ref() else {
                return Err(JournalError::Stopped);
            };
            self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
            if appender.send(Append { payload, synced }).is_err() {
                self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                return Err(JournalError::Stopped);
            }
        }
        done.await.unwrap_or(Err(JournalError::Stopped))
    }

    /// Notes that the database has stored every delivery up to `seq` (committed).
    pub fn committed(&self, seq: u64) {
        self.shared.committed.fetch_max(seq, Ordering::AcqRel);
        self.shared.wake.notify_all();
    }

    /// Starts the feeder: a thread that reads every record after the stored position, in
    /// order, as soon as it is on disk, and calls `deliver` with it; `deliver` returns false
    /// when nobody takes deliveries any more. Segments read past and stored are deleted.
    pub fn feed(
        &self,
        mut deliver: impl FnMut(Record) -> bool + Send + 'static,
    ) -> Result<(), JournalError> {
        let shared = self.shared.clone();
        let dir = self.dir.clone();
        let start_after = self.start_after;
        let thread = std::thread::Builder::new()
            .name("printbridge-feeder".to_owned())
            .spawn(move || feed_loop(&shared, dir, start_after, &mut deliver))
            .map_err(io_error(&self.dir))?;
        if let Ok(mut threads) = self.threads.lock() {
            threads.push(thread);
        }
        Ok(())
    }

    /// Stops appending and feeding and releases the lock. What is on disk and not stored is
    /// replayed at the next start.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Ok(mut appender) = self.appender.lock() {
            appender.take();
        }
        self.shared.wake.notify_all();
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for t in threads {
            let _ = t.join();
        }
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }
}

/// The feeder's loop (see [`Journal::feed`]); returns when the journal stops or `deliver`
/// refuses a record.
fn feed_loop(
    shared: &Shared,
    dir: PathBuf,
    start_after: u64,
    deliver: &mut impl FnMut(Record) -> bool,
) {
    let mut reader = SegmentReader::new(dir, start_after);
    loop {
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        reader.release_stored(shared.committed.load(Ordering::Acquire), &shared.spares);
        if shared.wait_unless_synced(reader.next_seq, FEED_POLL) {
            continue;
        }
        let Some(synced) = shared.synced() else {
            return;
        };
        match reader.next(synced) {
            Ok(Some(record)) => {
                if !deliver(record) {
                    return;
                }
            }
            Ok(None) => {
                // On disk but not readable yet: the appender is starting a segment.
                shared.wait(Duration::from_millis(5));
            }
            Err(e) => {
                tracing::error!(error = %e, "intake journal: a record cannot be read; skipping to the next segment");
                shared.wait(FEED_POLL);
            }
        }
    }
}

/// A journal's directory and lock between [`Journal::open`] and [`Journal::start`].
pub struct JournalFiles {
    dir: PathBuf,
    lock: File,
}

fn new_segment(dir: &Path, first_seq: u64) -> Result<File, JournalError> {
    let path = dir.join(segment_name(first_seq));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    // The new name must be on disk before a record in it is answered.
    sync_dir(dir)?;
    Ok(file)
}

/// Starts the segment whose first record is `first_seq`: a spare renamed where there is
/// one (its blocks are written over, so a sync records no new file size), else a new file.
fn next_segment(dir: &Path, first_seq: u64, shared: &Shared) -> Result<File, JournalError> {
    let spare = shared.spares.lock().ok().and_then(|mut s| s.pop());
    if let Some(spare) = spare
        && let Err(e) = std::fs::rename(&spare, dir.join(segment_name(first_seq)))
    {
        tracing::warn!(segment = %spare.display(), error = %e, "intake journal: cannot reuse a spare segment");
        let _ = std::fs::remove_file(&spare);
    }
    new_segment(dir, first_seq)
}

/// The segment the appender writes to.
struct Appending {
    file: File,
    /// Where its records end (the next group is written there).
    len: u64,
    /// The sequence number in its name.
    segment: u64,
    /// The next record's sequence number.
    next: u64,
}

/// The appender thread: writes everything that arrived meanwhile with one `fdatasync`.
fn append_loop(
    dir: &Path,
    mut at: Appending,
    segment_bytes: u64,
    appends: &mpsc::Receiver<Append>,
    shared: &Shared,
) {
    let mut group: Vec<Append> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    while let Ok(first) = appends.recv() {
        group.push(first);
        group.extend(appends.try_iter());
        buf.clear();
        let first_seq = at.next;
        for a in &group {
            let seq = at.next;
            at.next += 1;
            let len = u32::try_from(a.payload.bytes.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&record_crc(a.payload.crc, seq).to_le_bytes());
            buf.extend_from_slice(&seq.to_le_bytes());
            buf.extend_from_slice(&a.payload.bytes);
        }
        let records = buf.len() as u64;
        // Where the records end, so that a spare's older records after them are not read.
        buf.extend_from_slice(&[0u8; HEADER]);
        let started = Instant::now();
        let written = at
            .file
            .seek(SeekFrom::Start(at.len))
            .and_then(|_| at.file.write_all(&buf))
            .and_then(|()| at.file.sync_data());
        let count = group.len();
        match written {
            Ok(()) => {
                shared.syncs.record(count, started.elapsed());
                at.len += records;
                if let Ok(mut synced) = shared.synced.lock() {
                    *synced = Synced {
                        seq: at.next - 1,
                        segment: at.segment,
                        end: at.len,
                    };
                }
                shared.wake.notify_all();
                shared.in_flight.fetch_sub(count, Ordering::AcqRel);
                for (i, a) in group.drain(..).enumerate() {
                    let _ = a.synced.send(Ok(first_seq + i as u64));
                }
            }
            Err(e) => {
                // Not on disk: the callers are told so (they answer 503 and the shop keeps
                // the delivery), and the numbers are used again.
                tracing::error!(error = %e, "intake journal: append failed");
                let _ = at.file.set_len(at.len);
                at.next = first_seq;
                shared.in_flight.fetch_sub(count, Ordering::AcqRel);
                let message = e.to_string();
                for a in group.drain(..) {
                    let _ = a.synced.send(Err(JournalError::Io {
                        path: dir.display().to_string(),
                        source: std::io::Error::other(message.clone()),
                    }));
                }
            }
        }
        if at.len >= segment_bytes {
            match next_segment(dir, at.next, shared) {
                Ok(file) => {
                    at = Appending {
                        file,
                        len: 0,
                        segment: at.next,
                        next: at.next,
                    };
                }
                Err(e) => tracing::error!(error = %e, "intake journal: cannot start a new segment"),
            }
        }
    }
}

/// A segment file read through a limit (see [`SegmentReader::next`]).
struct Bounded {
    file: File,
    pos: u64,
    limit: u64,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = usize::try_from(self.limit.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Bounded {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(_) => None,
        }
        .ok_or_else(|| std::io::Error::from(ErrorKind::InvalidInput))?;
        self.pos = self.file.seek(SeekFrom::Start(pos))?;
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> std::io::Result<u64> {
        Ok(self.pos)
    }
}

/// The segment a [`SegmentReader`] reads.
struct Current {
    /// The sequence number in its name.
    first: u64,
    /// The sequence number its next record has.
    expect: u64,
    path: PathBuf,
    reader: BufReader<Bounded>,
}

/// Reads records in order across segments (the feeder's side).
struct SegmentReader {
    dir: PathBuf,
    /// The next sequence number to hand out.
    next_seq: u64,
    current: Option<Current>,
    /// Segments read past: their path and last sequence number, released once stored.
    finished: VecDeque<(PathBuf, u64)>,
}

impl SegmentReader {
    fn new(dir: PathBuf, stored: u64) -> Self {
        SegmentReader {
            dir,
            next_seq: stored + 1,
            current: None,
            finished: VecDeque::new(),
        }
    }

    /// Keeps stored segments as spares while there is room for them (renamed `….spare`),
    /// and deletes the others.
    fn release_stored(&mut self, committed: u64, spares: &Mutex<Vec<PathBuf>>) {
        while let Some((path, last)) = self.finished.front() {
            if *last > committed {
                break;
            }
            let kept = spares.lock().ok().is_some_and(|mut spares| {
                if spares.len() >= SPARE_SEGMENTS {
                    return false;
                }
                let spare = path.with_extension("spare");
                let renamed = std::fs::rename(path, &spare).is_ok();
                if renamed {
                    spares.push(spare);
                }
                renamed
            });
            if !kept
                && let Err(e) = std::fs::remove_file(path)
                && e.kind() != ErrorKind::NotFound
            {
                tracing::warn!(segment = %path.display(), error = %e, "intake journal: cannot delete a stored segment");
            }
            self.finished.pop_front();
        }
    }

    /// The segment that holds `next_seq`, or the first after the current one.
    fn open_next(&mut self) -> Result<bool, JournalError> {
        let found = segments(&self.dir)?;
        let current_first = self.current.as_ref().map(|c| c.first);
        let pick = match current_first {
            // The segment holding `next_seq`: the last one starting at or before it.
            None => found
                .iter()
                .rev()
                .find(|(first, _)| *first <= self.next_seq)
                .or_else(|| found.first()),
            Some(cur) => found.iter().find(|(first, _)| *first > cur),
        };
        let Some((first, path)) = pick.cloned() else {
            return Ok(false);
        };
        if current_first.is_none() {
            // Segments wholly before the one holding `next_seq` were stored.
            for (f, p) in &found {
                if *f < first {
                    self.finished.push_back((p.clone(), 0));
                }
            }
        }
        let file = File::open(&path).map_err(io_error(&path))?;
        if let Some(old) = self.current.take() {
            self.finished
                .push_back((old.path, self.next_seq.saturating_sub(1)));
        }
        let bounded = Bounded {
            file,
            pos: 0,
            limit: 0,
        };
        self.current = Some(Current {
            first,
            expect: first,
            path,
            reader: BufReader::with_capacity(256 * 1024, bounded),
        });
        Ok(true)
    }

    /// The next record on disk, or `None` if it is not readable yet. `synced` is read after
    /// the caller saw that record `next_seq` is on disk.
    ///
    /// The segment being appended to is read only up to where its synced records end, and
    /// one not written yet not at all: past that end a spare holds an older journal's
    /// records, and the appender writes over them. A segment the appender has left is read
    /// to the zero bytes after its last group.
    fn next(&mut self, synced: Synced) -> Result<Option<Record>, JournalError> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let Some(current) = self.current.as_mut() else {
                return Ok(None);
            };
            let order = current.first.cmp(&synced.segment);
            let left = order == std::cmp::Ordering::Less;
            current.reader.get_mut().limit = match order {
                std::cmp::Ordering::Less => u64::MAX,
                std::cmp::Ordering::Equal => synced.end,
                std::cmp::Ordering::Greater => 0,
            };
            let position = current.reader.stream_position().unwrap_or(0);
            // A record cut short is not all there yet: read again later, as at an end.
            let read = match read_record(&mut current.reader) {
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(None),
                read => read,
            };
            match read {
                Ok(Some((seq, payload))) if seq >= current.expect => {
                    current.expect = seq + 1;
                    if seq < self.next_seq {
                        continue;
                    }
                    if seq > self.next_seq {
                        tracing::error!(
                            expected = self.next_seq,
                            found = seq,
                            "intake journal: records are missing"
                        );
                    }
                    self.next_seq = seq + 1;
                    let Some((received_at, delivery)) = decode(payload) else {
                        return Err(JournalError::Invalid {
                            path: current.path.display().to_string(),
                            detail: format!("record {seq} is not a delivery"),
                        });
                    };
                    return Ok(Some(Record {
                        seq,
                        received_at,
                        delivery,
                    }));
                }
                // The end of this segment's records (an older record after them is a
                // spare's): on to the next segment once the appender has left this one.
                Ok(_) => {
                    let _ = current.reader.seek(SeekFrom::Start(position));
                    if !left || !self.open_next()? {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    let detail = format!("a damaged record at byte {position}: {e}");
                    let path = current.path.display().to_string();
                    if !self.open_next()? {
                        return Ok(None);
                    }
                    return Err(JournalError::Invalid { path, detail });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(n: usize) -> Delivery {
        Delivery {
            store_id: "shop".to_owned(),
            source: Source::Webhook,
            topic: Some("order.updated".to_owned()),
            webhook_id: n.is_multiple_of(2).then(|| "7".to_owned()),
            delivery_ref: None,
            content_type: Some("application/json".to_owned()),
            body: format!("{{\"id\":{n},\"pad\":\"{}\"}}", "x".repeat(n * 37 % 900)).into_bytes(),
        }
    }

    fn open(dir: &Path, stored: Option<u64>, segment_bytes: u64) -> (Opened, Journal) {
        let (opened, files) = Journal::open(dir).expect("open");
        let stored = stored.unwrap_or(opened.last_seq);
        let journal = Journal::start_with(files, &opened, stored, segment_bytes).expect("start");
        (opened, journal)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    fn runtime_on_two_threads() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime")
    }

    fn last_segment(dir: &Path) -> PathBuf {
        let (_, path) = segments(dir).expect("segments").pop().expect("a segment");
        path
    }

    /// Appends deliveries `range`.
    fn append(
        rt: &tokio::runtime::Runtime,
        journal: &Journal,
        range: std::ops::Range<usize>,
    ) -> Vec<u64> {
        rt.block_on(async {
            let mut seqs = Vec::new();
            for n in range {
                let payload = Payload::new(delivery(n), n as i64);
                seqs.push(journal.append(payload).await.expect("append"));
            }
            seqs
        })
    }

    /// Feeds until `count` records came, or 10 s passed.
    fn feed(journal: &Journal, count: usize) -> Vec<Record> {
        take(&feeder(journal), count)
    }

    /// Starts the journal's feeder; its records arrive on the channel returned.
    fn feeder(journal: &Journal) -> mpsc::Receiver<Record> {
        let (tx, rx) = mpsc::channel();
        journal
            .feed(move |record| tx.send(record).is_ok())
            .expect("feed");
        rx
    }

    #[test]
    fn records_come_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let (opened, journal) = open(dir.path(), None, SEGMENT_BYTES);
        assert!(!opened.has_records);
        assert!(journal.idle());
        let seqs = append(&rt, &journal, 0..50);
        assert_eq!(seqs, (1..=50).collect::<Vec<u64>>());
        assert_eq!(journal.backlog(), 50);
        assert!(!journal.idle());
        let got = feed(&journal, 50);
        assert_eq!(got.len(), 50);
        for (n, record) in got.iter().enumerate() {
            let want = delivery(n);
            assert_eq!(record.seq, n as u64 + 1);
            assert_eq!(record.received_at, n as i64);
            assert_eq!(record.delivery.body, want.body);
            assert_eq!(record.delivery.store_id, want.store_id);
            assert_eq!(record.delivery.topic, want.topic);
            assert_eq!(record.delivery.webhook_id, want.webhook_id);
            assert_eq!(record.delivery.delivery_ref, None);
            assert_eq!(record.delivery.content_type, want.content_type);
        }
        journal.committed(50);
        assert_eq!(journal.backlog(), 0);
        assert!(journal.idle());
        // Appended one after another: one sync each.
        let stats = journal.sync_stats();
        assert_eq!((stats.syncs, stats.appended), (50, 50));
        assert_eq!(stats.mean_group(), 1.0);
        assert!(stats.seconds > 0.0);
        assert!(stats.within.windows(2).all(|w| w[0] <= w[1]), "{stats:?}");
        assert!(stats.within.iter().all(|&n| n <= 50), "{stats:?}");
        journal.stop();
    }

    #[test]
    fn appends_that_arrive_together_share_a_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime_on_two_threads();
        let (_, journal) = open(dir.path(), None, SEGMENT_BYTES);
        let journal = Arc::new(journal);
        let mut seqs = rt.block_on(async {
            let tasks: Vec<_> = (0..64)
                .map(|n| {
                    let journal = journal.clone();
                    tokio::spawn(async move { journal.append(Payload::new(delivery(n), 0)).await })
                })
                .collect();
            let mut seqs = Vec::new();
            for t in tasks {
                seqs.push(t.await.expect("task").expect("append"));
            }
            seqs
        });
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=64).collect::<Vec<u64>>());
        let stats = journal.sync_stats();
        assert_eq!(stats.appended, 64);
        assert!((1..=64).contains(&stats.syncs), "{stats:?}");
        journal.stop();
    }

    #[test]
    fn sync_times_fall_in_their_buckets() {
        let counters = SyncCounters::default();
        counters.record(3, Duration::from_micros(100));
        let first = counters.snapshot();
        counters.record(5, Duration::from_micros(1_500));
        counters.record(1, Duration::from_secs(2));
        let all = counters.snapshot();
        assert_eq!((all.syncs, all.appended), (3, 9));
        assert_eq!(all.mean_group(), 3.0);
        assert!((all.seconds - 2.0016).abs() < 1e-9, "{all:?}");
        // Cumulative, as Prometheus counts: <= 0.25 ms, ..., <= 2 ms, ..., <= 1 s; the
        // 2 s sync only under +Inf (the count).
        assert_eq!(all.within, [1, 1, 1, 2, 2, 2, 2, 2, 2]);
        let later = all.since(&first);
        assert_eq!((later.syncs, later.appended), (2, 6));
        assert_eq!(later.within, [0, 0, 0, 1, 1, 1, 1, 1, 1]);
        assert!((later.mean_seconds() - 1.00075).abs() < 1e-9, "{later:?}");
        assert_eq!(SyncStats::default().mean_seconds(), 0.0);
        assert_eq!(SyncStats::default().mean_group(), 0.0);
    }

    #[test]
    fn one_process_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, journal) = open(dir.path(), None, SEGMENT_BYTES);
        assert!(matches!(
            Journal::open(dir.path()),
            Err(JournalError::Locked { .. })
        ));
        journal.stop();
        assert!(Journal::open(dir.path()).is_ok());
    }

    #[test]
    fn a_restart_replays_what_follows_the_stored_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let (first, journal) = open(dir.path(), None, 4096);
        append(&rt, &journal, 0..40);
        journal.stop();
        let (opened, journal) = open(dir.path(), Some(25), 4096);
        assert_eq!(opened.id, first.id, "the id is kept");
        assert_eq!(opened.last_seq, 40);
        assert!(opened.has_records);
        let got = feed(&journal, 15);
        let seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (26..=40).collect::<Vec<u64>>());
        // New appends continue the numbering.
        assert_eq!(append(&rt, &journal, 40..41), vec![41]);
        journal.stop();
    }

    #[test]
    fn segments_roll_over_and_are_deleted_once_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let (_, journal) = open(dir.path(), None, 8 * 1024);
        append(&rt, &journal, 0..100);
        let before = segments(dir.path()).expect("segments").len();
        assert!(before > 3, "{before} segments");
        let got = feed(&journal, 100);
        assert_eq!(got.len(), 100);
        assert_eq!(got.last().map(|r| r.seq), Some(100));
        // Read past but not stored: kept.
        assert_eq!(segments(dir.path()).expect("segments").len(), before);
        journal.committed(100);
        wait_until("stored segments were not deleted", || {
            segments(dir.path()).expect("segments").len() <= 1
        });
        journal.stop();
    }

    /// A delivery whose body is `len` bytes.
    fn sized(n: usize, len: usize) -> Delivery {
        let mut d = delivery(n);
        d.body = vec![b'a' + (n % 26) as u8; len];
        d
    }

    /// Waits up to 10 s for `count` records from a feeder's channel.
    fn take(rx: &mpsc::Receiver<Record>, count: usize) -> Vec<Record> {
        (0..count)
            .map_while(|_| rx.recv_timeout(Duration::from_secs(10)).ok())
            .collect()
    }

    fn files_ending(dir: &Path, suffix: &str) -> usize {
        std::fs::read_dir(dir)
            .expect("read_dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(suffix))
            })
            .count()
    }

    /// Polls `done` until it holds; fails with `what` after 10 s.
    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to 10 s for segment `first_seq`: the appender starts the next segment after
    /// it has answered the appends that filled the last one.
    fn wait_for_segment(dir: &Path, first_seq: u64) {
        wait_until(&format!("no segment {first_seq}"), || {
            dir.join(segment_name(first_seq)).exists()
        });
    }

    fn len_of(dir: &Path, first_seq: u64) -> u64 {
        std::fs::metadata(dir.join(segment_name(first_seq)))
            .expect("segment")
            .len()
    }

    #[test]
    fn stored_segments_are_written_over_by_later_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        // One group per segment: records 1, 2 and 3 in segments of their own.
        let (_, journal) = open(dir.path(), None, 1);
        rt.block_on(async {
            for n in 0..3 {
                journal
                    .append(Payload::new(sized(n, 2000), 0))
                    .await
                    .expect("append");
            }
        });
        wait_for_segment(dir.path(), 4);
        let rx = feeder(&journal);
        let seqs: Vec<u64> = take(&rx, 3).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        journal.committed(3);
        // Segments 1 and 2 are read past and stored: kept as spares (3 is being read).
        wait_until("no spares were kept", || {
            files_ending(dir.path(), ".spare") >= SPARE_SEGMENTS
        });
        assert!(!dir.path().join(segment_name(1)).exists());
        // Record 4 goes to segment 4, made when 3 was full; segment 5 is a spare, written
        // over by a shorter record; segment 6, the next, a spare not written yet.
        let small = rt.block_on(async {
            let mut seqs = Vec::new();
            for n in 3..5 {
                let payload = Payload::new(sized(n, 10), 0);
                seqs.push(journal.append(payload).await.expect("append"));
            }
            seqs
        });
        assert_eq!(small, vec![4, 5]);
        let got = take(&rx, 2);
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(got[1].delivery.body, sized(4, 10).body);
        let record_5 = (HEADER + Payload::new(sized(4, 10), 0).bytes.len()) as u64;
        assert!(
            len_of(dir.path(), 5) > record_5 + HEADER as u64,
            "segment 5 is a spare"
        );
        wait_for_segment(dir.path(), 6);
        assert!(len_of(dir.path(), 6) > 0, "segment 6 is a spare");
        journal.stop();

        // A restart: segment 6 holds only an older record, so the last record is 5 and
        // segment 6 is cut to nothing; segment 5's older bytes are never read.
        let (opened, journal) = open(dir.path(), Some(3), 1);
        assert_eq!(opened.last_seq, 5);
        assert_eq!(len_of(dir.path(), 6), 0);
        let rx = feeder(&journal);
        let got = take(&rx, 2);
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(got[0].delivery.body, sized(3, 10).body);
        let next = rt.block_on(journal.append(Payload::new(sized(5, 10), 0)));
        assert_eq!(next.expect("append"), 6);
        let got = take(&rx, 1);
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![6]);
        assert_eq!(got[0].delivery.body, sized(5, 10).body);
        journal.stop();
    }

    #[test]
    fn spares_left_by_a_stop_are_written_over_after_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let (_, journal) = open(dir.path(), None, 1);
        append(&rt, &journal, 0..4);
        wait_for_segment(dir.path(), 5);
        let rx = feeder(&journal);
        assert_eq!(take(&rx, 4).len(), 4);
        journal.committed(4);
        wait_until("no spares were kept", || {
            files_ending(dir.path(), ".spare") >= SPARE_SEGMENTS
        });
        journal.stop();
        // A spare more than the bridge keeps (as a bridge keeping more would leave): deleted.
        std::fs::write(
            dir.path().join(format!("{}.spare", segment_name(99))),
            b"old",
        )
        .expect("spare");
        let (opened, journal) = open(dir.path(), Some(4), 1);
        assert_eq!(opened.last_seq, 4);
        assert_eq!(files_ending(dir.path(), ".spare"), SPARE_SEGMENTS);
        // Record 5 goes to segment 5 (made when 4 was full); segments 6 and 7 are spares.
        append(&rt, &journal, 4..6);
        // The appender starts the next segment after it has answered.
        wait_until("spares were not used", || {
            files_ending(dir.path(), ".spare") == 0
        });
        assert!(len_of(dir.path(), 7) > 0, "segment 7 is a spare");
        let rx = feeder(&journal);
        let got = take(&rx, 2);
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(got[1].delivery.body, delivery(5).body);
        journal.stop();
    }

    #[test]
    fn records_come_back_whole_while_spares_are_written_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime_on_two_threads();
        // Small segments, stored as soon as they are read: the appender writes over spares
        // while the feeder reads the segment it is writing.
        let (_, journal) = open(dir.path(), None, 16 * 1024);
        let journal = Arc::new(journal);
        let (tx, rx) = mpsc::channel();
        let feeding = journal.clone();
        journal
            .feed(move |r: Record| {
                feeding.committed(r.seq);
                tx.send(r).is_ok()
            })
            .expect("feed");
        let count = 2000;
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|t| {
                    let journal = journal.clone();
                    tokio::spawn(async move {
                        for n in (t..count).step_by(8) {
                            let payload = Payload::new(delivery(n), n as i64);
                            journal.append(payload).await.expect("append");
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        });
        let got = take(&rx, count);
        assert_eq!(got.len(), count);
        for (i, record) in got.iter().enumerate() {
            assert_eq!(record.seq, i as u64 + 1);
            let n = usize::try_from(record.received_at).expect("n");
            assert_eq!(
                record.delivery.body,
                delivery(n).body,
                "record {}",
                record.seq
            );
        }
        let mut ns: Vec<i64> = got.iter().map(|r| r.received_at).collect();
        ns.sort_unstable();
        assert_eq!(ns, (0..count as i64).collect::<Vec<_>>());
        assert!(files_ending(dir.path(), ".spare") <= SPARE_SEGMENTS);
        journal.stop();
    }

    /// Writes `bytes` after the last record of the last segment in `dir` (over the zero
    /// bytes after it), as a crash in the middle of an append or a damaged disk leaves
    /// them; returns its path and where its records end.
    fn append_to_last_segment(dir: &Path, bytes: &[u8]) -> (PathBuf, u64) {
        let path = last_segment(dir);
        let len = std::fs::metadata(&path).expect("metadata").len();
        let mut f = OpenOptions::new().write(true).open(&path).expect("segment");
        assert_eq!(
            read_at(&path, len - HEADER as u64, HEADER),
            [0u8; HEADER],
            "zero bytes after the last group"
        );
        let whole = len - HEADER as u64;
        f.seek(SeekFrom::Start(whole)).expect("seek");
        f.write_all(bytes).expect("write");
        (path, whole)
    }

    fn read_at(path: &Path, at: u64, len: usize) -> Vec<u8> {
        let bytes = std::fs::read(path).expect("read");
        bytes[usize::try_from(at).expect("offset")..][..len].to_vec()
    }

    #[test]
    fn a_half_written_last_record_is_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let (_, journal) = open(dir.path(), None, SEGMENT_BYTES);
        append(&rt, &journal, 0..3);
        journal.stop();
        // A crash in the middle of the next append: a header and part of its payload.
        let (path, whole) = append_to_last_segment(
            dir.path(),
            &[200, 0, 0, 0, 1, 2, 3, 4, 4, 0, 0, 0, 0, 0, 0, 0, b'{'],
        );
        let (opened, journal) = open(dir.path(), Some(1), SEGMENT_BYTES);
        assert_eq!(opened.last_seq, 3);
        assert_eq!(std::fs::metadata(&path).expect("metadata").len(), whole);
        assert_eq!(append(&rt, &journal, 3..4), vec![4]);
        let seqs: Vec<u64> = feed(&journal, 3).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![2, 3, 4]);
        journal.stop();
    }

    #[test]
    fn a_last_record_whose_header_claims_gigabytes_is_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let (_, journal) = open(dir.path(), None, SEGMENT_BYTES);
        append(&rt, &journal, 0..2);
        journal.stop();
        // A header whose length field was damaged to nearly 4 GB, then a few bytes.
        let (path, whole) = append_to_last_segment(
            dir.path(),
            &[
                0xf0, 0xff, 0xff, 0xff, 1, 2, 3, 4, 3, 0, 0, 0, 0, 0, 0, 0, b'{', b'}',
            ],
        );
        let (opened, journal) = open(dir.path(), Some(0), SEGMENT_BYTES);
        assert_eq!(opened.last_seq, 2);
        assert_eq!(std::fs::metadata(&path).expect("metadata").len(), whole);
        let seqs: Vec<u64> = feed(&journal, 2).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
        journal.stop();
    }

    #[test]
    fn a_damaged_record_is_not_delivered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = runtime();
        let (_, journal) = open(dir.path(), None, SEGMENT_BYTES);
        append(&rt, &journal, 0..2);
        journal.stop();
        let path = last_segment(dir.path());
        let mut bytes = std::fs::read(&path).expect("read");
        // The last byte of the last record, before the zero bytes after it.
        let last = bytes.len() - HEADER - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        // The damaged last record is cut off at the next open, so it is never fed.
        let (opened, journal) = open(dir.path(), Some(0), SEGMENT_BYTES);
        assert_eq!(opened.last_seq, 1);
        let seqs: Vec<u64> = feed(&journal, 1).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1]);
        journal.stop();
    }

    #[test]
    fn payloads_that_are_not_deliveries_are_refused() {
        assert!(decode(Vec::new()).is_none());
        assert!(decode(vec![1, 2, 3]).is_none());
        let p = Payload::new(delivery(3), 9);
        let mut bytes = p.bytes;
        let (at, d) = decode(bytes.clone()).expect("decodes");
        assert_eq!((at, d.body), (9, delivery(3).body));
        let n = bytes.len();
        bytes[n - 4] = 0xff;
        assert!(decode(bytes).is_none());
    }
}
