//! `revos.log_event(jsonb)`: the one write API of the event ledger for applications, in Rust.
//!
//! sql/ledger.sql documents what it accepts and returns; this is the same function, made cheap on
//! its hot path (a flat object, the most common shape from PostgREST and n8n):
//!
//! ```text
//! NULL or not an object          -> revos.log_event_reject(src) raises the precise 22023 error
//! has meta / subject / context   -> src = revos.log_event_flatten(event)  (the envelope; PL/pgSQL)
//! the flat object, read once     -> every field's JSON type, the lengths, no unknown key, the
//!                                   event_type's characters and reserved names, the payload's size;
//!                                   anything wrong -> revos.log_event_reject(src)
//! tenant                         -> 42501 when it is not the transaction's tenant
//! idempotency_key                -> pg_advisory_xact_lock(1919252079, hashtext(key)), then the first
//!                                   event with that key, if any, is the answer ("duplicate")
//! occurred_at                    -> revos.log_event_time(text) (its ISO 8601 check; PL/pgSQL)
//! one INSERT (prepared once per backend) -> {"id", "status": "recorded", "event_id"}
//! ```
//!
//! As PL/pgSQL (kept as the reference in tests/log_event_reference.sql, which tests/ledger_sql.sh
//! compares with this one input by input) every call paid the function's `SET search_path` (a
//! GUC nest level per call), a jsonpath, and a dozen jsonb operators, each a new lookup of the key.
//! Here the object is walked once. The function is SECURITY DEFINER without `SET search_path`:
//! it resolves no name except in its own statements, which name every relation, function and
//! operator with its schema, and the PL/pgSQL functions it calls pin their own search_path.

use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{Internal, PgOid};
use std::cell::RefCell;
use std::ffi::CStr;

use pgrx::fcinfo::direct_function_call_as_datum;

const INSERT_SQL: &str = "INSERT INTO revos.events (id, tenant_id, event_type, subject_type, \
     subject_id, actor_id, payload, idempotency_key, occurred_at, event_id) \
     VALUES (NULL, $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
const SEEN_SQL: &str = "SELECT e.id, e.event_id, e.tenant_id FROM revos.events e \
     WHERE e.idempotency_key OPERATOR(pg_catalog.=) $1";

thread_local! {
    static PLANS: RefCell<Option<[OwnedPreparedStatement; 2]>> = const { RefCell::new(None) };
}

// Declared in sql/ledger.sql (`LANGUAGE c … 'log_event_wrapper'`).
crate::v1_c_function!(pg_finfo_log_event_wrapper, log_event_wrapper, call);

/// The flat form's fields, in this order.
const KEYS: [&[u8]; 8] = [
    b"event_type",
    b"tenant_id",
    b"subject_type",
    b"subject_id",
    b"actor_id",
    b"payload",
    b"idempotency_key",
    b"occurred_at",
];
const EVENT_TYPE: usize = 0;
const TENANT: usize = 1;
const SUBJECT_TYPE: usize = 2;
const SUBJECT_ID: usize = 3;
const ACTOR: usize = 4;
const PAYLOAD: usize = 5;
const KEY: usize = 6;
const OCCURRED: usize = 7;
/// The most characters each field may have (event_type: ASCII, checked separately).
const MAX_CHARS: [usize; 8] = [200, 200, 200, 1000, 1000, 0, 255, usize::MAX];
/// revos's own event types (the migration ledger's, the drift capture's, the deferred steps'):
/// an application cannot forge them.
const RESERVED: [&[u8]; 8] = [
    b"schema_migration_applied",
    b"schema_migration_failed",
    b"schema_drift_detected",
    b"schema_deferred_step_pending",
    b"schema_deferred_step_running",
    b"schema_deferred_step_done",
    b"schema_deferred_step_failed",
    b"schema_deferred_step_interrupted",
];
const MAX_PAYLOAD_TEXT: usize = 1_048_576;

/// One object, read once: its known fields, and whether it has any other key (or an envelope's).
struct Read {
    fields: [Option<pg_sys::JsonbValue>; 8],
    unknown: bool,
    envelope: bool,
}

/// A field's value as SQL's `->>` gives it: None for absent and JSON null; the string's bytes;
/// a number's text. Other types never get here (`acceptable` refused them).
enum Text {
    Absent,
    Str(*const u8, usize),
    Owned(Vec<u8>),
}

impl Text {
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Text::Absent => None,
            Text::Str(p, n) => Some(unsafe { std::slice::from_raw_parts(*p, *n) }),
            Text::Owned(v) => Some(v),
        }
    }
    /// `nullif(src ->> key, '')`
    fn non_empty(&self) -> Option<&[u8]> {
        self.bytes().filter(|b| !b.is_empty())
    }
}

enum Outcome {
    Recorded(i64, pgrx::Uuid),
    Duplicate(i64, pgrx::Uuid),
}

unsafe fn call(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let arg0 = *(*fcinfo).args.as_ptr();
    let event = (!arg0.isnull).then(|| arg0.value);
    let current = current_tenant();
    let outcome = Spi::connect_mut(|c| log_event(c, event, current.as_deref()))
        .unwrap_or_else(|e| pgrx::error!("revos.log_event: {e}"));
    let (status, id, uuid) = match outcome {
        Outcome::Recorded(id, u) => ("recorded", id, u),
        Outcome::Duplicate(id, u) => ("duplicate", id, u),
    };
    answer(id, status, &hyphenated(&uuid))
}

/// `{"id": <id>, "status": <status>, "event_id": <uuid>}` as jsonb, built as a value (parsing its
/// text with jsonb_in cost about 2 % of a call; bench/FINDINGS.md, P4).
unsafe fn answer(id: i64, status: &str, event_id: &str) -> pg_sys::Datum {
    let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
    pg_sys::pushJsonbValue(
        &mut state,
        pg_sys::JsonbIteratorToken::WJB_BEGIN_OBJECT,
        std::ptr::null_mut(),
    );
    let number =
        direct_function_call_as_datum(pg_sys::int8_numeric, &[Some(pg_sys::Datum::from(id))])
            .expect("int8_numeric returns a value");
    let mut id_value: pg_sys::JsonbValue = std::mem::zeroed();
    id_value.type_ = pg_sys::jbvType::jbvNumeric;
    id_value.val.numeric = number.cast_mut_ptr();
    for (key, mut value) in [
        ("id", id_value),
        ("status", jsonb_string(status)),
        ("event_id", jsonb_string(event_id)),
    ] {
        let mut k = jsonb_string(key);
        pg_sys::pushJsonbValue(&mut state, pg_sys::JsonbIteratorToken::WJB_KEY, &mut k);
        pg_sys::pushJsonbValue(
            &mut state,
            pg_sys::JsonbIteratorToken::WJB_VALUE,
            &mut value,
        );
    }
    let done = pg_sys::pushJsonbValue(
        &mut state,
        pg_sys::JsonbIteratorToken::WJB_END_OBJECT,
        std::ptr::null_mut(),
    );
    pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(done))
}

/// A jsonb string value of `s` (copied into palloc'd memory).
unsafe fn jsonb_string(s: &str) -> pg_sys::JsonbValue {
    let p = pg_sys::palloc(s.len().max(1)).cast::<u8>();
    std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
    let mut v: pg_sys::JsonbValue = std::mem::zeroed();
    v.type_ = pg_sys::jbvType::jbvString;
    v.val.string.len = s.len() as i32;
    v.val.string.val = p.cast();
    v
}

unsafe fn log_event(
    c: &mut SpiClient<'_>,
    event: Option<pg_sys::Datum>,
    current: Option<&[u8]>,
) -> Result<Outcome, pgrx::spi::Error> {
    let (src, read) = read_event(c, event);
    let f = &read.fields;
    // `src ->> key` of every field, once (a number's text is made here, not at each use)
    let texts: [Text; 8] = std::array::from_fn(|i| field_text(f[i]));
    check_sizes(c, src, &texts, f[PAYLOAD]);
    check_tenant(texts[TENANT].non_empty(), current);
    let key_datum = texts[KEY].non_empty().map(to_text);
    if let Some(k) = key_datum {
        if let Some(seen) = seen_key(c, k, current)? {
            return Ok(seen);
        }
    }
    insert(c, &texts, f[PAYLOAD], key_datum, current)
}

/// The event as a flat object (an envelope flattened), read once: its source and its fields;
/// anything not an acceptable event is rejected.
unsafe fn read_event(
    c: &mut SpiClient<'_>,
    event: Option<pg_sys::Datum>,
) -> (*mut pg_sys::Jsonb, Read) {
    let Some(event) = event else {
        reject(c, None);
    };
    let mut src = pg_sys::pg_detoast_datum(event.cast_mut_ptr()) as *mut pg_sys::Jsonb;
    if (*src).root.header & pg_sys::JB_FOBJECT == 0 {
        reject(c, Some(src));
    }
    let mut read = read_object(src);
    if read.envelope {
        src = flatten(c, src);
        read = read_object(src);
    }
    if read.unknown || !acceptable(&read.fields) {
        reject(c, Some(src));
    }
    (src, read)
}

/// Rejects the event (`src`) when a field has more characters than it may, or its payload's text
/// is too long.
unsafe fn check_sizes(
    c: &mut SpiClient<'_>,
    src: *mut pg_sys::Jsonb,
    texts: &[Text; 8],
    payload: Option<pg_sys::JsonbValue>,
) {
    for i in [TENANT, SUBJECT_TYPE, SUBJECT_ID, ACTOR, KEY] {
        if let Some(b) = texts[i].bytes() {
            if chars(b) > MAX_CHARS[i] {
                reject(c, Some(src));
            }
        }
    }
    if let Some(p) = payload.filter(|v| v.type_ == pg_sys::jbvType::jbvBinary) {
        let out = pg_sys::JsonbToCString(std::ptr::null_mut(), p.val.binary.data, p.val.binary.len);
        if CStr::from_ptr(out).to_bytes().len() > MAX_PAYLOAD_TEXT {
            reject(c, Some(src));
        }
        pg_sys::pfree(out.cast());
    }
}

/// A transaction with a tenant (`current`) writes only that tenant's chain: no event for someone
/// else (`tenant`, the event's).
fn check_tenant(tenant: Option<&[u8]>, current: Option<&[u8]>) {
    if let (Some(cur), Some(t)) = (current, tenant) {
        if t != cur {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                "revos.log_event: tenant_id is not the current tenant of this transaction"
            );
        }
    }
}

/// The first event with idempotency key `k` ("duplicate"), if any, once the callers with the same
/// key before this one have committed or rolled back.
unsafe fn seen_key(
    c: &mut SpiClient<'_>,
    k: pg_sys::Datum,
    current: Option<&[u8]>,
) -> Result<Option<Outcome>, pgrx::spi::Error> {
    // Same-key callers queue here; the winner's row is visible once it commits (the SELECT
    // below is a new statement: a fresh snapshot under READ COMMITTED).
    let h = pg_sys::OidFunctionCall1Coll(
        pg_sys::Oid::from(pg_sys::F_HASHTEXT),
        pg_sys::DEFAULT_COLLATION_OID,
        k,
    );
    direct_function_call_as_datum(
        pg_sys::pg_advisory_xact_lock_int4,
        &[Some(pg_sys::Datum::from(1_919_252_079i32)), Some(h)],
    );
    let rows = run(c, 1, &[raw(Some(k), pg_sys::TEXTOID)])?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let id: i64 = row.get(1)?.expect("events.id is NOT NULL");
    let uuid: pgrx::Uuid = row.get(2)?.expect("events.event_id is NOT NULL");
    let owner: Option<String> = row.get(3)?;
    // never hand one tenant another tenant's event
    if let Some(cur) = current {
        if owner.as_deref().map(str::as_bytes) != Some(cur) {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                "revos.log_event: idempotency_key is already used outside this tenant"
            );
        }
    }
    Ok(Some(Outcome::Duplicate(id, uuid)))
}

/// The INSERT of the event (its fields' `texts`, its `payload`, its key `key_datum`; the tenant
/// is the transaction's, `current`, when the event names none).
unsafe fn insert(
    c: &mut SpiClient<'_>,
    texts: &[Text; 8],
    payload: Option<pg_sys::JsonbValue>,
    key_datum: Option<pg_sys::Datum>,
    current: Option<&[u8]>,
) -> Result<Outcome, pgrx::spi::Error> {
    let text = |i: usize| &texts[i];
    let occurred = match text(OCCURRED).non_empty() {
        None => None,
        Some(b) => c
            .update(
                "SELECT revos.log_event_time($1)",
                None,
                &[raw(Some(to_text(b)), pg_sys::TEXTOID)],
            )?
            .first()
            .get::<TimestampWithTimeZone>(1)?
            .map(|ts| pg_sys::Datum::from(pg_sys::TimestampTz::from(ts))),
    };
    let payload = match payload.filter(|v| v.type_ == pg_sys::jbvType::jbvBinary) {
        Some(mut v) => pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(&mut v)),
        None => empty_object(),
    };
    let tenant_datum = match text(TENANT).non_empty() {
        Some(t) => Some(to_text(t)),
        None => current.map(to_text),
    };
    let uuid = pgrx::Uuid::from_bytes(time_ordered_uuid());
    let fields = [
        tenant_datum,
        text(EVENT_TYPE).bytes().map(to_text),
        text(SUBJECT_TYPE).non_empty().map(to_text),
        text(SUBJECT_ID).non_empty().map(to_text),
        text(ACTOR).non_empty().map(to_text),
        Some(payload),
        key_datum,
        occurred,
    ];
    // without a statement where that is exactly the same (src/ledger/direct_insert.rs)
    let uuid_datum = {
        let p = pg_sys::palloc(16).cast::<u8>();
        std::ptr::copy_nonoverlapping(uuid.as_bytes().as_ptr(), p, 16);
        pg_sys::Datum::from(p)
    };
    let [t, e, st, si, a, p, k, o] = fields;
    let row = [
        None,
        Some(uuid_datum),
        t,
        e,
        st,
        si,
        a,
        p,
        k,
        o,
        None,
        None,
        None,
    ];
    if let Some(id) = crate::ledger::direct_insert::insert(&row) {
        return Ok(Outcome::Recorded(id, uuid));
    }
    let types = [pg_sys::TEXTOID; 5];
    let mut args: Vec<DatumWithOid<'_>> = fields[..5]
        .iter()
        .zip(types)
        .map(|(d, oid)| raw(*d, oid))
        .collect();
    args.push(raw(fields[5], pg_sys::JSONBOID));
    args.push(raw(fields[6], pg_sys::TEXTOID));
    args.push(raw(fields[7], pg_sys::TIMESTAMPTZOID));
    args.push(DatumWithOid::from(uuid));
    let row = run(c, 0, &args)?.first();
    let id: i64 = row.get(1)?.expect("events.id is NOT NULL");
    Ok(Outcome::Recorded(id, uuid))
}

/// A version 7 UUID (RFC 9562): the Unix time in milliseconds, then 74 random bits (PostgreSQL's
/// `pg_strong_random`, as `gen_random_uuid()`). Ids that grow with time go to the right end of
/// `events_event_id_key` (the primary key's identity does too) instead of a random leaf page
/// each (bench/FINDINGS.md, 2026-12-05: log_event against the bare insert, A/B).
fn time_ordered_uuid() -> [u8; 16] {
    let mut b = [0u8; 16];
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    random_bytes(&mut b[6..]);
    b[6] = (b[6] & 0x0f) | 0x70; // version 7
    b[8] = (b[8] & 0x3f) | 0x80; // variant RFC 9562
    b
}

/// Bytes from `pg_strong_random`, drawn 4,000 at a time into a buffer of this backend's and used
/// once each: one call per event cost about 3 % of a log_event (most of it per call, not per
/// byte; bench/FINDINGS.md, P4). The buffer lives in the backend process, which PostgreSQL forks
/// before it is ever filled, so no two backends share bytes; a used byte is overwritten with zero.
fn random_bytes(out: &mut [u8]) {
    const SIZE: usize = 4000;
    thread_local! {
        static POOL: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.0.len() != SIZE || pool.1 + out.len() > SIZE {
            pool.0.resize(SIZE, 0);
            if !unsafe { pg_sys::pg_strong_random(pool.0.as_mut_ptr().cast(), SIZE) } {
                pgrx::error!("revos.log_event: could not generate random values");
            }
            pool.1 = 0;
        }
        let at = pool.1;
        out.copy_from_slice(&pool.0[at..at + out.len()]);
        pool.0[at..at + out.len()].fill(0);
        pool.1 = at + out.len();
    });
}

/// Runs one of the two statements of the hot path (0: INSERT, 1: the key's first event),
/// prepared once per backend.
fn run<'c>(
    c: &mut SpiClient<'c>,
    which: usize,
    args: &[DatumWithOid<'_>],
) -> Result<pgrx::spi::SpiTupleTable<'c>, pgrx::spi::Error> {
    PLANS.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            let t = PgOid::from(pg_sys::TEXTOID);
            let insert_types = [
                t,
                t,
                t,
                t,
                t,
                PgOid::from(pg_sys::JSONBOID),
                t,
                PgOid::from(pg_sys::TIMESTAMPTZOID),
                PgOid::from(pg_sys::UUIDOID),
            ];
            *slot = Some([
                c.prepare_mut(INSERT_SQL, &insert_types)?.keep(),
                c.prepare_mut(SEEN_SQL, &[t])?.keep(),
            ]);
        }
        c.update(&slot.as_ref().expect("prepared above")[which], None, args)
    })
}

/// Walks the object's top level once.
unsafe fn read_object(jb: *mut pg_sys::Jsonb) -> Read {
    let mut read = Read {
        fields: [None; 8],
        unknown: false,
        envelope: false,
    };
    let mut it = pg_sys::JsonbIteratorInit(&mut (*jb).root);
    let mut v: pg_sys::JsonbValue = std::mem::zeroed();
    let mut at: Option<usize> = None;
    loop {
        match pg_sys::JsonbIteratorNext(&mut it, &mut v, true) {
            pg_sys::JsonbIteratorToken::WJB_DONE => break,
            pg_sys::JsonbIteratorToken::WJB_KEY => {
                let k = std::slice::from_raw_parts(
                    v.val.string.val.cast::<u8>(),
                    v.val.string.len as usize,
                );
                at = KEYS.iter().position(|known| *known == k);
                if at.is_none() {
                    read.unknown = true;
                    if matches!(k, b"meta" | b"subject" | b"context") {
                        read.envelope = true;
                    }
                }
            }
            pg_sys::JsonbIteratorToken::WJB_VALUE => {
                if let Some(i) = at.take() {
                    read.fields[i] = Some(v);
                }
            }
            _ => {}
        }
    }
    read
}

/// What the PL/pgSQL function's jsonpath accepted: event_type a string of 1 to 200 characters
/// of [A-Za-z0-9_.:-], not reserved; subject_id a string, number or null; payload an object or
/// null; every other field a string or null.
unsafe fn acceptable(f: &[Option<pg_sys::JsonbValue>; 8]) -> bool {
    use pg_sys::jbvType::{
        jbvBinary as BINARY, jbvNull as NULL, jbvNumeric as NUMERIC, jbvString as STRING,
    };
    let Some(et) = f[EVENT_TYPE].filter(|v| v.type_ == STRING) else {
        return false;
    };
    let et = std::slice::from_raw_parts(et.val.string.val.cast::<u8>(), et.val.string.len as usize);
    if et.is_empty()
        || et.len() > 200
        || !et
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(b))
        || RESERVED.contains(&et)
    {
        return false;
    }
    f.iter().enumerate().all(|(i, v)| match v {
        None => true,
        Some(v) => match (i, v.type_) {
            (_, NULL) => true,
            (EVENT_TYPE, _) => true,
            (PAYLOAD, BINARY) => (*v.val.binary.data).header & pg_sys::JB_FOBJECT != 0,
            (PAYLOAD, _) => false,
            (SUBJECT_ID, STRING | NUMERIC) => true,
            (_, STRING) => true,
            _ => false,
        },
    })
}

/// `src ->> key` of one field (strings and numbers only: `acceptable` refused the rest).
unsafe fn field_text(v: Option<pg_sys::JsonbValue>) -> Text {
    match v {
        Some(v) if v.type_ == pg_sys::jbvType::jbvString => {
            Text::Str(v.val.string.val.cast::<u8>(), v.val.string.len as usize)
        }
        Some(v) if v.type_ == pg_sys::jbvType::jbvNumeric => {
            let out = direct_function_call_as_datum(
                pg_sys::numeric_out,
                &[Some(pg_sys::Datum::from(v.val.numeric))],
            )
            .expect("numeric_out returns text");
            Text::Owned(
                CStr::from_ptr(out.cast_mut_ptr::<std::ffi::c_char>())
                    .to_bytes()
                    .to_vec(),
            )
        }
        _ => Text::Absent,
    }
}

/// Characters (not bytes) in the database's encoding, as SQL's length().
fn chars(b: &[u8]) -> usize {
    unsafe { pg_sys::pg_mbstrlen_with_len(b.as_ptr().cast(), b.len() as i32) as usize }
}

fn to_text(b: &[u8]) -> pg_sys::Datum {
    unsafe {
        pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            b.as_ptr().cast(),
            b.len() as i32,
        ))
    }
}

fn raw(d: Option<pg_sys::Datum>, oid: pg_sys::Oid) -> DatumWithOid<'static> {
    match d {
        Some(d) => unsafe { DatumWithOid::new(Internal::from(Some(d)), oid) },
        None => DatumWithOid::null_oid(oid),
    }
}

fn empty_object() -> pg_sys::Datum {
    jsonb_in(c"{}")
}

fn jsonb_in(text: &CStr) -> pg_sys::Datum {
    unsafe {
        direct_function_call_as_datum(
            pg_sys::jsonb_in,
            &[Some(pg_sys::Datum::from(text.as_ptr()))],
        )
    }
    .expect("jsonb_in returns a value")
}

// revos.current_tenant_id() (declared in src/api.rs beside revos.jwt_claims_tenant).
crate::v1_c_function!(
    pg_finfo_current_tenant_id_wrapper,
    current_tenant_id_wrapper,
    current_tenant_id
);

unsafe fn current_tenant_id(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    match current_tenant() {
        Some(t) => to_text(&t),
        None => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0usize)
        }
    }
}

/// revos.current_tenant_id(): app.current_tenant_id, else the tenant of request.jwt.claims
/// (tenant_id, then app_metadata.tenant_id); empty strings count as unset.
pub(crate) unsafe fn current_tenant() -> Option<Vec<u8>> {
    let guc = |name: &CStr| {
        let v = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!v.is_null())
            .then(|| CStr::from_ptr(v).to_bytes().to_vec())
            .filter(|v| !v.is_empty())
    };
    guc(c"app.current_tenant_id").or_else(|| {
        let claims = guc(c"request.jwt.claims")?;
        crate::schema::tenancy::claims_tenant(std::str::from_utf8(&claims).ok()?)
            .map(String::into_bytes)
    })
}

/// The envelope's flat form (revos.log_event_flatten, PL/pgSQL: it raises on a bad envelope).
unsafe fn flatten(c: &mut SpiClient<'_>, event: *mut pg_sys::Jsonb) -> *mut pg_sys::Jsonb {
    let arg = raw(Some(pg_sys::Datum::from(event)), pg_sys::JSONBOID);
    let flat = c
        .update("SELECT revos.log_event_flatten($1)", None, &[arg])
        .and_then(|t| t.first().get_datum_by_ordinal(1))
        .unwrap_or_else(|e| pgrx::error!("revos.log_event: {e}"));
    match flat {
        Some(d) => pg_sys::pg_detoast_datum_copy(d.cast_mut_ptr()) as *mut pg_sys::Jsonb,
        _ => pgrx::error!("revos.log_event: the envelope has no flat form"),
    }
}

/// Says precisely what is wrong (revos.log_event_reject always raises 22023).
unsafe fn reject(c: &mut SpiClient<'_>, src: Option<*mut pg_sys::Jsonb>) -> ! {
    let arg = raw(src.map(pg_sys::Datum::from), pg_sys::JSONBOID);
    if let Err(e) = c.update("SELECT revos.log_event_reject($1)", None, &[arg]) {
        pgrx::error!("revos.log_event: {e}");
    }
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        "revos.log_event: invalid event"
    );
}

fn hyphenated(u: &pgrx::Uuid) -> String {
    let b = u.as_bytes();
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&crate::ident::hex(&[*x]));
    }
    s
}
